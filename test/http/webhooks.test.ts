import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEV_SIGNATURE_HEADER } from '../../src/payments/dev/dev-provider.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrder } from '../helpers/fixtures.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

describe.each(DIALECTS)('POST /webhooks/dev (%s)', (dialect) => {
  let t: TestService;
  beforeEach(async () => {
    t = await startTestService(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  const db = () => t.db.opened.db;
  const counts = async () => ({
    events: Number(
      (
        await db()
          .selectFrom('webhook_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
    periods: Number(
      (
        await db()
          .selectFrom('membership_periods')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
    charges: Number(
      (
        await db()
          .selectFrom('payments')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  });
  const orderStatus = async (id: string) => (await t.service.deps.store.orders.get(id))!.status;
  const notification = async (orderId: string, overrides = {}) => {
    const order = (await t.service.deps.store.orders.get(orderId))!;
    return t.service.devProvider!.pay(order, overrides);
  };
  const post = (body: Buffer | string, headers: Record<string, string>) =>
    t.service.app.inject({ method: 'POST', url: '/webhooks/dev', headers, payload: body });

  it('grants once for a valid notification and answers the provider', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId);
    const res = await post(n.body, n.headers);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: true });
    expect(await orderStatus(orderId)).toBe('paid');
    expect(await counts()).toEqual({ events: 1, periods: 1, charges: 1 });
  });

  it('rejects a missing signature with 400, changes nothing and takes no idempotency slot', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId);
    const res = await post(n.body, { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(await orderStatus(orderId)).toBe('pending');
    expect(await counts()).toEqual({ events: 0, periods: 0, charges: 0 });
    expect(t.logger.lines.some((l) => l.level === 'warn' && l.msg === 'webhook rejected')).toBe(true);
    // The real notification with the same event id still goes through afterwards.
    expect((await post(n.body, n.headers)).statusCode).toBe(200);
    expect(await orderStatus(orderId)).toBe('paid');
  });

  it('rejects a wrong signature with 401 and changes nothing', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId);
    const forged = n.headers[DEV_SIGNATURE_HEADER]!.replace(/v1=./, (m) => (m.endsWith('0') ? 'v1=1' : 'v1=0'));
    const res = await post(n.body, { ...n.headers, [DEV_SIGNATURE_HEADER]: forged });
    expect(res.statusCode).toBe(401);
    expect(await orderStatus(orderId)).toBe('pending');
    expect(await counts()).toEqual({ events: 0, periods: 0, charges: 0 });
  });

  it('rejects a body changed after signing', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId);
    const tampered = n.body.toString().replace('"amount_minor":990', '"amount_minor":1');
    expect(tampered).not.toBe(n.body.toString());
    expect((await post(tampered, n.headers)).statusCode).toBe(401);
    expect(await counts()).toEqual({ events: 0, periods: 0, charges: 0 });
  });

  it('rejects a stale signature (outside 5 minutes) with 401', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId);
    await t.clock.advance(6 * MINUTE_MS);
    expect((await post(n.body, n.headers)).statusCode).toBe(401);
    expect(await orderStatus(orderId)).toBe('pending');
  });

  it('answers 400 (never 500) for a signed body that is not JSON or not a notification', async () => {
    const dev = t.service.devProvider!;
    for (const body of ['{not json', '[]', '{"id":"x"}', '']) {
      const res = await post(body, { 'content-type': 'application/json', [DEV_SIGNATURE_HEADER]: dev.sign(body) });
      expect(res.statusCode, body).toBe(400);
    }
    expect((await post('x', { 'content-type': 'text/plain' })).statusCode).toBe(400);
    expect(await counts()).toEqual({ events: 0, periods: 0, charges: 0 });
  });

  it('records an unknown order, answers 2xx and alerts the owner', async () => {
    const dev = t.service.devProvider!;
    const body = JSON.stringify({
      id: 'evt_unknown',
      type: 'payment.paid',
      created: t.clock.now(),
      data: { out_trade_no: 'f'.repeat(32), txn_id: 'tx1', amount_minor: 100, currency: 'CNY' },
    });
    const res = await post(body, { 'content-type': 'application/json', [DEV_SIGNATURE_HEADER]: dev.sign(body) });
    expect(res.statusCode).toBe(200);
    const ev = await db().selectFrom('webhook_events').selectAll().executeTakeFirstOrThrow();
    expect(ev).toMatchObject({ provider: 'dev', event_id: 'evt_unknown', outcome: 'unknown_order', order_id: null });
    expect((await t.service.deps.store.jobs.list({ kind: 'alert_owners' })).length).toBe(1);
  });

  it('answers a duplicate with 2xx and grants no second period', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId);
    for (let i = 0; i < 3; i++) expect((await post(n.body, n.headers)).statusCode).toBe(200);
    expect(await counts()).toEqual({ events: 1, periods: 1, charges: 1 });
    expect((await t.service.deps.store.jobs.list({ kind: 'invite' })).length).toBe(1);
  });

  it('holds an amount mismatch for review: no grant, owner alerted', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const n = await notification(orderId, { amount_minor: 1 });
    expect((await post(n.body, n.headers)).statusCode).toBe(200);
    const order = (await t.service.deps.store.orders.get(orderId))!;
    expect(order.status).toBe('review');
    expect(order.reviewReason).toMatch(/amount mismatch/);
    expect((await counts()).periods).toBe(0);
    expect((await t.service.deps.store.memberships.list({})).filter((m) => m.status === 'active')).toHaveLength(0);
    expect((await t.service.deps.store.jobs.list({ kind: 'alert_owners' })).length).toBe(1);
  });

  it('holds a currency or merchant mismatch for review', async () => {
    const a = await seedOrder(t.service.app, { userId: 'a' });
    const n1 = await notification(a.orderId, { currency: 'USD' });
    await post(n1.body, n1.headers);
    expect(await orderStatus(a.orderId)).toBe('review');
    const b = await seedOrder(t.service.app, { userId: 'b' });
    const n2 = await notification(b.orderId, { merchant_id: 'someone-else' });
    await post(n2.body, n2.headers);
    expect(await orderStatus(b.orderId)).toBe('review');
    expect((await counts()).periods).toBe(0);
  });

  it('honours a payment that arrives after the order timed out', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const store = t.service.deps.store;
    expect(await store.orders.transition(orderId, ['pending'], 'expired', {}, t.clock.now())).toBe(true);
    const n = await notification(orderId);
    expect((await post(n.body, n.headers)).statusCode).toBe(200);
    expect(await orderStatus(orderId)).toBe('paid');
    expect((await counts()).periods).toBe(1);
  });

  it('answers 404 for a provider that is not enabled', async () => {
    const res = await t.service.app.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(404);
  });

  it('rejects an oversized body with 413 without touching anything', async () => {
    const res = await post('x'.repeat(70 * 1024), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(413);
  });
});
