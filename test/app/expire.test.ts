import { describe, expect } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { addPlan } from '../../src/app/catalog-admin.ts';
import { sweepExpiry } from '../../src/app/expire.ts';
import { RENEWAL_SETTLE_MS } from '../../src/app/subscriptions.ts';
import type { Membership } from '../../src/app/model.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth } from '../helpers/service.ts';

describe.each(DIALECTS)('expiry sweep (%s)', (dialect) => {
  // Each test gets its own service with one group of 24 hours' grace.
  const it = serviceTest(dialect).extend<{ groupId: number; addMember: (userId: string, expiresAt: number) => Promise<Membership> }>({
    groupId: async ({ t }, use) => {
      const g = await t.service.deps.store.groups.insert(
        { platform: 'playground', platformChatId: 'g', title: 'G', ownerAccountId: null, graceMs: 24 * HOUR_MS, reminderOffsetsMs: [] },
        t.clock.now(),
      );
      await use(g.id);
    },
    addMember: async ({ t, groupId }, use) => {
      const { store } = t.service.deps;
      await use(async (userId, expiresAt) => {
        const a = await store.accounts.upsert({ platform: 'playground', platformUserId: userId }, t.clock.now());
        return store.memberships.insert({ accountId: a.id, groupId, status: 'active', expiresAt }, t.clock.now());
      });
    },
  });

  it('moves due members to grace, then expires them in batches with one removal job and audit line each', async ({ t, deps, addMember }) => {
    const now = t.clock.now();
    for (let i = 0; i < 25; i++) await addMember(`due${i}`, now + i * 1000);
    for (let i = 0; i < 5; i++) await addMember(`later${i}`, now + 10 * DAY_MS);
    t.clock.set(now + 60_000);
    expect(await sweepExpiry(deps, 10)).toEqual({ lapsed: 25, expired: 0 });
    t.clock.set(now + 25 * HOUR_MS);
    expect(await sweepExpiry(deps, 10)).toEqual({ lapsed: 0, expired: 25 });
    expect(await sweepExpiry(deps, 10)).toEqual({ lapsed: 0, expired: 0 });
    const byStatus = await deps.store.memberships.list({});
    expect(byStatus.filter((m) => m.status === 'expired')).toHaveLength(25);
    expect(byStatus.filter((m) => m.status === 'active')).toHaveLength(5);
    expect(await deps.store.jobs.list({ kind: 'remove' })).toHaveLength(25);
    const audit = await deps.store.audit.list({ subjectType: 'membership' });
    expect(audit.filter((a) => a.action === 'membership.expire')).toHaveLength(25);
  });

  it('in a group without grace, a member an active subscription renews keeps RENEWAL_SETTLE_MS of grace (the rail charges a little after the end); others go at once', async ({
    t,
    deps,
    groupId,
  }) => {
    const { store } = deps;
    await store.groups.updateSettings(groupId, { graceMs: 0 });
    const plan = await addPlan(deps, { groupIds: [groupId], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30, actor: { kind: 'admin', via: 'api' } });
    const pay = async (userId: string) => {
      const c = await t.service.app.inject({
        method: 'POST',
        url: '/api/checkouts',
        headers: auth,
        payload: { platform: 'playground', userId, planId: plan.id },
      });
      const orderId = c.json().orderId as string;
      await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
      const account = (await store.accounts.find('playground', userId))!;
      return { orderId, account, membership: (await store.memberships.list({ accountId: account.id, groupId }))[0]! };
    };
    const sub = await pay('subscriber');
    const plain = await pay('one-off');
    await store.subscriptions.insertIfAbsent(
      {
        provider: 'stars',
        subscriptionId: 'charge-1',
        accountId: sub.account.id,
        planId: plan.id,
        firstOrderId: sub.orderId,
        amountMinor: 990,
        currency: 'CNY',
        nextChargeAt: sub.membership.expiresAt,
      },
      t.clock.now(),
    );
    const status = async (m: Membership) => (await store.memberships.get(m.id))!.status;
    t.clock.set(sub.membership.expiresAt + 60_000);
    await sweepExpiry(deps);
    expect(await status(plain.membership)).toBe('expired');
    expect(await status(sub.membership)).toBe('grace');
    // No renewal by RENEWAL_SETTLE_MS after the end: the normal removal.
    t.clock.set(sub.membership.expiresAt + RENEWAL_SETTLE_MS + 60_000);
    await sweepExpiry(deps);
    expect(await status(sub.membership)).toBe('expired');
  });

  it('a removal job for someone who renewed meanwhile does nothing', async ({ t, deps, addMember }) => {
    const now = t.clock.now();
    const m = await addMember('renews', now);
    t.clock.set(now + 25 * HOUR_MS);
    await sweepExpiry(deps);
    expect((await deps.store.memberships.get(m.id))!.status).toBe('expired');
    // Renewed before the removal job ran.
    await deps.store.memberships.update(m.id, { status: 'active', expiresAt: t.clock.now() + 30 * DAY_MS, graceUntil: null }, t.clock.now());
    await t.service.worker.drain();
    expect(t.gateway.of('remove')).toHaveLength(0);
    expect(t.gateway.of('text')).toHaveLength(0);
    expect((await deps.store.jobs.list({ kind: 'remove' }))[0]!.status).toBe('done');
  });

  it("uses each group's own grace", async ({ t, deps, addMember }) => {
    const g2 = await deps.store.groups.insert(
      { platform: 'playground', platformChatId: 'g2', title: 'G2', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      t.clock.now(),
    );
    const a = await deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'nograce' }, t.clock.now());
    const now = t.clock.now();
    const strict = await deps.store.memberships.insert({ accountId: a.id, groupId: g2.id, status: 'active', expiresAt: now }, now);
    const lenient = await addMember('grace', now);
    t.clock.set(now + 1);
    await sweepExpiry(deps);
    expect((await deps.store.memberships.get(strict.id))!.status).toBe('expired');
    expect((await deps.store.memberships.get(lenient.id))!.status).toBe('grace');
  });

  it('a member whose grace is over as well expires in the same write that lapses it, with its removal and audit line', async ({ t, deps, addMember }) => {
    const g0 = await deps.store.groups.insert(
      { platform: 'playground', platformChatId: 'g0', title: 'G0', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      t.clock.now(),
    );
    const a = await deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'nograce' }, t.clock.now());
    const now = t.clock.now();
    const strict = await deps.store.memberships.insert({ accountId: a.id, groupId: g0.id, status: 'active', expiresAt: now }, now);
    const late = await addMember('late', now - 25 * HOUR_MS);
    const lenient = await addMember('grace', now);
    // One lapse: rows whose grace is over leave as expired (one row write each), the rest enter grace.
    const moved = await deps.store.transaction((tx) => tx.memberships.lapseDue(now + 1, 10));
    expect(Object.fromEntries(moved.map((m) => [m.id, [m.status, m.graceUntil]]))).toEqual({
      [strict.id]: ['expired', now],
      [late.id]: ['expired', now - HOUR_MS],
      [lenient.id]: ['grace', now + 24 * HOUR_MS],
    });
    await deps.store.memberships.update(strict.id, { status: 'active', expiresAt: now, graceUntil: null }, now);
    await deps.store.memberships.update(late.id, { status: 'active', expiresAt: now - 25 * HOUR_MS, graceUntil: null }, now);
    t.clock.set(now + 1);
    expect(await sweepExpiry(deps)).toEqual({ lapsed: 2, expired: 2 });
    expect((await deps.store.jobs.list({ kind: 'remove' })).map((j) => (j.payload as { membershipId: number }).membershipId).sort()).toEqual(
      [strict.id, late.id].sort(),
    );
    expect((await deps.store.audit.list({ subjectType: 'membership' })).filter((x) => x.action === 'membership.expire')).toHaveLength(2);
  });

  if (dialect === 'postgres') {
    it('two instances sweeping at once expire each member exactly once', async ({ t, deps, addMember }) => {
      const now = t.clock.now();
      for (let i = 0; i < 60; i++) await addMember(`m${i}`, now);
      const other = await t.db.reopen();
      const deps2: AppDeps = { ...deps, store: other.store };
      t.clock.set(now + 25 * HOUR_MS);
      const [a, b] = await Promise.all([sweepExpiry(deps, 7), sweepExpiry(deps2, 7)]);
      expect(a.expired + b.expired).toBe(60);
      expect(await deps.store.jobs.list({ kind: 'remove' })).toHaveLength(60);
      const audit = await deps.store.audit.list({ subjectType: 'membership' });
      expect(audit.filter((x) => x.action === 'membership.expire')).toHaveLength(60);
    });
  }
});
