// Two service instances (own HTTP app, worker, scheduler and chat gateway) on one database, under a
// burst of payments delivered to both, duplicated, and a due expiry sweep run by both at once: every
// grant, invite and removal happens exactly once. PostgreSQL only: that is the multi-instance setup
// (DESIGN "Scale"); SQLite is one process with one connection. CI always sets TEST_POSTGRES_URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../src/domain/time.ts';
import { PG_URL } from './helpers/db.ts';
import { auth, startTestService, type TestService } from './helpers/service.ts';

const ORDERS = 40;

describe.runIf(PG_URL)('two instances, one PostgreSQL database', () => {
  const dialect = 'postgres' as const;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    a = await startTestService(dialect, { GRACE_HOURS: '24', REMINDER_OFFSETS_HOURS: '0' });
    b = await startTestService(dialect, { GRACE_HOURS: '24', REMINDER_OFFSETS_HOURS: '0' }, { db: a.db, clock: a.clock });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('grants, invites and removes exactly once under a burst handled by both', async () => {
    const g = await a.service.app.inject({
      method: 'POST',
      url: '/api/groups',
      headers: auth,
      payload: { platform: 'playground', chatId: 'shared', title: 'Shared' },
    });
    const p = await b.service.app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [g.json().id], name: 'M', price: '9.90', currency: 'CNY', days: 30 },
    });
    const orderIds: string[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const via = i % 2 ? a : b;
      const c = await via.service.app.inject({
        method: 'POST',
        url: '/api/checkouts',
        headers: auth,
        payload: { platform: 'playground', userId: `u${i}`, planId: p.json().id, provider: 'dev' },
      });
      orderIds.push(c.json().orderId);
    }

    // Each payment's notification reaches both instances, one of them twice, all at once; both workers run meanwhile.
    const deliveries: Promise<unknown>[] = [];
    for (const id of orderIds) {
      const order = (await a.service.deps.store.orders.get(id))!;
      const n = a.service.devProvider!.pay(order);
      for (const target of [a, b, b]) deliveries.push(target.service.app.inject({ method: 'POST', url: '/webhooks/dev', headers: n.headers, payload: n.body }));
    }
    deliveries.push(a.service.worker.drain(), b.service.worker.drain());
    const replies = await Promise.all(deliveries);
    expect(replies.slice(0, ORDERS * 3).every((r) => (r as { statusCode: number }).statusCode === 200)).toBe(true);
    await Promise.all([a.service.worker.drain(), b.service.worker.drain()]);

    const invites = [...a.gateway.of('invite'), ...b.gateway.of('invite')];
    expect(invites).toHaveLength(ORDERS);
    expect(new Set(invites.map((c) => c.userId)).size).toBe(ORDERS);
    const confirmations = [...a.gateway.of('text'), ...b.gateway.of('text')].filter((c) => /Payment received/.test(c.text));
    expect(confirmations).toHaveLength(ORDERS);
    const db = a.db.opened.db;
    expect(await db.selectFrom('membership_periods').selectAll().execute()).toHaveLength(ORDERS);
    expect(await db.selectFrom('payments').selectAll().execute()).toHaveLength(ORDERS);
    expect(await db.selectFrom('webhook_events').selectAll().execute()).toHaveLength(ORDERS);

    // Past expiry and grace: both instances' cron fires at once.
    await a.clock.advance(30 * DAY_MS + 25 * HOUR_MS);
    await Promise.all([a.service.scheduler.tick(), b.service.scheduler.tick()]);
    await Promise.all([a.service.scheduler.tick(), b.service.scheduler.tick(), a.service.worker.drain(), b.service.worker.drain()]);
    await Promise.all([a.service.worker.drain(), b.service.worker.drain()]);

    const removals = [...a.gateway.of('remove'), ...b.gateway.of('remove')];
    expect(removals).toHaveLength(ORDERS);
    expect(new Set(removals.map((c) => c.userId)).size).toBe(ORDERS);
    const members = await a.service.deps.store.memberships.list({});
    expect(members.every((m) => m.status === 'expired')).toBe(true);
    const expiries = await a.service.deps.store.audit.list({ subjectType: 'membership' });
    expect(expiries.filter((e) => e.action === 'membership.expire')).toHaveLength(ORDERS);
    expect(expiries.filter((e) => e.action === 'membership.removed')).toHaveLength(ORDERS);
    const notices = [...a.gateway.of('text'), ...b.gateway.of('text')].filter((c) => /renew/i.test(c.text) && /removed/.test(c.text));
    expect(notices).toHaveLength(ORDERS);
  });
});
