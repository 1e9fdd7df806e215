// One message per payment (issue 14, part 1): when the platform's gateway delivers the payment
// confirmation with the invitation (ChatGateway.confirmsWithInvite), the grant queues no separate notice;
// the invite job carries it. It is still delivered, exactly once, when the invite needs no message, when
// the job is retried after the message went out, and when the invite job dies. Gateways without the
// capability (playground, WeChat) keep their separate notice.
import { describe, expect } from 'vitest';
import { createJobHandlers } from '../../src/app/job-handlers.ts';
import type { InvitePayload } from '../../src/app/job-kinds.ts';
import type { Job } from '../../src/app/model.ts';
import type { InviteContext, InviteResult } from '../../src/app/ports.ts';
import { ProviderRejectedError } from '../../src/domain/errors.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { RecordingGateway } from '../fakes/recording-gateway.ts';

/** A playground that, like Telegram, sends the confirmation in the invitation message when one is needed. */
class BundlingGateway extends RecordingGateway {
  readonly confirmsWithInvite = true;
  result: InviteResult = 'invited';
  override async invite(chatId: string, userId: string, ctx: InviteContext): Promise<InviteResult> {
    await super.invite(chatId, userId, ctx);
    return this.result;
  }
}

describe.each(DIALECTS)('payment confirmation with the invite (%s)', (dialect) => {
  const it = serviceTest(dialect);
  const run = { signal: new AbortController().signal };

  const paid = async (deps: Parameters<typeof seedOrderDirect>[0], userId = 'ann') => {
    const s = await seedOrderDirect(deps, { userId });
    expect((await payDevDirect(deps, s.orderId)).outcome).toBe('granted');
    const [invite] = await deps.store.jobs.list({ kind: 'invite' });
    const notices = (await deps.store.jobs.list({ kind: 'notify' })).filter((j) => j.dedupeKey === `paid:${s.orderId}`);
    return { ...s, invite: invite!, notices };
  };
  const textsTo = (g: RecordingGateway, userId: string) => g.of('text').filter((c) => c.userId === userId);

  it('a bundling gateway: no notice of its own is queued, the invite carries it once, a retry and a dead letter do not repeat it', async ({ t, deps }) => {
    const g = new BundlingGateway('playground');
    deps.gateways.set('playground', g);
    const { orderId, invite, notices } = await paid(deps);
    expect(notices).toEqual([]);
    expect((invite.payload as InvitePayload).confirmation).toMatchObject({ orderId, message: { key: 'payment.confirmed' } });

    await t.service.worker.drain();
    expect(g.of('invite')).toHaveLength(1);
    expect(g.of('invite')[0]!.ctx.confirmation).toMatchObject({ key: 'payment.confirmed', params: { plan: 'Monthly', groups: 'Group room-1' } });
    expect(textsTo(g, 'ann')).toEqual([]);
    expect(await deps.store.audit.list({ subjectType: 'order', subjectId: orderId })).toContainEqual(
      expect.objectContaining({ action: 'order.confirmed_with_invite' }),
    );

    // The same job again (its first run's completion lost): the invitation goes again, the confirmation does not.
    const { handlers, onDead } = createJobHandlers(deps);
    const again = await handlers.invite!(invite, run);
    expect(g.of('invite')).toHaveLength(2);
    expect(g.of('invite')[1]!.ctx.confirmation).toBeUndefined();
    expect(again?.jobs ?? []).toEqual([]);
    // Given up on later: the owner is told, the member is not confirmed a second time.
    expect((await onDead(invite, 'boom')).map((j) => j.kind)).toEqual(['alert_owners']);
  });

  it('without the capability (playground, WeChat) the notice is its own job, as before', async ({ t, deps }) => {
    const { invite, notices } = await paid(deps);
    expect(notices).toHaveLength(1);
    expect((invite.payload as InvitePayload).confirmation).toBeUndefined();
    await t.service.worker.drain();
    expect(t.gateway.of('invite')[0]!.ctx.confirmation).toBeUndefined();
    expect(textsTo(t.gateway, 'ann')).toHaveLength(1);
  });

  it('the invite needs no message (already in, request approved): the confirmation comes on its own, once however often the job runs', async ({ t, deps }) => {
    const g = new BundlingGateway('playground');
    g.result = 'added';
    deps.gateways.set('playground', g);
    const { invite } = await paid(deps);
    await t.service.worker.drain();
    expect(textsTo(g, 'ann')).toHaveLength(1);
    const effects = await createJobHandlers(deps).handlers.invite!(invite, run);
    await deps.store.jobs.enqueue(effects?.jobs ?? [], t.clock.now());
    await t.service.worker.drain();
    expect(textsTo(g, 'ann')).toHaveLength(1);
  });

  it('the invite job dies: the dead-letter path sends the confirmation', async ({ t, deps }) => {
    const g = new BundlingGateway('playground');
    g.failWhen(
      (c) => c.op === 'invite',
      () => new ProviderRejectedError('playground', 'the bot may not invite anyone here'),
    );
    deps.gateways.set('playground', g);
    const { orderId } = await paid(deps);
    await t.service.worker.drain();
    expect(await deps.store.jobs.list({ kind: 'invite', status: 'dead' })).toHaveLength(1);
    expect(textsTo(g, 'ann')).toHaveLength(1);
    expect((await deps.store.jobs.list({ kind: 'notify' })).some((j: Job) => j.dedupeKey === `paid:${orderId}` && j.status === 'done')).toBe(true);
  });
});
