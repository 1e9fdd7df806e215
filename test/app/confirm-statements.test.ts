// Issue 14 part 4: what one paid notification costs the database. A fresh order's confirm is the hot path
// of a launch day; every statement on it is a round trip (PostgreSQL) or a turn on the one connection
// (SQLite). Counted at the driver (Kysely's query log), BEGIN/COMMIT left out.
import { describe, expect } from 'vitest';
import { createCheckout } from '../../src/app/checkout.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import type { ProviderEvent } from '../../src/app/ports.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import { openDatabase } from '../../src/store/database.ts';
import { createStore } from '../../src/store/kysely-store.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

/** The budget: one conditional update returning the order, one read of the plan with its groups, one ledger insert,
 * one membership insert, one period insert, one audit row, one job insert batch, one event row. */
const CONFIRM_BUDGET = 8;

describe.each(DIALECTS)('statements per confirm (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it(`a fresh order's paid notification costs at most ${CONFIRM_BUDGET} statements; its duplicate at most 3`, async ({ t }) => {
    const deps = t.service.deps;
    const now = t.clock.now();
    const group = await deps.store.groups.insert(
      { platform: 'playground', platformChatId: 'g', title: 'G', ownerAccountId: null, graceMs: HOUR_MS, reminderOffsetsMs: [] },
      now,
    );
    const plan = await deps.store.plans.insert({ name: 'Monthly', priceMinor: 990, currency: 'CNY', durationDays: 30, groupIds: [group.id] }, now);
    const { order } = await createCheckout(deps, { platform: 'playground', userId: 'u1', planId: plan.id, provider: 'dev' });

    // The same database through a second handle whose every statement is counted.
    const statements: string[] = [];
    let counting = false;
    const counted = await openDatabase(t.db.url, {
      schema: t.db.schema,
      onQuery: (s) => counting && !/^\s*(begin|commit|rollback)\b/i.test(s) && statements.push(s),
    });
    try {
      const countingDeps: AppDeps = { ...deps, store: createStore(counted) };
      const dev = deps.providers.get('dev')!;
      const event: ProviderEvent = {
        type: 'paid',
        eventId: 'evt-1',
        outTradeNo: order.outTradeNo,
        providerTxnId: 'txn-1',
        amountMinor: order.amountMinor,
        currency: order.currency,
        merchantId: dev.merchantId,
        paidAt: now,
      };
      const confirm = async () => {
        statements.length = 0;
        counting = true;
        try {
          return { outcome: await handleProviderEvent(countingDeps, dev, event, JSON.stringify(event)), statements: [...statements] };
        } finally {
          counting = false;
        }
      };

      const first = await confirm();
      expect(first.outcome).toBe('granted');
      expect(first.statements.length, first.statements.join('\n')).toBeLessThanOrEqual(CONFIRM_BUDGET);
      const again = await confirm();
      expect(again.outcome).toBe('duplicate');
      expect(again.statements.length, again.statements.join('\n')).toBeLessThanOrEqual(3);

      // And the effects are all there: one period, one charge, an active membership and its invite.
      const db = t.db.opened.db;
      expect(await db.selectFrom('membership_periods').select('order_id').execute()).toEqual([{ order_id: order.id }]);
      expect(await db.selectFrom('payments').select(['order_id', 'kind']).execute()).toEqual([{ order_id: order.id, kind: 'charge' }]);
      const [m] = await deps.store.memberships.list({ accountId: order.accountId });
      expect(m).toMatchObject({ status: 'active', expiresAt: now + 30 * 24 * HOUR_MS });
      const invites = await db.selectFrom('jobs').select(['payload', 'platform']).where('kind', '=', 'invite').execute();
      expect(invites.map((j) => [JSON.parse(j.payload), j.platform])).toEqual([[expect.objectContaining({ membershipId: m!.id }), 'playground']]);
      const events = await db.selectFrom('webhook_events').select(['event_id', 'outcome', 'order_id']).execute();
      expect(events).toEqual([{ event_id: 'evt-1', outcome: 'granted', order_id: order.id }]);
    } finally {
      await counted.close();
    }
  });
});
