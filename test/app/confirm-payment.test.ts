import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { createCheckout } from '../../src/app/checkout.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import type { PaymentProvider, ProviderEvent } from '../../src/app/ports.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import type { TestService } from '../helpers/service.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

type Paid = Extract<ProviderEvent, { type: 'paid' }>;

describe.each(DIALECTS)('confirm payment (%s)', (dialect) => {
  // Each test gets its own service with two groups and a plan covering both.
  const it = serviceTest(dialect, { GRACE_HOURS: '48' }).extend<{ w: ReturnType<typeof world> }>({
    w: async ({ t }, use) => {
      const deps = t.service.deps;
      const group = (chatId: string) =>
        deps.store.groups.insert(
          { platform: 'playground', platformChatId: chatId, title: chatId.toUpperCase(), ownerAccountId: null, graceMs: 48 * HOUR_MS, reminderOffsetsMs: [] },
          t.clock.now(),
        );
      const groupIds = [(await group('a')).id, (await group('b')).id];
      const planId = (await deps.store.plans.insert({ name: 'Both', priceMinor: 1000, currency: 'CNY', durationDays: 30, groupIds }, t.clock.now())).id;
      await use(world(t, groupIds, planId));
    },
  });

  it('N duplicate or re-keyed payment events grant exactly one period', async ({ deps, w }) => {
    const { newOrder, paidEvent, handle, periodsOf, chargesOf, membershipsOf } = w;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('duplicate', 'rekeyed', 'reconcile'), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (variants, concurrent) => {
          const order = await newOrder();
          const txn = `tx-${order.id}`;
          const events = [
            paidEvent(order, `evt-${order.id}`, txn),
            ...variants.map((v, i) => paidEvent(order, v === 'duplicate' ? `evt-${order.id}` : v === 'rekeyed' ? `evt-${order.id}-${i}` : `query:${txn}`, txn)),
          ];
          const outcomes = concurrent
            ? await Promise.all(events.map(handle))
            : await events.reduce<Promise<string[]>>(async (acc, e) => [...(await acc), await handle(e)], Promise.resolve([]));
          expect(outcomes.filter((o) => o === 'granted')).toHaveLength(1);
          expect(outcomes.every((o) => o === 'granted' || o === 'duplicate' || o === 'already_paid')).toBe(true);
          expect(await periodsOf(order.id)).toHaveLength(2);
          expect(await chargesOf(order.id)).toHaveLength(1);
          const ms = await membershipsOf(order.accountId);
          expect(ms.map((m) => [m.status, m.expiresAt])).toEqual([
            ['active', events[0]!.paidAt + 30 * DAY_MS],
            ['active', events[0]!.paidAt + 30 * DAY_MS],
          ]);
          const invites = (await deps.store.jobs.list({ kind: 'invite' })).filter((j) =>
            ms.some((m) => m.id === (j.payload as { membershipId: number }).membershipId),
          );
          expect(invites).toHaveLength(2);
        },
      ),
      { numRuns: dialect === 'postgres' ? 15 : 30 },
    );
  });

  it('a renewal while active extends from the current expiry and sends no new invite', async ({ t, deps, w }) => {
    const { newOrder, paidEvent, handle, membershipsOf } = w;
    const first = await newOrder('renewer');
    const paidAt = t.clock.now();
    expect(await handle(paidEvent(first, 'r1', 'rtx1', paidAt))).toBe('granted');
    const second = await newOrder('renewer');
    expect(await handle(paidEvent(second, 'r2', 'rtx2'))).toBe('granted');
    const ms = await membershipsOf(first.accountId);
    expect(ms.every((m) => m.expiresAt === paidAt + 60 * DAY_MS && m.status === 'active')).toBe(true);
    const invites = (await deps.store.jobs.list({ kind: 'invite' })).filter((j) =>
      ms.some((m) => m.id === (j.payload as { membershipId: number }).membershipId),
    );
    expect(invites).toHaveLength(2);
  });

  it('a renewal paid in grace extends from expires_at; after expiry it starts at the provider success time', async ({ t, deps, w }) => {
    const { newOrder, paidEvent, handle, membershipsOf } = w;
    const o1 = await newOrder('lapser');
    const start = t.clock.now();
    await handle(paidEvent(o1, 'l1', 'ltx1', start));
    // Into grace.
    t.clock.set(start + 30 * DAY_MS + HOUR_MS);
    await t.service.scheduler.tick();
    expect((await membershipsOf(o1.accountId)).map((m) => m.status)).toEqual(['grace', 'grace']);
    const o2 = await newOrder('lapser');
    await handle(paidEvent(o2, 'l2', 'ltx2'));
    let ms = await membershipsOf(o1.accountId);
    expect(ms.map((m) => [m.status, m.expiresAt])).toEqual([
      ['active', start + 60 * DAY_MS],
      ['active', start + 60 * DAY_MS],
    ]);
    // Past expiry and grace: removed; a new payment starts fresh at its success time, not when we learned of it.
    t.clock.set(start + 60 * DAY_MS + 49 * HOUR_MS);
    await t.service.scheduler.tick();
    expect((await membershipsOf(o1.accountId)).map((m) => m.status)).toEqual(['expired', 'expired']);
    const o3 = await newOrder('lapser');
    const successAt = t.clock.now() - 5 * 60_000;
    await handle(paidEvent(o3, 'l3', 'ltx3', successAt));
    ms = await membershipsOf(o1.accountId);
    expect(ms.map((m) => [m.status, m.expiresAt])).toEqual([
      ['active', successAt + 30 * DAY_MS],
      ['active', successAt + 30 * DAY_MS],
    ]);
    const invites = (await deps.store.jobs.list({ kind: 'invite' })).filter((j) =>
      ms.some((m) => m.id === (j.payload as { membershipId: number }).membershipId),
    );
    expect(invites).toHaveLength(4);
  });

  it('two different orders of one new member paid at once both count: 60 days, one invite per group', async ({ t, deps, w }) => {
    const { newOrder, paidEvent, handle, membershipsOf } = w;
    const a = await newOrder('twice');
    const b = await newOrder('twice');
    const at = t.clock.now();
    const outcomes = await Promise.all([handle(paidEvent(a, 'tw1', 'twtx1', at)), handle(paidEvent(b, 'tw2', 'twtx2', at))]);
    expect(outcomes).toEqual(['granted', 'granted']);
    const ms = await membershipsOf(a.accountId);
    expect(ms.map((m) => [m.status, m.expiresAt])).toEqual([
      ['active', at + 60 * DAY_MS],
      ['active', at + 60 * DAY_MS],
    ]);
    const invites = (await deps.store.jobs.list({ kind: 'invite' })).filter((j) =>
      ms.some((m) => m.id === (j.payload as { membershipId: number }).membershipId),
    );
    expect(invites).toHaveLength(2);
  });

  it('a refund reported before its payment holds the payment for review; a second refund report books nothing more', async ({ t, deps, w }) => {
    const { newOrder, paidEvent, handle, periodsOf } = w;
    const order = await newOrder('early-refund');
    const refund = {
      type: 'refunded' as const,
      outTradeNo: order.outTradeNo,
      providerRefundId: 'ref-early',
      amountMinor: 1000,
      currency: 'CNY',
      refundedAt: t.clock.now(),
    };
    expect(await handle({ ...refund, eventId: 'er1' })).toBe('refund_noted');
    expect((await deps.store.orders.get(order.id))!.status).toBe('pending');
    expect(await handle(paidEvent(order, 'ep1', 'eptx1'))).toBe('review');
    expect((await deps.store.orders.get(order.id))!.reviewReason).toMatch(/refund before this payment/);
    expect(await periodsOf(order.id)).toHaveLength(0);
    // A refunded order confirmed twice (webhook and reconcile know the refund under different ids) is booked once.
    const paid = await newOrder('refund-twice');
    await handle(paidEvent(paid, 'rt1', 'rttx1'));
    await deps.store.orders.transition(paid.id, ['paid'], 'refund_pending', { outRefundNo: 'a'.repeat(32) }, t.clock.now());
    expect(await handle({ ...refund, outTradeNo: paid.outTradeNo, providerRefundId: 'provider-id', eventId: 'rt2' })).toBe('refund_noted');
    expect(await handle({ ...refund, outTradeNo: paid.outTradeNo, providerRefundId: `refund:${'a'.repeat(32)}`, eventId: 'rt3' })).toBe('refund_noted');
    const refunds = await t.db.opened.db.selectFrom('payments').selectAll().where('order_id', '=', paid.id).where('kind', '=', 'refund').execute();
    expect(refunds).toHaveLength(1);
  });

  it('a payment from a banned member is held for review, never granted', async ({ t, deps, w }) => {
    const { groupIds, newOrder, paidEvent, handle, periodsOf, chargesOf } = w;
    const order = await newOrder('banned-later');
    const m = await deps.store.memberships.insert({ accountId: order.accountId, groupId: groupIds[0]!, status: 'banned', expiresAt: 0 }, t.clock.now());
    expect(await handle(paidEvent(order, 'b1', 'btx1'))).toBe('review');
    expect((await deps.store.orders.get(order.id))!.status).toBe('review');
    expect((await deps.store.memberships.get(m.id))!.status).toBe('banned');
    expect(await periodsOf(order.id)).toHaveLength(0);
    expect(await chargesOf(order.id)).toHaveLength(1);
  });

  it('a failed outcome leaves the order pending; ignored and refund events are recorded', async ({ t, deps, w }) => {
    const { newOrder, handle } = w;
    const order = await newOrder();
    expect(await handle({ type: 'failed', eventId: 'f1', outTradeNo: order.outTradeNo, reason: 'card declined' })).toBe('failed_noted');
    expect((await deps.store.orders.get(order.id))!.status).toBe('pending');
    expect(await handle({ type: 'failed', eventId: 'f1', outTradeNo: order.outTradeNo, reason: 'card declined' })).toBe('duplicate');
    expect(await handle({ type: 'ignored', eventId: 'i1', reason: 'other' })).toBe('ignored');
    expect(await handle({ type: 'ignored', eventId: 'i1', reason: 'other' })).toBe('duplicate');
    expect(
      await handle({
        type: 'refunded',
        eventId: 'rf1',
        outTradeNo: order.outTradeNo,
        providerRefundId: 'ref1',
        amountMinor: 1000,
        currency: 'CNY',
        refundedAt: t.clock.now(),
      }),
    ).toBe('refund_noted');
    const refunds = await t.db.opened.db.selectFrom('payments').selectAll().where('order_id', '=', order.id).where('kind', '=', 'refund').execute();
    expect(refunds).toHaveLength(1);
  });

  it("an event naming another provider's order is treated as unknown", async ({ deps, w }) => {
    const { dev, newOrder, paidEvent } = w;
    const order = await newOrder();
    const other: PaymentProvider = { ...dev, name: 'other', merchantId: null } as PaymentProvider;
    expect(await handleProviderEvent(deps, other, paidEvent(order, 'x1', 'xtx1'), '{}')).toBe('unknown_order');
    expect((await deps.store.orders.get(order.id))!.status).toBe('pending');
  });
});

function world(t: TestService, groupIds: number[], planId: number) {
  const deps = t.service.deps;
  const dev = deps.providers.get('dev')!;
  let userSeq = 0;
  const newOrder = async (userId = `u${++userSeq}`) => (await createCheckout(deps, { platform: 'playground', userId, planId, provider: 'dev' })).order;
  const paidEvent = (o: { outTradeNo: string; amountMinor: number; currency: string }, eventId: string, txn: string, paidAt = t.clock.now()): Paid => ({
    type: 'paid',
    eventId,
    outTradeNo: o.outTradeNo,
    providerTxnId: txn,
    amountMinor: o.amountMinor,
    currency: o.currency,
    merchantId: dev.merchantId,
    paidAt,
  });
  const handle = (e: ProviderEvent) => handleProviderEvent(deps, dev, e, JSON.stringify(e));
  const periodsOf = (orderId: string) => t.db.opened.db.selectFrom('membership_periods').selectAll().where('order_id', '=', orderId).execute();
  const chargesOf = (orderId: string) =>
    t.db.opened.db.selectFrom('payments').selectAll().where('order_id', '=', orderId).where('kind', '=', 'charge').execute();
  const membershipsOf = async (accountId: number) => (await deps.store.memberships.list({ accountId })).sort((a, b) => a.groupId - b.groupId);
  return { dev, groupIds, newOrder, paidEvent, handle, periodsOf, chargesOf, membershipsOf };
}
