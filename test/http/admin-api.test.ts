import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrder } from '../helpers/fixtures.ts';
import { ADMIN_TOKEN, auth, startTestService, type TestService } from '../helpers/service.ts';

describe.each(DIALECTS)('admin API (%s)', (dialect) => {
  let t: TestService;
  beforeEach(async () => {
    t = await startTestService(dialect);
  });
  afterEach(async () => {
    await t.close();
  });
  const inject = (opts: InjectOptions) => t.service.app.inject(opts);

  it('answers 401 without a token, with a wrong one, or with another scheme', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Basic ${ADMIN_TOKEN}` }, { authorization: `Bearer ${ADMIN_TOKEN}x` }]) {
      const res = await inject({ method: 'GET', url: '/api/groups', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('unauthorized');
    }
    const res = await inject({ method: 'POST', url: '/api/checkouts', payload: { platform: 'playground', userId: 'x', planId: 1 } });
    expect(res.statusCode).toBe(401);
    expect(await t.service.deps.store.groups.list()).toHaveLength(0);
  });

  it('GET /healthz checks the database', async () => {
    const res = await inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', database: 'ok', dialect });
  });

  it('creates a checkout and reads the order back', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const res = await inject({ method: 'GET', url: `/api/orders/${orderId}`, headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: orderId, status: 'pending', amountMinor: 990, amount: '9.90', currency: 'CNY', provider: 'dev' });
  });

  it('refuses bad checkouts with one clear line and creates no order', async () => {
    const { planId } = await seedOrder(t.service.app);
    const before = await t.db.opened.db.selectFrom('orders').select('id').execute();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ platform: 'playground', userId: 'bob', planId: 999, provider: 'dev' }, 404, /no plan with id 999/],
      [{ platform: 'playground', userId: 'bob', planId, provider: 'paypal' }, 400, /unknown or disabled payment provider "paypal"/],
      [{ platform: 'icq', userId: 'bob', planId, provider: 'dev' }, 400, /unknown platform/],
      [{ platform: 'telegram', userId: 'bob', planId, provider: 'dev' }, 400, /opens playground groups/],
      [{ platform: 'playground', userId: '', planId, provider: 'dev' }, 400, /userId/],
      [{ platform: 'playground', planId, provider: 'dev' }, 400, /userId/],
      [{ platform: 'playground', userId: 'bob', planId: 'abc', provider: 'dev' }, 400, /planId/],
    ];
    for (const [payload, status, message] of cases) {
      const res = await inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: payload as object });
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json().message).toMatch(message);
      expect(res.json().message).not.toContain('\n');
    }
    expect(await t.db.opened.db.selectFrom('orders').select('id').execute()).toHaveLength(before.length);
  });

  it('answers 400 (never 500) for malformed JSON and wrong content types', async () => {
    const bad = await inject({ method: 'POST', url: '/api/checkouts', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"platform":' });
    expect(bad.statusCode).toBe(400);
    const form = await inject({
      method: 'POST',
      url: '/api/plans',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=%%%',
    });
    expect(form.statusCode).toBeGreaterThanOrEqual(400);
    expect(form.statusCode).toBeLessThan(500);
  });

  it('answers 404 for an unknown order id, including malformed ones', async () => {
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'x'.repeat(90), '..%2f..%2fetc']) {
      const res = await inject({ method: 'GET', url: `/api/orders/${id}`, headers: auth });
      expect(res.statusCode).toBe(404);
    }
    // Longer than any route parameter we accept: refused before routing.
    expect((await inject({ method: 'GET', url: `/api/orders/${'x'.repeat(300)}`, headers: auth })).statusCode).toBe(414);
  });

  it('refuses negative, non-numeric and too-precise prices', async () => {
    const g = await inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId: 'g', title: 'G' } });
    const cases: Array<[string, string, RegExp]> = [
      ['-1', 'CNY', /negative/],
      ['abc', 'CNY', /decimal number/],
      ['9.999', 'CNY', /decimal place/],
      ['1.5', 'JPY', /decimal place/],
      ['0', 'CNY', /more than zero/],
      ['9.90', 'XXX', /unknown currency/],
    ];
    for (const [price, currency, message] of cases) {
      const res = await inject({
        method: 'POST',
        url: '/api/plans',
        headers: auth,
        payload: { groupIds: [g.json().id], name: 'P', price, currency, days: 30 },
      });
      expect(res.statusCode, price).toBe(400);
      expect(res.json().message).toMatch(message);
    }
    expect(await t.service.deps.store.plans.list()).toHaveLength(0);
  });

  it('PATCH /api/groups/:id changes the settings given and answers the group; bad input is 400/404 with one line and changes nothing', async () => {
    const created = await inject({
      method: 'POST',
      url: '/api/groups',
      headers: auth,
      payload: { platform: 'playground', chatId: 'room-1', title: 'Readers' },
    });
    const groupId = created.json().id as number;
    const before = created.json();
    expect(before).toMatchObject({ graceHours: 24, intruders: 'report', refundWindowHours: 0 });
    const patch = (payload: unknown, id: number | string = groupId) =>
      inject({ method: 'PATCH', url: `/api/groups/${id}`, headers: auth, payload: payload as object });

    const bad: Array<[unknown, number, RegExp]> = [
      [
        {},
        400,
        /^nothing to change: give at least one of graceHours, reminders, intruders, refundWindowHours, joinMode, reviewWindowHours, reviewTimeoutAction, autoApproveWhenRulesPass, requireUsername, referralRewardDays, winbackDays, winbackPercent$/,
      ],
      [{ graceHours: 48, joinMode: 'manual' }, 400, /join mode must be auto, review or door/],
      [{ graceHours: '48' }, 400, /^grace hours must be a whole number of hours from 0 to 720 \(got "48"\)$/],
      [{ reminders: 72 }, 400, /^reminders must be a list of hours before expiry/],
      [{ reminders: [72, 'x'] }, 400, /^each reminder must be a whole number/],
      [{ intruders: 'remove' }, 409, /^intruder policy remove needs a dry run you saw within 24 hours/],
      [{ refundWindowHours: -72, graceHours: 1 }, 400, /^refund window must be a whole number of hours from 0 to 720 \(got "-72"\)$/],
      [[1, 2], 400, /expected object/i],
    ];
    for (const [payload, status, message] of bad) {
      const res = await patch(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json().message, JSON.stringify(payload)).toMatch(message);
      expect(res.json().message).not.toContain('\n');
    }
    const missing = await patch({ graceHours: 1 }, 999);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe('no group with id 999');
    expect((await patch({ graceHours: 1 }, 'abc')).statusCode).toBe(400);
    expect((await inject({ method: 'PATCH', url: `/api/groups/${groupId}`, payload: { graceHours: 1 } })).statusCode).toBe(401);
    expect((await inject({ method: 'GET', url: '/api/groups', headers: auth })).json().items).toEqual([before]);

    const ok = await patch({ graceHours: 48, reminders: [24, 72], intruders: 'ignore', refundWindowHours: 72 });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ ...before, graceHours: 48, reminders: [72, 24], intruders: 'ignore', refundWindowHours: 72 });
    expect((await inject({ method: 'GET', url: '/api/groups', headers: auth })).json().items).toEqual([ok.json()]);
    const audit = await inject({ method: 'GET', url: `/api/audit?subjectType=group&subjectId=${groupId}&action=group.settings`, headers: auth });
    expect(audit.json().items.map((e: { actor: string; reason: string }) => [e.actor, e.reason])).toEqual([
      [
        'admin:api',
        expect.stringMatching(/^grace hours 24 h → 48 h; reminders .* → 72,24 h before expiry; intruder policy report → ignore; refund window off → 72 h$/),
      ],
    ]);
  });

  it('refuses a duplicate group and a plan over an unknown group', async () => {
    const payload = { platform: 'playground', chatId: 'dup', title: 'Dup' };
    expect((await inject({ method: 'POST', url: '/api/groups', headers: auth, payload })).statusCode).toBe(201);
    expect((await inject({ method: 'POST', url: '/api/groups', headers: auth, payload })).statusCode).toBe(409);
    const res = await inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [4242], name: 'P', price: '1', currency: 'CNY', days: 30 },
    });
    expect(res.statusCode).toBe(404);
  });

  it('refuses a plan named like one on sale in the group (409), unless force', async () => {
    const g = await inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId: 'p', title: 'P' } });
    const plan = (extra: object = {}) =>
      inject({
        method: 'POST',
        url: '/api/plans',
        headers: auth,
        payload: { groupIds: [g.json().id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30, ...extra },
      });
    expect((await plan()).statusCode).toBe(201);
    const again = await plan({ name: 'MONTHLY' });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/^group \d+ already has a plan on sale named "Monthly" \(plan \d+\)/);
    expect(await t.service.deps.store.plans.list()).toHaveLength(1);
    expect((await plan({ force: true })).statusCode).toBe(201);
  });

  it('refuses checkout for a banned member', async () => {
    const { planId, orderId } = await seedOrder(t.service.app);
    const store = t.service.deps.store;
    const order = (await store.orders.get(orderId))!;
    const plan = (await store.plans.get(planId))!;
    await store.memberships.insert({ accountId: order.accountId, groupId: plan.groupIds[0]!, status: 'banned', expiresAt: 0 }, t.clock.now());
    const res = await inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'alice', planId, provider: 'dev' },
    });
    expect(res.statusCode).toBe(403);
  });

  it('hides 5xx details', async () => {
    await t.db.opened.db.schema.dropTable('audit_log').execute();
    const res = await inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId: 'z', title: 'Z' } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal', message: 'internal error' });
  });
});
