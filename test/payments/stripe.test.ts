// StripeProvider against the strict loopback emulator, with the official SDK as a second, independent
// client of the same emulator: create, query, expire, refund, and failures typed by who failed.
import { testPlan } from '../helpers/fixtures.ts';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Order, Plan } from '../../src/app/model.ts';
import type { CheckoutRequest } from '../../src/app/ports.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { HOUR_MS, MINUTE_MS } from '../../src/domain/time.ts';
import { StripeApiError } from '../../src/payments/stripe/stripe-api.ts';
import { StripeProvider } from '../../src/payments/stripe/stripe-provider.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { StripeEmulator } from '../fakes/stripe-emulator.ts';

const SECRET_KEY = 'sk_test_51GatekeeperEmuKey0123456789';
const WEBHOOK_SECRET = 'whsec_emulatorSigningSecret0123456789abc';

let clock: FakeClock;
let emu: StripeEmulator;
let provider: StripeProvider;
let sdk: Stripe;
let seq = 0;

beforeEach(async () => {
  clock = new FakeClock();
  emu = await StripeEmulator.start({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, now: () => clock.now() });
  provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: emu.url }, clock, { timeoutMs: 1000 });
  sdk = new Stripe(SECRET_KEY, { host: '127.0.0.1', port: emu.port, protocol: 'http', maxNetworkRetries: 0 });
});
afterEach(async () => {
  await emu.close();
});

const plan = testPlan({ currency: 'USD' });

function newOrder(over: Partial<Order> = {}): Order {
  const now = clock.now();
  seq++;
  return {
    id: `order${seq}`,
    outTradeNo: `${seq}`.padStart(32, 'f'),
    accountId: 1,
    planId: 1,
    amountMinor: 990,
    currency: 'USD',
    provider: 'stripe',
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 15 * MINUTE_MS,
    paidAt: null,
    providerTxnId: null,
    reviewReason: null,
    checkoutQr: null,
    checkoutUrl: null,
    outRefundNo: null,
    refundReason: null,
    refundedAt: null,
    ...over,
  };
}

const request = (order: Order, p: Plan = plan): CheckoutRequest => ({
  order,
  plan: p,
  notifyUrl: 'http://gk.test/webhooks/stripe',
  payPageUrl: `http://gk.test/pay/${order.id}`,
});

/** Creates the checkout and returns the order as the core stores it afterwards. */
async function checkedOut(over: Partial<Order> = {}) {
  const order = newOrder(over);
  const c = await provider.createCheckout(request(order));
  const stored: Order = { ...order, checkoutQr: c.qrContent, checkoutUrl: c.payUrl };
  const session = emu.sessionFor(order.outTradeNo)!;
  return { order: stored, checkout: c, session };
}

const thrown = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
};

describe('createCheckout', () => {
  it('creates a form-encoded Checkout Session that names the order, and returns its URL as QR and link', async () => {
    const { order, checkout, session } = await checkedOut();
    const req = emu.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/checkout/sessions');
    expect(req.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.headers['stripe-version']).toBe('2024-06-20');
    expect(req.params).toEqual({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: '990', product_data: { name: 'Monthly' } }, quantity: '1' }],
      success_url: `http://gk.test/pay/${order.id}`,
      cancel_url: `http://gk.test/pay/${order.id}`,
      client_reference_id: order.outTradeNo,
      metadata: { out_trade_no: order.outTradeNo },
      payment_intent_data: { metadata: { out_trade_no: order.outTradeNo } },
      expires_at: String(Math.ceil((clock.now() + 31 * MINUTE_MS) / 1000)),
    });
    expect(checkout).toEqual({ qrContent: session.url, payUrl: session.url });
    expect(session.url).toContain(session.id);
    // The official SDK reads the same session back from the emulator.
    const viaSdk = await sdk.checkout.sessions.retrieve(session.id);
    expect(viaSdk).toMatchObject({
      id: session.id,
      client_reference_id: order.outTradeNo,
      amount_total: 990,
      currency: 'usd',
      status: 'open',
      payment_status: 'unpaid',
    });
  });

  it('keeps a long order window as is, and sends whole units for a zero-decimal currency', async () => {
    const order = newOrder({ amountMinor: 500, currency: 'JPY', expiresAt: clock.now() + 3 * HOUR_MS });
    await provider.createCheckout(request(order, { ...plan, priceMinor: 500, currency: 'JPY' }));
    expect(emu.requests.at(-1)!.params).toMatchObject({
      line_items: [{ price_data: { currency: 'jpy', unit_amount: '500' } }],
      expires_at: String((clock.now() + 3 * HOUR_MS) / 1000),
    });
  });

  it('refuses before calling Stripe what Stripe would refuse', async () => {
    const e = await thrown(provider.createCheckout(request(newOrder({ amountMinor: 1235, currency: 'KWD' }))));
    expect(e).toBeInstanceOf(ProviderRejectedError);
    expect(emu.requests).toHaveLength(0);
  });

  it('a 400 from Stripe is a rejection carrying its error code', async () => {
    const e = await thrown(provider.createCheckout(request(newOrder({ amountMinor: 10 }))));
    expect(e).toBeInstanceOf(StripeApiError);
    expect(e).toBeInstanceOf(ProviderRejectedError);
    expect(e).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'amount_too_small', method: 'POST /v1/checkout/sessions' });
  });
});

describe('query', () => {
  it('open → pending; paid → a paid event keyed on the PaymentIntent, dated at the charge; expired → closed', async () => {
    const { order, session } = await checkedOut();
    expect(await provider.query(order)).toEqual({ state: 'pending' });

    await clock.advance(90_000);
    const paid = emu.pay(session.id);
    await clock.advance(10 * MINUTE_MS);
    expect(await provider.query(order)).toEqual({
      state: 'paid',
      event: {
        type: 'paid',
        eventId: `query:${session.id}`,
        outTradeNo: order.outTradeNo,
        providerTxnId: paid.paymentIntent.id,
        amountMinor: 990,
        currency: 'USD',
        merchantId: null,
        paidAt: paid.charge!.created * 1000,
      },
    });
    expect(paid.charge!.created * 1000).toBe(Date.UTC(2026, 0, 1) + 90_000);

    const other = await checkedOut();
    await clock.advance(31 * MINUTE_MS);
    expect(await provider.query(other.order)).toEqual({ state: 'closed' });
    expect(emu.sessions.get(other.session.id)!.status).toBe('expired');
  });

  it('a delayed payment is pending until it settles', async () => {
    const { order, session } = await checkedOut();
    emu.pay(session.id, { delayed: true });
    expect(await provider.query(order)).toEqual({ state: 'pending' });
    emu.settleDelayed(session.id);
    expect((await provider.query(order)).state).toBe('paid');
  });

  it('refunded in full → refunded; a partial refund is still paid', async () => {
    const { order, session } = await checkedOut();
    const { paymentIntent } = emu.pay(session.id);
    emu.dashboardRefund(paymentIntent.id, 100);
    expect((await provider.query(order)).state).toBe('paid');
    emu.dashboardRefund(paymentIntent.id);
    expect(await provider.query(order)).toEqual({ state: 'refunded' });
  });

  it('a pending refund is not yet a refund', async () => {
    const { order, session } = await checkedOut();
    const { paymentIntent } = emu.pay(session.id);
    emu.refundStatus = 'pending';
    expect(await provider.refund({ order: { ...order, providerTxnId: paymentIntent.id }, outRefundNo: 'r'.repeat(32), amountMinor: 990, reason: 'x' })).toEqual(
      { state: 'processing' },
    );
    expect((await provider.query(order)).state).toBe('paid');
    emu.settleRefund([...emu.refunds.keys()][0]!, 'succeeded');
    expect((await provider.query(order)).state).toBe('refunded');
  });

  it('without a session id in the stored URL, finds the session by its creation time and order number', async () => {
    await emu.close();
    emu = await StripeEmulator.start({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, now: () => clock.now(), urlStyle: 'opaque' });
    provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: emu.url }, clock);
    // Crowd the window: the search (newest first, 100 a page) must page past newer sessions.
    for (let i = 0; i < 20; i++) await checkedOut();
    const { order, session, checkout } = await checkedOut();
    for (let i = 0; i < 130; i++) await checkedOut();
    expect(checkout.payUrl).not.toContain(session.id);
    emu.pay(session.id);
    const before = emu.requests.length;
    const r = await provider.query(order);
    expect(r.state).toBe('paid');
    const lists = emu.requests.slice(before).filter((q) => q.path === '/v1/checkout/sessions' && q.method === 'GET');
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect(lists[0]!.params).toMatchObject({ created: { gte: expect.any(String), lte: expect.any(String) }, limit: '100' });
    // An order whose checkout never reached Stripe: unknown, after a bounded search.
    expect(await provider.query(newOrder({ checkoutUrl: null }))).toEqual({ state: 'unknown' });
  });

  it("a stored URL naming another order's session, or a session Stripe does not know, is unknown", async () => {
    const a = await checkedOut();
    const b = await checkedOut();
    expect(await provider.query({ ...b.order, checkoutUrl: a.order.checkoutUrl })).toEqual({ state: 'unknown' });
    expect(await provider.query({ ...b.order, checkoutUrl: 'https://checkout.stripe.com/c/pay/cs_test_a1NoSuchSession0000000000#x' })).toEqual({
      state: 'unknown',
    });
  });
});

describe('close', () => {
  it('expires an open session; a second close is a no-op; a paid session refuses', async () => {
    const { order, session } = await checkedOut();
    await provider.close(order);
    expect(emu.sessions.get(session.id)!.status).toBe('expired');
    expect(emu.eventsOf('checkout.session.expired', session.id)).toHaveLength(1);
    expect(emu.requests.filter((r) => r.path.endsWith('/expire'))).toHaveLength(1);
    await provider.close(order);
    expect(emu.requests.filter((r) => r.path.endsWith('/expire'))).toHaveLength(1);
    expect(() => emu.pay(session.id)).toThrow(/expired/);

    const paid = await checkedOut();
    emu.pay(paid.session.id);
    const e = await thrown(provider.close(paid.order));
    expect(e).toBeInstanceOf(ProviderRejectedError);
    expect(String((e as Error).message)).toMatch(/complete/);
  });

  it('a session that changed between our look and the expire call: expired by Stripe is fine, paid is refused', async () => {
    const a = await checkedOut();
    // Stripe expires it on its own (expires_at reached) just as our expire call lands.
    emu.onRequest = (method, path) => {
      if (method === 'POST' && path === `/v1/checkout/sessions/${a.session.id}/expire`)
        emu.sessions.get(a.session.id)!.expires_at = Math.floor(clock.now() / 1000);
    };
    await provider.close(a.order);
    expect(emu.sessions.get(a.session.id)!.status).toBe('expired');
    expect(emu.requests.filter((r) => r.path.endsWith('/expire')).map((r) => r.status)).toEqual([400]);

    // The member pays just as our expire call lands.
    const b = await checkedOut();
    emu.onRequest = (method, path) => {
      if (method === 'POST' && path === `/v1/checkout/sessions/${b.session.id}/expire`) emu.pay(b.session.id);
    };
    await expect(provider.close(b.order)).rejects.toBeInstanceOf(ProviderRejectedError);
    expect(emu.sessions.get(b.session.id)!.status).toBe('complete');
    emu.onRequest = undefined;
  });

  it('nothing to close when no session exists', async () => {
    await provider.close(newOrder());
    expect(emu.requests.every((r) => r.method === 'GET')).toBe(true);
  });
});

describe('refund', () => {
  async function paidOrder() {
    const { order, session } = await checkedOut();
    const { paymentIntent } = emu.pay(session.id);
    return { order: { ...order, status: 'refund_pending' as const, providerTxnId: paymentIntent.id, outRefundNo: `${seq}`.padStart(32, 'e') }, paymentIntent };
  }

  it('refunds the PaymentIntent with the refund number as idempotency key', async () => {
    const { order, paymentIntent } = await paidOrder();
    const r = await provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 990, reason: 'requested by owner' });
    expect(r).toEqual({ state: 'refunded', providerRefundId: [...emu.refunds.keys()][0] });
    expect(r).toMatchObject({ providerRefundId: expect.stringMatching(/^re_/) });
    const req = emu.requests.at(-1)!;
    expect(req.path).toBe('/v1/refunds');
    expect(req.headers['idempotency-key']).toBe(order.outRefundNo);
    expect(req.params).toEqual({
      payment_intent: paymentIntent.id,
      amount: '990',
      metadata: { out_refund_no: order.outRefundNo, out_trade_no: order.outTradeNo, reason: 'requested by owner' },
    });
    expect([...emu.refunds.values()]).toEqual([expect.objectContaining({ amount: 990, status: 'succeeded', payment_intent: paymentIntent.id })]);
    expect(emu.charges.get(emu.paymentIntents.get(paymentIntent.id)!.latest_charge!)!.refunded).toBe(true);
  });

  it('a retry after a lost answer is the same refund, never a second one', async () => {
    const { order } = await paidOrder();
    emu.mode = 'lose_response';
    const e = await thrown(provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 990, reason: 'x' }));
    expect(e).toBeInstanceOf(ProviderUnreachableError);
    expect(emu.refunds.size).toBe(1);
    emu.mode = 'normal';
    expect((await provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 990, reason: 'x' })).state).toBe('refunded');
    expect(emu.refunds.size).toBe(1);
    expect(emu.requests.filter((r) => r.path === '/v1/refunds' && r.method === 'POST').map((r) => r.headers['idempotency-key'])).toEqual([
      order.outRefundNo,
      order.outRefundNo,
    ]);
  });

  it('a retry after the key has expired (or a dashboard refund meanwhile) still reports the money as returned', async () => {
    const { order } = await paidOrder();
    expect((await provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 990, reason: 'x' })).state).toBe('refunded');
    await clock.advance(25 * HOUR_MS);
    expect(await provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 990, reason: 'x' })).toEqual({
      state: 'refunded',
      providerRefundId: `refund:${order.outRefundNo}`,
    });
    expect(emu.refunds.size).toBe(1);
  });

  it('the same key with other parameters, too large an amount, or no payment is a rejection', async () => {
    const { order } = await paidOrder();
    await provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 500, reason: 'x' });
    await expect(provider.refund({ order, outRefundNo: order.outRefundNo, amountMinor: 490, reason: 'x' })).rejects.toMatchObject({
      type: 'idempotency_error',
    });
    await expect(provider.refund({ order, outRefundNo: 'f'.repeat(32), amountMinor: 600, reason: 'x' })).rejects.toMatchObject({ code: 'amount_too_large' });
    await expect(
      provider.refund({ order: { ...order, providerTxnId: null }, outRefundNo: 'g'.repeat(32), amountMinor: 990, reason: 'x' }),
    ).rejects.toBeInstanceOf(ProviderRejectedError);
  });
});

describe('typed failures', () => {
  it('unreachable, timing out, 5xx and 429 are "unreachable"; the state is left to reconcile', async () => {
    const order = newOrder();
    for (const mode of ['unreachable', 'hang', 'error500', 'rate_limited'] as const) {
      emu.mode = mode;
      const e = await thrown(provider.createCheckout(request(order)));
      expect(e, mode).toBeInstanceOf(ProviderUnreachableError);
      expect(e, mode).not.toBeInstanceOf(ProviderRejectedError);
      expect((e as ProviderUnreachableError).method, mode).toBe('POST /v1/checkout/sessions');
      if (mode === 'unreachable' || mode === 'hang') expect((e as Error).cause, mode).toBeInstanceOf(Error);
      await expect(provider.query({ ...order, checkoutUrl: 'https://checkout.stripe.com/c/pay/cs_test_a1Whatever000000000#x' }), mode).rejects.toBeInstanceOf(
        ProviderUnreachableError,
      );
    }
    emu.mode = 'normal';
    expect(emu.sessions.size).toBe(0);
    await emu.close();
    await expect(provider.createCheckout(request(order))).rejects.toBeInstanceOf(ProviderUnreachableError);
    // So afterEach can close something.
    emu = await StripeEmulator.start({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, now: () => clock.now() });
  });

  it('a wrong key is a rejection whose message does not carry the key', async () => {
    const wrong = new StripeProvider({ secretKey: 'sk_test_51SomebodyElsesKey00000000', webhookSecret: WEBHOOK_SECRET, apiBase: emu.url }, clock);
    const e = await thrown(wrong.createCheckout(request(newOrder())));
    expect(e).toBeInstanceOf(ProviderRejectedError);
    expect(e).toMatchObject({ status: 401 });
    expect((e as Error).message).not.toMatch(/sk_test_51Somebody/);
    expect(emu.sessions.size).toBe(0);
  });
});

describe('the emulator is strict, and speaks what the official SDK expects', () => {
  const raw = (path: string, init: RequestInit = {}) =>
    fetch(`${emu.url}${path}`, init).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { error?: { type: string; code?: string; message: string; param?: string } } & Record<string, unknown>,
      headers: r.headers,
    }));
  const auth = { authorization: `Bearer ${SECRET_KEY}` };
  const form = { ...auth, 'content-type': 'application/x-www-form-urlencoded' };
  const validSession = `mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=990&line_items[0][price_data][product_data][name]=M&line_items[0][quantity]=1&success_url=${encodeURIComponent('https://gk.test/pay/1')}`;

  it("401 without the right bearer key, in Stripe's error shape", async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer sk_test_wrong0000000000' },
      { authorization: `Basic ${Buffer.from(`${SECRET_KEY}:`).toString('base64')}` },
    ]) {
      const r = await raw('/v1/checkout/sessions/cs_test_x', { headers });
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.any(String) });
    }
  });

  it('400 for JSON bodies, unknown or missing parameters, bad values; 404 for unknown objects and URLs', async () => {
    expect(
      (await raw('/v1/checkout/sessions', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"mode":"payment"}' })).status,
    ).toBe(400);
    expect((await raw('/v1/checkout/sessions', { method: 'POST', headers: form, body: `${validSession}&foo=1` })).body.error).toMatchObject({
      code: 'parameter_unknown',
      param: 'foo',
    });
    expect((await raw('/v1/checkout/sessions', { method: 'POST', headers: form, body: validSession.replace('mode=payment&', '') })).body.error).toMatchObject({
      code: 'parameter_missing',
      param: 'mode',
    });
    expect((await raw('/v1/checkout/sessions', { method: 'POST', headers: form, body: validSession.replace('=usd', '=USD') })).status).toBe(400);
    const soon = Math.floor(clock.now() / 1000) + 29 * 60;
    expect((await raw('/v1/checkout/sessions', { method: 'POST', headers: form, body: `${validSession}&expires_at=${soon}` })).body.error).toMatchObject({
      param: 'expires_at',
    });
    expect((await raw('/v1/checkout/sessions/cs_test_nope', { headers: auth })).body.error).toMatchObject({ code: 'resource_missing' });
    expect((await raw('/v1/checkout/sessions/cs_test_nope', { headers: auth })).status).toBe(404);
    expect((await raw('/v1/charges', { headers: auth })).status).toBe(404);
    expect(emu.sessions.size).toBe(0);
  });

  it('replays an idempotent request, refuses the key for other parameters', async () => {
    const headers = { ...form, 'idempotency-key': 'k1' };
    const a = await raw('/v1/checkout/sessions', { method: 'POST', headers, body: validSession });
    const b = await raw('/v1/checkout/sessions', { method: 'POST', headers, body: validSession });
    expect(a.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(emu.sessions.size).toBe(1);
    const c = await raw('/v1/checkout/sessions', { method: 'POST', headers, body: validSession.replace('990', '991') });
    expect(c.status).toBe(400);
    expect(c.body.error!.type).toBe('idempotency_error');
  });

  it('the SDK creates, reads, lists, expires and refunds through it, and gets typed errors back', async () => {
    const order = newOrder();
    const created = await sdk.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 990, product_data: { name: 'Monthly' } }, quantity: 1 }],
      success_url: 'https://gk.test/pay/x',
      client_reference_id: order.outTradeNo,
      metadata: { out_trade_no: order.outTradeNo },
      payment_intent_data: { metadata: { out_trade_no: order.outTradeNo } },
    });
    expect(created.url).toContain(created.id);
    // Our provider finds and reads what the SDK created.
    const stored = { ...order, checkoutUrl: created.url };
    expect(await provider.query(stored)).toEqual({ state: 'pending' });
    const listed = await sdk.checkout.sessions.list({ created: { gte: Math.floor(clock.now() / 1000) - 1 }, limit: 5 });
    expect(listed.data.map((s) => s.id)).toEqual([created.id]);

    const { paymentIntent } = emu.pay(created.id);
    const pi = await sdk.paymentIntents.retrieve(paymentIntent.id, { expand: ['latest_charge'] });
    expect(typeof pi.latest_charge === 'object' && pi.latest_charge?.amount).toBe(990);
    const refund = await sdk.refunds.create({ payment_intent: paymentIntent.id, amount: 990 });
    expect(refund.status).toBe('succeeded');
    expect(await provider.query(stored)).toEqual({ state: 'refunded' });

    const err = await thrown(sdk.checkout.sessions.create({ mode: 'payment', success_url: 'https://gk.test/x' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'line_items' });
    const expired = await thrown(sdk.checkout.sessions.expire(created.id));
    expect(expired).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });
    const badKey = new Stripe('sk_test_51NotTheEmulatorKey000', { host: '127.0.0.1', port: emu.port, protocol: 'http', maxNetworkRetries: 0 });
    expect(await thrown(badKey.checkout.sessions.retrieve(created.id))).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });
});
