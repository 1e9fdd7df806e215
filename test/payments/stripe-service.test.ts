// Stripe through the whole service: the admin API creates a checkout, the emulator's customer pays, the
// emulator posts signed events to the listening service, the worker and scheduler do the rest. Events
// arrive once, twice, concurrently, re-keyed, out of order, late, or never (reconcile finds the payment).
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MINUTE_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { type EmuEvent, StripeEmulator } from '../fakes/stripe-emulator.ts';

const SECRET_KEY = 'sk_test_51GatekeeperServiceKey012345';
const WEBHOOK_SECRET = 'whsec_serviceSigningSecret0123456789abcd';
const sdk = new Stripe(SECRET_KEY);

describe.each(DIALECTS)('Stripe Checkout through the service (%s)', (dialect) => {
  let t: TestService;
  let emu: StripeEmulator;

  beforeEach(async () => {
    let now = () => Date.now();
    emu = await StripeEmulator.start({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, now: () => now() });
    t = await startTestService(dialect, {
      PAYMENT_PROVIDERS: 'dev,stripe',
      STRIPE_SECRET_KEY: SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_BASE: emu.url,
    });
    now = () => t.clock.now();
    await t.service.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.service.app.server.address();
    if (!address || typeof address === 'string') throw new Error('service is not listening');
    emu.webhookUrl = `http://127.0.0.1:${address.port}/webhooks/stripe`;
  });
  afterEach(async () => {
    await t.close();
    await emu.close();
  });

  const app = () => t.service.app;
  const store = () => t.service.deps.store;
  const db = () => t.db.opened.db;
  const count = async (table: 'webhook_events' | 'membership_periods' | 'payments', where?: { kind: 'charge' | 'refund' }) => {
    let q = db()
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'));
    if (where && table === 'payments') q = q.where('kind', '=', where.kind);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };
  const outcomes = async () => (await db().selectFrom('webhook_events').select(['event_id', 'outcome']).orderBy('id').execute()).map((r) => r.outcome);

  let planId: number | undefined;
  async function checkout(userId = 'alice') {
    if (planId === undefined) {
      const g = await app().inject({
        method: 'POST',
        url: '/api/groups',
        headers: auth,
        payload: { platform: 'playground', chatId: 'room-1', title: 'Readers club' },
      });
      const p = await app().inject({
        method: 'POST',
        url: '/api/plans',
        headers: auth,
        payload: { groupIds: [g.json().id], name: 'Monthly', price: '9.90', currency: 'USD', days: 30 },
      });
      expect(p.statusCode).toBe(201);
      planId = p.json().id as number;
    }
    const c = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId, planId, provider: 'stripe' },
    });
    expect(c.statusCode, c.body).toBe(201);
    const orderId = c.json().orderId as string;
    const order = (await store().orders.get(orderId))!;
    const session = emu.sessionFor(order.outTradeNo)!;
    expect(session).toBeDefined();
    return { orderId, order, session, providerUrl: c.json().providerUrl as string };
  }
  beforeEach(() => {
    planId = undefined;
  });

  const completedOf = (events: EmuEvent[]) => events.find((e) => e.type === 'checkout.session.completed')!;
  const order = async (id: string) => (await store().orders.get(id))!;
  const members = async () => (await store().memberships.list({})).filter((m) => m.expiresAt > 0);

  it('checkout → the member pays → signed event → paid, granted and invited', async () => {
    const { orderId, order: o, session, providerUrl } = await checkout();
    expect(providerUrl).toBe(session.url);
    expect(o.checkoutUrl).toBe(session.url);
    expect(o.checkoutQr).toBe(session.url);
    expect(session).toMatchObject({
      client_reference_id: o.outTradeNo,
      metadata: { out_trade_no: o.outTradeNo },
      amount_total: 990,
      currency: 'usd',
      success_url: `http://gk.test/pay/${orderId}`,
      cancel_url: `http://gk.test/pay/${orderId}`,
    });
    expect(session.expires_at).toBe(Math.ceil((t.clock.now() + 31 * MINUTE_MS) / 1000));
    const page = await app().inject({ method: 'GET', url: `/pay/${orderId}` });
    expect(page.body).toContain(session.url!.replace(/&/g, '&amp;').split('#')[0]);

    await t.clock.advance(60_000);
    const paid = emu.pay(session.id);
    // Stripe sends every subscribed type; only the session event carries the order.
    for (const e of paid.events) {
      const [r] = await emu.deliver(e);
      expect(r).toEqual({ status: 200, body: '{"received":true}' });
    }
    expect(await order(orderId)).toMatchObject({ status: 'paid', providerTxnId: paid.paymentIntent.id, paidAt: completedOf(paid.events).created * 1000 });
    expect(await outcomes()).toEqual(['ignored', 'ignored', 'granted']);
    const [m] = await members();
    expect(m).toMatchObject({ status: 'active', expiresAt: completedOf(paid.events).created * 1000 + 30 * 86_400_000 });
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
  });

  it('the same event many times, concurrently, and the same payment under new event ids grant one period', async () => {
    const { orderId, session } = await checkout();
    const paid = emu.pay(session.id);
    const completed = completedOf(paid.events);
    const answers = await emu.deliver(completed, { times: 100, concurrently: true });
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect((await emu.deliver(completed, { times: 2 })).map((a) => a.status)).toEqual([200, 200]);
    // Re-keyed: the same session and PaymentIntent under other event ids.
    for (const id of ['evt_rekeyed_1', 'evt_rekeyed_2']) expect((await emu.deliver({ ...completed, id }))[0]!.status).toBe(200);
    expect((await order(orderId)).status).toBe('paid');
    expect(await count('membership_periods')).toBe(1);
    expect(await count('payments', { kind: 'charge' })).toBe(1);
    expect(await count('webhook_events')).toBe(3);
    expect((await outcomes()).sort()).toEqual(['already_paid', 'already_paid', 'granted']);
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toHaveLength(1);
  });

  it('a delayed payment: completed (unpaid) leaves the order pending, async_payment_succeeded pays it', async () => {
    const { orderId, session } = await checkout();
    const first = emu.pay(session.id, { delayed: true });
    await emu.deliver(completedOf(first.events));
    expect((await order(orderId)).status).toBe('pending');
    await t.clock.advance(5 * MINUTE_MS);
    const settled = emu.settleDelayed(session.id);
    for (const e of settled) expect((await emu.deliver(e))[0]!.status).toBe(200);
    const o = await order(orderId);
    expect(o.status).toBe('paid');
    expect(o.providerTxnId).toBe(first.paymentIntent.id);
    expect(await count('membership_periods')).toBe(1);
  });

  it('an event that never arrives is found by reconcile, dated when the money moved; the late event changes nothing', async () => {
    const { orderId, session } = await checkout();
    await t.clock.advance(30_000);
    const paid = emu.pay(session.id);
    await t.clock.advance(2 * MINUTE_MS + 1);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    const o = await order(orderId);
    expect(o).toMatchObject({ status: 'paid', providerTxnId: paid.paymentIntent.id, paidAt: paid.charge!.created * 1000 });
    expect(o.paidAt).toBeLessThan(t.clock.now() - 2 * MINUTE_MS);
    expect(await count('membership_periods')).toBe(1);
    expect(t.gateway.of('invite')).toHaveLength(1);
    // Stripe retries and finally gets through (signed now).
    expect((await emu.deliver(completedOf(paid.events)))[0]!.status).toBe(200);
    expect(await count('membership_periods')).toBe(1);
    expect(await count('payments', { kind: 'charge' })).toBe(1);
  });

  it('an order that times out expires its Checkout Session at Stripe', async () => {
    const { orderId, session } = await checkout();
    await t.clock.advance(16 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await order(orderId)).status).toBe('expired');
    expect(emu.sessions.get(session.id)!.status).toBe('expired');
    expect(emu.requests.filter((r) => r.method === 'POST' && r.path === `/v1/checkout/sessions/${session.id}/expire`)).toHaveLength(1);
    expect(() => emu.pay(session.id)).toThrow(/expired/);
    // Reconcile keeps asking for an hour and hears "closed": nothing changes.
    await t.clock.advance(10 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await order(orderId)).status).toBe('expired');
    expect(await count('membership_periods')).toBe(0);
  });

  it('paid a moment before the time-out, event late: the close is refused, reconcile grants, the late event is a duplicate', async () => {
    const { orderId, session } = await checkout();
    await t.clock.advance(14 * MINUTE_MS);
    const paid = emu.pay(session.id);
    await t.clock.advance(2 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(emu.sessions.get(session.id)!.status).toBe('complete');
    const o = await order(orderId);
    expect(o).toMatchObject({ status: 'paid', paidAt: paid.charge!.created * 1000 });
    expect(await count('membership_periods')).toBe(1);
    expect((await emu.deliver(completedOf(paid.events)))[0]!.status).toBe(200);
    expect(await count('membership_periods')).toBe(1);
    expect(await count('payments', { kind: 'charge' })).toBe(1);
  });

  it('a refund asked through the admin API goes to Stripe once, revokes access, and its charge.refunded is booked once', async () => {
    const { orderId, session } = await checkout();
    const paid = emu.pay(session.id);
    await emu.deliver(completedOf(paid.events));
    await t.service.worker.drain();
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);

    emu.mode = 'lose_response'; // the first attempt reaches Stripe but its answer is lost
    const res = await app().inject({ method: 'POST', url: `/api/orders/${orderId}/refund`, headers: auth, payload: { reason: 'asked by member' } });
    expect(res.statusCode).toBe(202);
    expect(res.json().status).toBe('refund_pending');
    await t.service.worker.drain();
    expect((await order(orderId)).status).toBe('refund_pending');
    expect(emu.refunds.size).toBe(1);
    emu.mode = 'normal';
    await t.clock.advance(60_000);
    await t.service.worker.drain();

    const o = await order(orderId);
    expect(o.status).toBe('refunded');
    expect(emu.refunds.size).toBe(1);
    const posts = emu.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(posts.map((r) => r.headers['idempotency-key'])).toEqual([o.outRefundNo, o.outRefundNo]);
    expect(posts[0]!.params).toMatchObject({
      payment_intent: paid.paymentIntent.id,
      amount: '990',
      metadata: { out_refund_no: o.outRefundNo, out_trade_no: o.outTradeNo },
    });
    expect((await members())[0]!.status).toBe('revoked');
    expect(t.gateway.roster('room-1').has('alice')).toBe(false);

    for (const e of emu.eventsOf('charge.refunded')) expect((await emu.deliver(e))[0]!.status).toBe(200);
    expect(await count('payments', { kind: 'refund' })).toBe(1);
    expect(await count('payments', { kind: 'charge' })).toBe(1);
    expect(await store().stats.revenueByCurrency()).toEqual([{ currency: 'USD', chargesMinor: 990, refundsMinor: 990, netMinor: 0 }]);
  });

  it('a refund Stripe answers "pending" is confirmed by its charge.refunded event', async () => {
    const { orderId, session } = await checkout();
    const paid = emu.pay(session.id);
    await emu.deliver(completedOf(paid.events));
    emu.refundStatus = 'pending';
    expect((await app().inject({ method: 'POST', url: `/api/orders/${orderId}/refund`, headers: auth, payload: {} })).statusCode).toBe(202);
    await t.service.worker.drain();
    expect((await order(orderId)).status).toBe('refund_pending');
    const [refunded] = emu.eventsOf('charge.refunded');
    expect((await emu.deliver(refunded!))[0]!.status).toBe(200);
    expect((await order(orderId)).status).toBe('refunded');
    expect(await count('payments', { kind: 'refund' })).toBe(1);
  });

  it('Stripe unreachable or refusing at checkout: 503 or 502, the order stays pending, nothing is granted', async () => {
    await checkout(); // creates the plan
    emu.mode = 'unreachable';
    const down = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'bob', planId, provider: 'stripe' },
    });
    expect(down.statusCode).toBe(503);
    emu.mode = 'rate_limited';
    expect(
      (
        await app().inject({
          method: 'POST',
          url: '/api/checkouts',
          headers: auth,
          payload: { platform: 'playground', userId: 'bob', planId, provider: 'stripe' },
        })
      ).statusCode,
    ).toBe(503);
    emu.mode = 'normal';
    const p = await app().inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [(await store().groups.list())[0]!.id], name: 'Tiny', price: '0.10', currency: 'USD', days: 1 },
    });
    const refused = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'bob', planId: p.json().id, provider: 'stripe' },
    });
    expect(refused.statusCode).toBe(502);
    const pending = (await store().orders.page({ status: 'pending', limit: 10 })).filter((o) => o.checkoutUrl === null);
    expect(pending).toHaveLength(3);
    // Reconcile asks Stripe about them (a bounded search by creation time) and finds no session: nothing changes.
    await t.clock.advance(3 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(emu.requests.some((r) => r.method === 'GET' && r.path === '/v1/checkout/sessions')).toBe(true);
    expect((await store().orders.page({ status: 'pending', limit: 10 })).filter((o) => o.checkoutUrl === null)).toHaveLength(3);
    expect(await count('membership_periods')).toBe(0);
  });

  it('a plan in a currency Stripe does not take is not sold through it', async () => {
    const g = await app().inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId: 'room-x', title: 'X' } });
    const p = await app().inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [g.json().id], name: 'Stars', price: '100', currency: 'XTR', days: 30 },
    });
    const c = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'carol', planId: p.json().id, provider: 'stripe' },
    });
    expect(c.statusCode).toBe(400);
    expect(c.json().message).toMatch(/stripe cannot take payments in XTR/);
    expect(emu.requests).toHaveLength(0);
  });

  it('a refund made in the Stripe dashboard revokes through charge.refunded', async () => {
    const { orderId, session } = await checkout();
    const paid = emu.pay(session.id);
    await emu.deliver(completedOf(paid.events));
    const { events } = emu.dashboardRefund(paid.paymentIntent.id);
    for (const e of events) expect((await emu.deliver(e))[0]!.status).toBe(200);
    expect((await order(orderId)).status).toBe('refunded');
    expect((await members())[0]!.status).toBe('revoked');
  });

  it("partial refunds in the Stripe dashboard are booked from charge.refunded and keep access; the owner's refund returns the rest", async () => {
    const { orderId, session } = await checkout();
    const paid = emu.pay(session.id);
    await emu.deliver(completedOf(paid.events));
    await t.service.worker.drain();
    const first = emu.dashboardRefund(paid.paymentIntent.id, 100).events.find((e) => e.type === 'charge.refunded')!;
    const second = emu.dashboardRefund(paid.paymentIntent.id, 200).events.find((e) => e.type === 'charge.refunded')!;
    // As Stripe sends it at this API version: the running total, no refunds list.
    expect(first.data.object).toMatchObject({ amount_refunded: 100, refunded: false });
    expect(first.data.object).not.toHaveProperty('refunds');
    // Out of order and again: 3.00 refunded in all, booked once each.
    for (const e of [second, first, second]) expect((await emu.deliver(e))[0]!.status).toBe(200);
    await t.service.worker.drain();
    expect((await order(orderId)).status).toBe('paid');
    expect((await members())[0]!.status).toBe('active');
    expect(t.gateway.of('remove')).toHaveLength(0);
    expect((await app().inject({ method: 'GET', url: `/api/orders/${orderId}`, headers: auth })).json()).toMatchObject({ status: 'paid', refundedMinor: 300 });

    expect((await app().inject({ method: 'POST', url: `/api/orders/${orderId}/refund`, headers: auth, payload: {} })).statusCode).toBe(202);
    await t.service.worker.drain();
    const posts = emu.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(posts.map((r) => r.params.amount)).toEqual(['690']);
    expect((await order(orderId)).status).toBe('refunded');
    expect((await members())[0]!.status).toBe('revoked');
    for (const e of emu.eventsOf('charge.refunded')) expect((await emu.deliver(e))[0]!.status).toBe(200);
    expect(await store().stats.revenueByCurrency()).toEqual([{ currency: 'USD', chargesMinor: 990, refundsMinor: 990, netMinor: 0 }]);
  });

  // A refund event for a still-pending order is booked, and the payment event that follows is held for
  // review (confirm-payment.ts) instead of granting access for money that already went back.
  it('out of order: the refund of a payment arrives before the payment — the member is not let in for money that went back', async () => {
    const { orderId, session } = await checkout();
    const paid = emu.pay(session.id);
    const refunded = emu.dashboardRefund(paid.paymentIntent.id).events.find((e) => e.type === 'charge.refunded')!;
    expect((await emu.deliver(refunded))[0]!.status).toBe(200);
    expect((await order(orderId)).status).toBe('pending');
    expect(await count('membership_periods')).toBe(0);
    expect((await emu.deliver(completedOf(paid.events)))[0]!.status).toBe(200);
    const o = await order(orderId);
    const active = (await members()).filter((m) => m.status === 'active');
    expect({ status: o.status, active: active.length }).toEqual({ status: 'review', active: 0 });
    expect(o.reviewReason).toMatch(/refund before this payment/);
  });

  it('a payment for an unknown order or of the wrong amount is acknowledged and never grants', async () => {
    const { orderId, order: o } = await checkout();
    // Sessions made at the same account by something else (the SDK here), paid by someone.
    const stray = await new Stripe(SECRET_KEY, { host: '127.0.0.1', port: emu.port, protocol: 'http' }).checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 990, product_data: { name: 'Other' } }, quantity: 1 }],
      success_url: 'https://example.com/ok',
      client_reference_id: 'f'.repeat(32),
    });
    expect((await emu.deliver(completedOf(emu.pay(stray.id).events)))[0]!.status).toBe(200);
    const short = await new Stripe(SECRET_KEY, { host: '127.0.0.1', port: emu.port, protocol: 'http' }).checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 989, product_data: { name: 'Monthly' } }, quantity: 1 }],
      success_url: 'https://example.com/ok',
      client_reference_id: o.outTradeNo,
    });
    expect((await emu.deliver(completedOf(emu.pay(short.id).events)))[0]!.status).toBe(200);
    expect(await outcomes()).toEqual(['unknown_order', 'review']);
    expect(await order(orderId)).toMatchObject({ status: 'review', reviewReason: expect.stringMatching(/amount mismatch/) });
    expect(await count('membership_periods')).toBe(0);
  });

  describe('bad webhook input', () => {
    const post = (payload: string | Buffer, headers: Record<string, string>) =>
      app().inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', ...headers }, payload });

    it("missing header 400, bad signature 401, stale 401, changed or re-serialized body 401, malformed 400 — none takes the event's slot", async () => {
      const { orderId, session } = await checkout();
      const completed = completedOf(emu.pay(session.id).events);
      const { payload, header } = emu.sign(completed);

      expect((await post(payload, {})).statusCode).toBe(400);
      const forged = header.replace(/v1=([0-9a-f])/, (_m, c: string) => `v1=${c === '0' ? '1' : '0'}`);
      expect((await post(payload, { 'stripe-signature': forged })).statusCode).toBe(401);
      const stale = emu.sign(completed, { at: Math.floor(t.clock.now() / 1000) - 301 });
      expect((await post(stale.payload, { 'stripe-signature': stale.header })).statusCode).toBe(401);
      expect((await post(payload.replace('"amount_total": 990', '"amount_total": 99'), { 'stripe-signature': header })).statusCode).toBe(401);
      expect((await post(JSON.stringify(JSON.parse(payload)), { 'stripe-signature': header })).statusCode).toBe(401);
      const otherSecret = emu.sign(completed, { secret: 'whsec_notThisEndpointsSecret0000' });
      expect((await post(otherSecret.payload, { 'stripe-signature': otherSecret.header })).statusCode).toBe(401);
      const garbage = '{"this is": not json';
      const garbageHeader = sdk.webhooks.generateTestHeaderString({ payload: garbage, secret: WEBHOOK_SECRET, timestamp: Math.floor(t.clock.now() / 1000) });
      const r = await post(garbage, { 'stripe-signature': garbageHeader });
      expect(r.statusCode).toBe(400);
      expect(r.body).not.toMatch(/at .*\.ts/);

      expect((await order(orderId)).status).toBe('pending');
      expect(await count('webhook_events')).toBe(0);
      expect(t.logger.lines.filter((l) => l.msg === 'webhook rejected')).toHaveLength(7);
      // The genuine delivery still goes through.
      expect((await post(payload, { 'stripe-signature': header })).statusCode).toBe(200);
      expect((await order(orderId)).status).toBe('paid');
    });

    it('an event signed by the official SDK is accepted through the route', async () => {
      const { orderId, session } = await checkout();
      const completed = completedOf(emu.pay(session.id).events);
      const payload = JSON.stringify(completed);
      const header = sdk.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET, timestamp: Math.floor(t.clock.now() / 1000) });
      const res = await post(payload, { 'stripe-signature': header });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ received: true });
      expect((await order(orderId)).status).toBe('paid');
    });

    it('a refund event for an order never paid changes nothing', async () => {
      const { orderId, order: o } = await checkout();
      const fake = {
        id: 'evt_refund_unpaid',
        object: 'event',
        api_version: '2024-06-20',
        created: Math.floor(t.clock.now() / 1000),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type: 'charge.refunded',
        data: {
          object: {
            id: 'ch_x',
            object: 'charge',
            amount: 990,
            amount_captured: 990,
            amount_refunded: 990,
            currency: 'usd',
            refunded: true,
            payment_intent: 'pi_x',
            metadata: { out_trade_no: o.outTradeNo },
            created: 1,
          },
        },
      };
      const payload = JSON.stringify(fake);
      const res = await post(payload, {
        'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET, timestamp: Math.floor(t.clock.now() / 1000) }),
      });
      expect(res.statusCode).toBe(200);
      expect((await order(orderId)).status).toBe('pending');
      expect(await count('membership_periods')).toBe(0);
    });
  });
});
