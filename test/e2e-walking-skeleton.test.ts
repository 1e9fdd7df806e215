// The "done when": checkout → pay page → dev-pay → order paid → membership active → invite
// job on the test gateway; clock past expiry + grace, tick → removal job, member expired, audit says why.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../src/domain/time.ts';
import { DIALECTS } from './helpers/db.ts';
import { auth, startTestService, type TestService } from './helpers/service.ts';

describe.each(DIALECTS)('walking skeleton end to end (%s)', (dialect) => {
  let t: TestService;
  beforeEach(async () => {
    t = await startTestService(dialect, { GRACE_HOURS: '24' });
  });
  afterEach(async () => {
    await t.close();
  });

  it('sells, admits, expires and removes a member', async () => {
    const { app, worker, scheduler } = t.service;
    const group = await app.inject({
      method: 'POST',
      url: '/api/groups',
      headers: auth,
      payload: { platform: 'playground', chatId: 'room-1', title: 'Readers club' },
    });
    expect(group.statusCode).toBe(201);
    const plan = await app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [group.json().id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30 },
    });
    expect(plan.statusCode).toBe(201);
    expect(plan.json().priceMinor).toBe(990);

    const co = await app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'alice', planId: plan.json().id, provider: 'dev' },
    });
    expect(co.statusCode).toBe(201);
    const { orderId, payUrl, qrUrl } = co.json();
    expect(orderId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(payUrl).toBe(`http://gk.test/pay/${orderId}`);
    expect(qrUrl).toBe(`http://gk.test/pay/${orderId}/qr.png`);

    const page = await app.inject({ method: 'GET', url: `/pay/${orderId}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('9.90 CNY');
    expect(page.body).toContain(`/pay/${orderId}/dev-pay`);
    const qr = await app.inject({ method: 'GET', url: `/pay/${orderId}/qr.png` });
    expect(qr.headers['content-type']).toBe('image/png');
    expect(qr.rawPayload.subarray(1, 4).toString()).toBe('PNG');

    const paid = await app.inject({
      method: 'POST',
      url: `/pay/${orderId}/dev-pay`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(paid.statusCode).toBe(303);
    expect(paid.headers.location).toBe(`/pay/${orderId}`);

    const order = await app.inject({ method: 'GET', url: `/api/orders/${orderId}`, headers: auth });
    expect(order.json()).toMatchObject({ id: orderId, status: 'paid', amountMinor: 990, currency: 'CNY' });
    const paidAt = Date.parse(order.json().paidAt);

    let members = (await app.inject({ method: 'GET', url: '/api/members', headers: auth })).json().items;
    expect(members).toHaveLength(1);
    expect(members[0]).toMatchObject({
      platform: 'playground',
      platformUserId: 'alice',
      status: 'active',
      expiresAt: new Date(paidAt + 30 * DAY_MS).toISOString(),
    });

    await worker.drain();
    expect(t.gateway.of('invite')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
    expect(t.gateway.of('text').map((c) => c.text)).toEqual([expect.stringContaining('Payment received')]);
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);

    // Paid time over: grace, still in the group.
    await t.clock.advance(30 * DAY_MS + 1);
    await scheduler.tick();
    await worker.drain();
    members = (await app.inject({ method: 'GET', url: '/api/members', headers: auth })).json().items;
    expect(members[0].status).toBe('grace');
    expect(t.gateway.of('remove')).toHaveLength(0);

    // Grace over: expired and removed, told how to come back.
    await t.clock.advance(24 * HOUR_MS);
    await scheduler.tick();
    await worker.drain();
    members = (await app.inject({ method: 'GET', url: '/api/members?status=expired', headers: auth })).json().items;
    expect(members).toHaveLength(1);
    expect(t.gateway.of('remove')).toEqual([{ op: 'remove', chatId: 'room-1', userId: 'alice', ban: false }]);
    expect(t.gateway.roster('room-1').has('alice')).toBe(false);
    expect(t.gateway.of('text').at(-1)!.text).toMatch(/renew/i);

    const audit = await t.service.deps.store.audit.list({ subjectType: 'membership', subjectId: String(members[0].membershipId) });
    const actions = audit.map((a) => a.action);
    expect(actions).toEqual(['membership.grant', 'membership.invite', 'membership.expire', 'membership.removed']);
    expect(audit.find((a) => a.action === 'membership.expire')!.reason).toMatch(/grace ended .* without renewal/);

    // A second tick changes nothing (sweeps and jobs are idempotent).
    await scheduler.tick();
    await worker.drain();
    expect(t.gateway.of('remove')).toHaveLength(1);
  });
});
