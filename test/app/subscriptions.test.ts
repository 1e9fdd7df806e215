// Auto-renewal money rules (issue 18, review fixes), on SQLite and PostgreSQL, through the use cases with the dev
// rail reporting subscription charges: a due or failed renewal blocks a second purchase (double charge); a banned
// member's renewal is held for review and renewal is stopped at the rail; a ban, an owner's removal or a full refund
// stops renewal here and at the rail, and a renewal charged anyway is honoured with the subscription left canceled.
import { describe, expect } from 'vitest';
import { createCheckout } from '../../src/app/checkout.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import { banMember, extendMembership, removeMember } from '../../src/app/owners.ts';
import type { Order } from '../../src/app/model.ts';
import type { ProviderEvent } from '../../src/app/ports.ts';
import { confirmRefund } from '../../src/app/refunds.ts';
import { cancelRenewal } from '../../src/app/subscriptions.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import type { TestService } from '../helpers/service.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

type Paid = Extract<ProviderEvent, { type: 'paid' }>;
const ADMIN = { kind: 'admin', via: 'api' } as const;

describe.each(DIALECTS)('auto-renewal money rules (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ w: Awaited<ReturnType<typeof world>> }>({
    w: async ({ t }, use) => use(await world(t)),
  });

  it('a failed renewal, or one due and being charged, refuses buying a plan of the same group again; /cancel then lets it', async ({ t, deps, w }) => {
    const first = await w.subscribe('alice');
    const sub = (await deps.store.subscriptions.findByFirstOrder(first.id))!;
    expect(sub.state).toBe('active');

    // The charge is due: the rail is taking it right now.
    t.clock.set(sub.nextChargeAt + HOUR_MS);
    await expect(w.buy('alice')).rejects.toThrow(/being charged.*\/cancel first/);
    // It failed: the rail retries it.
    await deps.store.subscriptions.update(sub.id, { state: 'failed', canceledBy: 'provider' }, t.clock.now());
    await expect(w.buy('alice')).rejects.toThrow(/being charged.*\/cancel first/);
    await expect(w.buy('alice', w.otherPlanId)).rejects.toThrow(/being charged/);
    expect((await deps.store.orders.page({ accountId: first.accountId, limit: 10 })).length).toBe(1);

    // /cancel reaches the failed renewal; buying is then open. (The dev rail cannot end a subscription at once.)
    const account = (await deps.store.accounts.get(first.accountId))!;
    expect(await cancelRenewal(deps, account)).toEqual([{ plan: 'VIP', until: sub.nextChargeAt, endedNow: false }]);
    expect((await deps.store.subscriptions.get(sub.id))!.state).toBe('canceled');
    await expect(w.buy('alice')).resolves.toMatchObject({ status: 'pending' });
  });

  it("a banned member's renewal is answered, held for review with the owner alerted, grants nothing and stops renewal at the rail", async ({ t, deps, w }) => {
    const first = await w.subscribe('bob');
    const sub = (await deps.store.subscriptions.findByFirstOrder(first.id))!;
    const [m] = await deps.store.memberships.list({ accountId: first.accountId });
    await deps.store.memberships.update(m!.id, { status: 'banned', expiresAt: m!.expiresAt, graceUntil: null }, t.clock.now());

    t.clock.set(sub.nextChargeAt);
    expect(await w.renew(first, 'ren-1')).toBe('review');
    const orders = await deps.store.orders.page({ accountId: first.accountId, limit: 10 });
    const renewal = orders.find((o) => o.id !== first.id)!;
    expect(renewal).toMatchObject({ status: 'review', reviewReason: 'renewal paid by a banned member' });
    expect(await deps.store.periods.listForOrder(renewal.id)).toEqual([]);
    expect((await deps.store.memberships.get(m!.id))!.status).toBe('banned');
    expect((await deps.store.subscriptions.get(sub.id))!).toMatchObject({ state: 'canceled', canceledBy: 'owner' });
    const alerts = await deps.store.jobs.list({ kind: 'alert_owners' });
    expect(alerts.some((j) => JSON.stringify(j.payload).includes(renewal.id))).toBe(true);
    // A ban: ended at the rail at once, not at the period's end.
    expect((await deps.store.jobs.list({ kind: 'subscription_edit' })).map((j) => j.payload)).toEqual([
      { subscriptionId: sub.id, cancel: true, immediately: true },
    ]);
  });

  it('a full refund of the subscribed order stops renewal at the rail; a renewal charged anyway is honoured and renewal stays off', async ({ t, deps, w }) => {
    const first = await w.subscribe('carol');
    const sub = (await deps.store.subscriptions.findByFirstOrder(first.id))!;
    t.clock.advance(DAY_MS);
    const now = t.clock.now();
    const paid = (await deps.store.orders.get(first.id))!;
    expect(
      await deps.store.transaction((tx) =>
        confirmRefund(tx, paid, { providerRefundId: 're_1', amountMinor: 1000, currency: 'CNY', refundedAt: now }, 'admin:api', now),
      ),
    ).toBe('full');
    expect((await deps.store.subscriptions.get(sub.id))!).toMatchObject({ state: 'canceled', canceledBy: 'owner' });
    expect((await deps.store.jobs.list({ kind: 'subscription_edit' })).map((j) => j.payload)).toEqual([{ subscriptionId: sub.id, cancel: true }]);

    // The rail charged before it learnt of the cancel: money taken, honoured; the cancel is sent again.
    t.clock.set(sub.nextChargeAt);
    expect(await w.renew(first, 'ren-2')).toBe('granted');
    expect((await deps.store.subscriptions.get(sub.id))!.state).toBe('canceled');
    expect(await deps.store.jobs.list({ kind: 'subscription_edit' })).toHaveLength(2);
  });

  it('a renewal keeps the days a member held beyond the rail (an extension, a reward): it adds the rail period to them', async ({ t, deps, w }) => {
    const first = await w.subscribe('fay');
    const [m] = await deps.store.memberships.list({ accountId: first.accountId });
    const railEnd = m!.expiresAt;
    await extendMembership(deps, { actor: ADMIN, membershipId: m!.id, days: 7, reason: 'referral' });
    t.clock.set(railEnd);
    expect(await w.renew(first, 'renew-fay-1')).toBe('granted');
    // The rail's new period ends railEnd + 30 days; the 7 days given on top are still there.
    expect((await deps.store.memberships.get(m!.id))!.expiresAt).toBe(railEnd + 37 * DAY_MS);
  });

  it("an owner's ban or removal stops renewal of a plan opening that group, here and at the rail", async ({ deps, w }) => {
    for (const [who, act, immediately] of [
      ['dave', banMember, true],
      ['erin', removeMember, false],
    ] as const) {
      const first = await w.subscribe(who);
      const sub = (await deps.store.subscriptions.findByFirstOrder(first.id))!;
      const [m] = await deps.store.memberships.list({ accountId: first.accountId });
      await act(deps, { actor: ADMIN, membershipId: m!.id });
      expect((await deps.store.subscriptions.get(sub.id))!).toMatchObject({ state: 'canceled', canceledBy: 'owner' });
      const edits = (await deps.store.jobs.list({ kind: 'subscription_edit' })).map((j) => j.payload);
      // A ban ends it at the rail at once; a removal at the period's end.
      expect(edits).toContainEqual({ subscriptionId: sub.id, cancel: true, ...(immediately ? { immediately } : {}) });
    }
  });
});

async function world(t: TestService) {
  const deps = t.service.deps;
  const dev = deps.providers.get('dev')!;
  const groupId = (
    await deps.store.groups.insert(
      { platform: 'playground', platformChatId: 'vip', title: 'VIP', ownerAccountId: null, graceMs: 48 * HOUR_MS, reminderOffsetsMs: [] },
      t.clock.now(),
    )
  ).id;
  const planId = (await deps.store.plans.insert({ name: 'VIP', priceMinor: 1000, currency: 'CNY', durationDays: 30, groupIds: [groupId] }, t.clock.now())).id;
  const otherPlanId = (
    await deps.store.plans.insert({ name: 'VIP year', priceMinor: 9000, currency: 'CNY', durationDays: 365, groupIds: [groupId] }, t.clock.now())
  ).id;
  const handle = (e: ProviderEvent) => handleProviderEvent(deps, dev, e, JSON.stringify(e));
  const buy = async (userId: string, plan = planId) => (await createCheckout(deps, { platform: 'playground', userId, planId: plan, provider: 'dev' })).order;
  const charge = (o: Order, txn: string, first: boolean): Paid => ({
    type: 'paid',
    eventId: `evt-${txn}`,
    outTradeNo: o.outTradeNo,
    providerTxnId: txn,
    amountMinor: 1000,
    currency: 'CNY',
    merchantId: dev.merchantId,
    paidAt: t.clock.now(),
    subscription: { first, id: `sub-${o.id}`, expiresAt: t.clock.now() + 30 * DAY_MS },
  });
  /** Buys VIP and pays its first charge as an auto-renewing subscription. */
  const subscribe = async (userId: string) => {
    const o = await buy(userId);
    expect(await handle(charge(o, `first-${o.id}`, true))).toBe('granted');
    return o;
  };
  const renew = (first: Order, txn: string) => handle(charge(first, txn, false));
  return { planId, otherPlanId, buy, subscribe, renew };
}
