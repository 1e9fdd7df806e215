// Owner alerts go to the owners whose scope covers the group: operators, owners whose claim named it,
// the owner who bound it. Never to an owner of unrelated groups, and an alert about no group in
// particular goes to operators only. (Before: only groups.owner_account_id was told, so a group an admin
// registered alerted nobody, and a dead refund job alerted the owners of every group.)
import { describe, expect } from 'vitest';
import { addGroup } from '../../src/app/catalog-admin.ts';
import { alertOwnersJob } from '../../src/app/job-kinds.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { confirmRefund } from '../../src/app/refunds.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { RecordingGateway } from '../fakes/recording-gateway.ts';

describe.each(DIALECTS)('owner alerts follow owner scopes (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('a partial refund on an admin-registered group tells its scoped owner and the operator, not an owner of another group; a group-less alert tells operators only', async ({
    t,
    deps,
  }) => {
    // The operator runs things from Telegram (a playground account's powers stop at playground groups).
    const telegram = new RecordingGateway('telegram');
    deps.gateways.set('telegram', telegram);
    const bot = createConversation(deps);
    const s = await seedOrderDirect(deps, { userId: 'ann', chatId: 'room-1', price: '9.90', currency: 'CNY' });
    await payDevDirect(deps, s.orderId);
    await t.service.worker.drain();
    const admin = { kind: 'admin', via: 'cli' } as const;
    await bot.handle({ platform: 'playground', userId: 'scoped', text: (await createClaimCode(deps, admin, [s.groupId])).code });
    await bot.handle({ platform: 'telegram', userId: 'operator', text: (await createClaimCode(deps, admin)).code });
    const other = await addGroup(deps, { platform: 'playground', chatId: 'room-other', title: 'Other', actor: admin });
    await bot.handle({ platform: 'playground', userId: 'other-owner', text: (await createClaimCode(deps, admin, [other.id])).code });
    await t.service.worker.drain();

    const mark = () => [t.gateway.calls.length, telegram.calls.length] as const;
    const told = ([pg, tg]: readonly [number, number]) =>
      [
        ...new Set([...t.gateway.calls.slice(pg), ...telegram.calls.slice(tg)].filter((c) => c.op === 'text').map((c) => (c as { userId: string }).userId)),
      ].sort();
    const order = (await deps.store.orders.get(s.orderId))!;
    const before = mark();
    const outcome = await deps.store.transaction((tx) =>
      confirmRefund(tx, order, { providerRefundId: 'r1', amountMinor: 1, currency: 'CNY', refundedAt: t.clock.now() }, 'provider:dev', t.clock.now()),
    );
    expect(outcome).toBe('partial');
    await t.service.worker.drain();
    expect(told(before)).toEqual(['operator', 'scoped']);

    const b2 = mark();
    await deps.store.jobs.enqueue(
      [alertOwnersJob({ groupIds: [], message: { key: 'owner.job_dead', params: { kind: 'refund', attempts: 12, error: 'x' } } }, 'group-less')],
      t.clock.now(),
    );
    await t.service.worker.drain();
    expect(told(b2)).toEqual(['operator']);
  });
});
