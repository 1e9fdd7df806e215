// Stripe webhook verification and event meaning, checked against the official SDK: its
// generateTestHeaderString signs, our parseWebhook must accept; our emulator signs, its constructEvent
// must accept. Plus the pure pieces: form encoding, currencies, session expiry clamping.
import { testPlan } from '../helpers/fixtures.ts';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { Order } from '../../src/app/model.ts';
import { type ProviderEvent, WebhookRejectedError } from '../../src/app/ports.ts';
import { MINUTE_MS, HOUR_MS } from '../../src/domain/time.ts';
import { sessionExpiresAt, sessionIdFromUrl, sessionParams } from '../../src/payments/stripe/stripe-checkout.ts';
import { stripeAmountProblem } from '../../src/payments/stripe/stripe-currency.ts';
import { encodeForm } from '../../src/payments/stripe/stripe-form.ts';
import { StripeProvider } from '../../src/payments/stripe/stripe-provider.ts';
import { parseSignatureHeader, verifyStripeSignature } from '../../src/payments/stripe/stripe-signature.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { decodeForm, StripeEmulator } from '../fakes/stripe-emulator.ts';

const SECRET_KEY = 'sk_test_51GatekeeperUnitKey0123456789';
const WEBHOOK_SECRET = 'whsec_unitTestSigningSecret0123456789abcdef';
const sdk = new Stripe(SECRET_KEY);

function setup() {
  const clock = new FakeClock();
  const provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: 'http://127.0.0.1:9' }, clock);
  const nowS = () => Math.floor(clock.now() / 1000);
  /** Signed by the SDK, not by us. */
  const sdkSigned = (payload: string, opts: { timestamp?: number; secret?: string } = {}) => ({
    body: Buffer.from(payload),
    headers: {
      'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WEBHOOK_SECRET, timestamp: opts.timestamp ?? nowS() }),
    },
  });
  return { clock, provider, nowS, sdkSigned };
}

const rejection = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof WebhookRejectedError) return e.rejection;
    throw e;
  }
  return 'accepted';
};

function sessionObject(over: Record<string, unknown> = {}) {
  return {
    id: 'cs_test_a1SessionUnit000000000000000000000000000000',
    object: 'checkout.session',
    url: null,
    mode: 'payment',
    status: 'complete',
    payment_status: 'paid',
    payment_intent: 'pi_unit0000000000000001',
    amount_total: 990,
    amount_subtotal: 990,
    currency: 'usd',
    client_reference_id: 'a'.repeat(32),
    metadata: { out_trade_no: 'a'.repeat(32) },
    created: 1_767_225_600,
    expires_at: 1_767_227_460,
    livemode: false,
    ...over,
  };
}

function event(type: string, object: Record<string, unknown>, over: Record<string, unknown> = {}) {
  return JSON.stringify({
    id: `evt_unit_${type.replace(/\W/g, '_')}`,
    object: 'event',
    api_version: '2024-06-20',
    created: 1_767_225_700,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
    ...over,
  });
}

describe('Stripe-Signature verification', () => {
  it('accepts a header made by the official SDK, over the raw bytes', async () => {
    const { provider, sdkSigned } = setup();
    const signed = sdkSigned(event('checkout.session.completed', sessionObject()));
    const e = await provider.parseWebhook(signed.body, signed.headers);
    expect(e).toMatchObject({ type: 'paid', eventId: 'evt_unit_checkout_session_completed' });
  });

  it('accepts any one matching v1 among several (secret rotation), and only v1', async () => {
    const { provider, sdkSigned, nowS } = setup();
    const payload = event('checkout.session.completed', sessionObject());
    const good = /v1=([0-9a-f]{64})/.exec(sdkSigned(payload).headers['stripe-signature'])![1]!;
    const other = /v1=([0-9a-f]{64})/.exec(sdkSigned(payload, { secret: 'whsec_theOldSecretBeingRolledOut000' }).headers['stripe-signature'])![1]!;
    const t = nowS();
    for (const header of [`t=${t},v1=${other},v1=${good}`, `t=${t},v1=${good},v1=${other}`, `v1=${other},t=${t},v0=${'0'.repeat(64)},v1=${good}`]) {
      expect(await rejection(provider.parseWebhook(Buffer.from(payload), { 'stripe-signature': header }))).toBe('accepted');
    }
    expect(await rejection(provider.parseWebhook(Buffer.from(payload), { 'stripe-signature': `t=${t},v1=${other}` }))).toBe('bad_signature');
    // The right HMAC under the v0 (test) scheme does not count.
    expect(await rejection(provider.parseWebhook(Buffer.from(payload), { 'stripe-signature': `t=${t},v0=${good}` }))).toBe('bad_signature');
  });

  it('allows 300 s of skew either way and no more', async () => {
    const { provider, sdkSigned, nowS } = setup();
    const payload = event('checkout.session.completed', sessionObject());
    const at = async (offset: number) => {
      const s = sdkSigned(payload, { timestamp: nowS() + offset });
      return rejection(provider.parseWebhook(s.body, s.headers));
    };
    expect(await at(-300)).toBe('accepted');
    expect(await at(300)).toBe('accepted');
    expect(await at(-301)).toBe('bad_signature');
    expect(await at(301)).toBe('bad_signature');
    expect(await at(-86_400)).toBe('bad_signature');
  });

  it('rejects a changed body, a re-serialized body and a wrong secret', async () => {
    const { provider, sdkSigned } = setup();
    const payload = JSON.stringify(JSON.parse(event('checkout.session.completed', sessionObject())), null, 2);
    const signed = sdkSigned(payload);
    expect(await rejection(provider.parseWebhook(signed.body, signed.headers))).toBe('accepted');
    const tampered = Buffer.from(payload.replace('"amount_total": 990', '"amount_total": 1'));
    expect(tampered.equals(signed.body)).toBe(false);
    expect(await rejection(provider.parseWebhook(tampered, signed.headers))).toBe('bad_signature');
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(payload)));
    expect(await rejection(provider.parseWebhook(reserialized, signed.headers))).toBe('bad_signature');
    const wrongSecret = sdkSigned(payload, { secret: 'whsec_someoneElsesEndpointSecret00' });
    expect(await rejection(provider.parseWebhook(wrongSecret.body, wrongSecret.headers))).toBe('bad_signature');
  });

  it('tells a missing header from a garbled one', async () => {
    const { provider, nowS } = setup();
    const body = Buffer.from(event('checkout.session.completed', sessionObject()));
    expect(await rejection(provider.parseWebhook(body, {}))).toBe('missing_signature');
    expect(await rejection(provider.parseWebhook(body, { 'stripe-signature': '  ' }))).toBe('missing_signature');
    for (const h of [
      'garbage',
      `t=${nowS()}`,
      `v1=${'a'.repeat(64)}`,
      `t=abc,v1=${'a'.repeat(64)}`,
      `t=${nowS()},t=${nowS()},v1=${'a'.repeat(64)}`,
      `t=${nowS()},v1=${'a'.repeat(63)}`,
      'x'.repeat(5000),
    ]) {
      expect(await rejection(provider.parseWebhook(body, { 'stripe-signature': h }))).toBe('bad_signature');
    }
    expect(() => parseSignatureHeader(`t=1,v1=${'A'.repeat(64)}`)).not.toThrow();
  });

  it('rejects garbage that is correctly signed as malformed', async () => {
    const { provider, sdkSigned } = setup();
    for (const payload of [
      'not json at all',
      '[]',
      '{"id":"evt_1","object":"charge"}',
      event('checkout.session.completed', { id: 'cs_test_x', object: 'checkout.session' }),
    ]) {
      const s = sdkSigned(payload);
      expect(await rejection(provider.parseWebhook(s.body, s.headers))).toBe('malformed');
    }
    // A paid session without the payment it claims.
    const s = sdkSigned(event('checkout.session.completed', sessionObject({ payment_intent: null })));
    expect(await rejection(provider.parseWebhook(s.body, s.headers))).toBe('malformed');
  });

  it('the SDK verifies what the emulator signs, and refuses it under another secret or after 300 s', async () => {
    const clock = new FakeClock();
    const emu = await StripeEmulator.start({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, now: () => clock.now() });
    try {
      const session = await fetch(`${emu.url}/v1/checkout/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: encodeForm({
          mode: 'payment',
          line_items: [{ price_data: { currency: 'usd', unit_amount: 990, product_data: { name: 'Monthly' } }, quantity: 1 }],
          success_url: 'http://gk.test/pay/x',
          client_reference_id: 'b'.repeat(32),
        }),
      }).then((r) => r.json() as Promise<{ id: string }>);
      const paid = emu.pay(session.id);
      const completed = paid.events.find((e) => e.type === 'checkout.session.completed')!;
      const { payload, header } = emu.sign(completed);
      const verified = sdk.webhooks.constructEvent(payload, header, WEBHOOK_SECRET, undefined, undefined, clock.now());
      expect(verified.id).toBe(completed.id);
      expect(verified.type).toBe('checkout.session.completed');
      expect(() => sdk.webhooks.constructEvent(payload, header, 'whsec_notTheEndpointSecret000000', undefined, undefined, clock.now())).toThrow(
        Stripe.errors.StripeSignatureVerificationError,
      );
      expect(() => sdk.webhooks.constructEvent(payload, header, WEBHOOK_SECRET, 300, undefined, clock.now() + 301_000)).toThrow(/tolerance/);
      // And our verifier agrees with the SDK on the same bytes.
      const provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: emu.url }, clock);
      const e = await provider.parseWebhook(Buffer.from(payload), { 'stripe-signature': header });
      expect(e).toEqual({
        type: 'paid',
        eventId: completed.id,
        outTradeNo: 'b'.repeat(32),
        providerTxnId: paid.paymentIntent.id,
        amountMinor: 990,
        currency: 'USD',
        merchantId: null,
        paidAt: completed.created * 1000,
      });
    } finally {
      await emu.close();
    }
  });

  it('verifyStripeSignature returns the signed timestamp', () => {
    const clock = new FakeClock();
    const t = Math.floor(clock.now() / 1000) - 10;
    const header = sdk.webhooks.generateTestHeaderString({ payload: '{}', secret: WEBHOOK_SECRET, timestamp: t });
    expect(verifyStripeSignature(Buffer.from('{}'), header, WEBHOOK_SECRET, clock.now())).toBe(t);
  });
});

describe('what a Stripe event means', () => {
  const parse = async (payload: string) => {
    const { provider, sdkSigned } = setup();
    const s = sdkSigned(payload);
    return provider.parseWebhook(s.body, s.headers);
  };
  const ours = 'a'.repeat(32);

  it('completed + paid → paid, keyed on the PaymentIntent, currency upper-cased, paid at the event time', async () => {
    expect(await parse(event('checkout.session.completed', sessionObject()))).toEqual({
      type: 'paid',
      eventId: 'evt_unit_checkout_session_completed',
      outTradeNo: ours,
      providerTxnId: 'pi_unit0000000000000001',
      amountMinor: 990,
      currency: 'USD',
      merchantId: null,
      paidAt: 1_767_225_700_000,
    });
  });

  it('a zero-decimal currency is whole units on both sides', async () => {
    expect(await parse(event('checkout.session.completed', sessionObject({ amount_total: 500, currency: 'jpy' })))).toMatchObject({
      amountMinor: 500,
      currency: 'JPY',
    });
  });

  it('a delayed payment: completed unpaid is ignored, async_payment_succeeded pays under the same transaction id, async_payment_failed fails', async () => {
    expect(await parse(event('checkout.session.completed', sessionObject({ payment_status: 'unpaid' })))).toMatchObject({ type: 'ignored' });
    const later = (await parse(event('checkout.session.async_payment_succeeded', sessionObject()))) as Extract<ProviderEvent, { type: 'paid' }>;
    expect(later).toMatchObject({ type: 'paid', providerTxnId: 'pi_unit0000000000000001', outTradeNo: ours });
    expect(await parse(event('checkout.session.async_payment_failed', sessionObject({ payment_status: 'unpaid' })))).toMatchObject({
      type: 'failed',
      outTradeNo: ours,
    });
  });

  it('client_reference_id or metadata names the order; a session of someone else is ignored', async () => {
    expect(await parse(event('checkout.session.completed', sessionObject({ metadata: {} })))).toMatchObject({ type: 'paid', outTradeNo: ours });
    expect(await parse(event('checkout.session.completed', sessionObject({ client_reference_id: null })))).toMatchObject({ type: 'paid', outTradeNo: ours });
    expect(await parse(event('checkout.session.completed', sessionObject({ client_reference_id: null, metadata: {} })))).toMatchObject({ type: 'ignored' });
    expect(await parse(event('checkout.session.completed', sessionObject({ client_reference_id: 'c'.repeat(32) })))).toMatchObject({ type: 'ignored' });
    expect(await parse(event('checkout.session.completed', sessionObject({ mode: 'setup' })))).toMatchObject({ type: 'ignored' });
  });

  describe('subscriptions', () => {
    const sub = 'sub_unit000000000001';
    const invoice = (over: Record<string, unknown> = {}) => ({
      id: 'in_unit000000000002',
      object: 'invoice',
      billing_reason: 'subscription_cycle',
      subscription: sub,
      subscription_details: { metadata: { out_trade_no: ours } },
      customer: 'cus_unit1',
      amount_paid: 990,
      amount_due: 990,
      currency: 'usd',
      status: 'paid',
      hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1/test_unit',
      payment_intent: 'pi_unit2',
      lines: { object: 'list', data: [{ id: 'il_1', period: { start: 1_769_904_000, end: 1_772_323_200 } }] },
      status_transitions: { paid_at: 1_769_907_600 },
      created: 1_769_904_000,
      ...over,
    });
    const subscription = (over: Record<string, unknown> = {}) => ({
      id: sub,
      object: 'subscription',
      status: 'active',
      cancel_at_period_end: false,
      customer: 'cus_unit1',
      metadata: { out_trade_no: ours },
      ...over,
    });

    it('a completed subscription-mode session is the first charge, keyed on its first invoice', async () => {
      const s = sessionObject({ mode: 'subscription', payment_intent: null, subscription: sub, invoice: 'in_unit000000000001' });
      expect(await parse(event('checkout.session.completed', s))).toMatchObject({
        type: 'paid',
        outTradeNo: ours,
        providerTxnId: 'in_unit000000000001',
        subscription: { first: true, id: sub, expiresAt: null },
      });
      // Without its invoice or subscription it cannot be booked: refused, not guessed.
      await expect(parse(event('checkout.session.completed', { ...s, invoice: null }))).rejects.toThrow(/lacks/);
    });

    it('invoice.paid: the first invoice, a renewal to its line period end, in the pinned and the newer (parent) shapes', async () => {
      expect(await parse(event('invoice.paid', invoice({ billing_reason: 'subscription_create' })))).toMatchObject({
        type: 'paid',
        providerTxnId: 'in_unit000000000002',
        subscription: { first: true, id: sub, expiresAt: 1_772_323_200_000 },
      });
      const renewal = {
        type: 'paid',
        outTradeNo: ours,
        amountMinor: 990,
        currency: 'USD',
        paidAt: 1_769_907_600_000,
        subscription: { first: false, id: sub, expiresAt: 1_772_323_200_000 },
      };
      expect(await parse(event('invoice.paid', invoice()))).toMatchObject(renewal);
      // API 2025-03-31.basil and later: subscription and its metadata under parent.subscription_details.
      const basil = invoice({
        subscription: undefined,
        subscription_details: undefined,
        parent: { type: 'subscription_details', subscription_details: { subscription: sub, metadata: { out_trade_no: ours } } },
      });
      expect(await parse(event('invoice.paid', basil))).toMatchObject(renewal);
    });

    it('invoice.paid of a subscription we did not create names no order of ours; one of no subscription or nothing paid is ignored', async () => {
      expect(await parse(event('invoice.paid', invoice({ subscription_details: { metadata: {} } })))).toMatchObject({ type: 'paid', outTradeNo: sub });
      expect(await parse(event('invoice.paid', invoice({ subscription: null, subscription_details: null })))).toMatchObject({ type: 'ignored' });
      // Nothing paid: a renewal (a 100 % coupon, credit balance) still renews at 0; a first invoice, an open one or a
      // foreign subscription's is no charge.
      expect(await parse(event('invoice.paid', invoice({ amount_paid: 0, amount_due: 0 })))).toMatchObject({ type: 'paid', amountMinor: 0 });
      expect(await parse(event('invoice.paid', invoice({ amount_paid: 0, billing_reason: 'subscription_create' })))).toMatchObject({ type: 'ignored' });
      expect(await parse(event('invoice.paid', invoice({ amount_paid: 0, status: 'open' })))).toMatchObject({ type: 'ignored' });
      expect(await parse(event('invoice.paid', invoice({ amount_paid: 0, subscription_details: { metadata: {} } })))).toMatchObject({ type: 'ignored' });
      await expect(parse(event('invoice.paid', invoice({ lines: null })))).rejects.toThrow(/does not hold/);
    });

    it('invoice.payment_failed: the subscription failed, with the hosted invoice as the way to pay it', async () => {
      expect(await parse(event('invoice.payment_failed', invoice({ status: 'open', amount_paid: 0 })))).toMatchObject({
        type: 'subscription',
        outTradeNo: ours,
        subscriptionId: sub,
        state: 'failed',
        fixUrl: 'https://invoice.stripe.com/i/acct_1/test_unit',
        at: 1_767_225_700_000,
      });
      expect(await parse(event('invoice.payment_failed', invoice({ billing_reason: 'subscription_create' })))).toMatchObject({ type: 'ignored' });
    });

    it('subscription updates: only a change of cancel_at_period_end is mirrored; deleted ends it', async () => {
      const cancelled = event('customer.subscription.updated', subscription({ cancel_at_period_end: true }), {
        data: { object: subscription({ cancel_at_period_end: true }), previous_attributes: { cancel_at_period_end: false } },
      });
      expect(await parse(cancelled)).toMatchObject({ type: 'subscription', state: 'canceled', canceledBy: 'member' });
      const resumed = event('customer.subscription.updated', subscription(), {
        data: { object: subscription(), previous_attributes: { cancel_at_period_end: true } },
      });
      expect(await parse(resumed)).toMatchObject({ type: 'subscription', state: 'active' });
      // A new period (or past_due) says nothing about cancelling.
      const period = event('customer.subscription.updated', subscription(), {
        data: { object: subscription(), previous_attributes: { current_period_end: 1 } },
      });
      expect(await parse(period)).toMatchObject({ type: 'ignored' });
      expect(await parse(event('customer.subscription.deleted', subscription({ status: 'canceled' })))).toMatchObject({
        type: 'subscription',
        state: 'canceled',
        canceledBy: 'provider',
      });
      expect(await parse(event('customer.subscription.deleted', subscription({ metadata: {} })))).toMatchObject({ type: 'ignored' });
    });
  });

  it('charge.refunded: full and partial refunds are both reported, with the running total and an id per refund; a foreign charge is ignored', async () => {
    const charge = (over: Record<string, unknown>) => ({
      id: 'ch_unit1',
      object: 'charge',
      amount: 990,
      amount_captured: 990,
      amount_refunded: 990,
      currency: 'usd',
      refunded: true,
      payment_intent: 'pi_unit0000000000000001',
      invoice: null,
      metadata: { out_trade_no: ours },
      created: 1_767_225_650,
      ...over,
    });
    const base = { type: 'refunded', eventId: 'evt_unit_charge_refunded', outTradeNo: ours, currency: 'USD', refundedAt: 1_767_225_700_000 };
    // API 2022-11-15 and later: no refunds list, so the id is the charge and its running total.
    expect(await parse(event('charge.refunded', charge({})))).toEqual({
      ...base,
      providerRefundId: 'ch_unit1:refunded:990',
      amountMinor: 990,
      cumulativeMinor: 990,
    });
    expect(await parse(event('charge.refunded', charge({ amount_refunded: 100, refunded: false })))).toEqual({
      ...base,
      providerRefundId: 'ch_unit1:refunded:100',
      amountMinor: 100,
      cumulativeMinor: 100,
    });
    // Older versions (or an expanded charge) list the refunds, newest first: that refund's own id and amount.
    const listed = {
      object: 'list',
      data: [
        { id: 're_unit2', object: 'refund', amount: 200, status: 'succeeded' },
        { id: 're_unit1', object: 'refund', amount: 100, status: 'succeeded' },
      ],
      has_more: false,
      url: '/v1/charges/ch_unit1/refunds',
    };
    expect(await parse(event('charge.refunded', charge({ amount_refunded: 300, refunded: false, refunds: listed })))).toEqual({
      ...base,
      providerRefundId: 're_unit2',
      amountMinor: 200,
      cumulativeMinor: 300,
    });
    // No order number and no invoice (a charge made elsewhere on the account): ignored without asking Stripe.
    expect(await parse(event('charge.refunded', charge({ metadata: {} })))).toMatchObject({ type: 'ignored' });
    expect(await parse(event('charge.refunded', charge({ amount_refunded: 0, refunded: false })))).toMatchObject({ type: 'ignored' });
  });

  it('a test-mode event at a live key (or the reverse) never pays', async () => {
    expect(await parse(event('checkout.session.completed', sessionObject(), { livemode: true }))).toMatchObject({
      type: 'ignored',
      reason: expect.stringMatching(/live-mode event/),
    });
    const clock = new FakeClock();
    const live = new StripeProvider({ secretKey: 'sk_live_51GatekeeperLiveKey000000', webhookSecret: WEBHOOK_SECRET, apiBase: 'http://127.0.0.1:9' }, clock);
    const payload = event('checkout.session.completed', sessionObject());
    const e = await live.parseWebhook(Buffer.from(payload), {
      'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET, timestamp: Math.floor(clock.now() / 1000) }),
    });
    expect(e).toMatchObject({ type: 'ignored', reason: expect.stringMatching(/test-mode event/) });
  });

  it('other event types are acknowledged and ignored', async () => {
    expect(await parse(event('payment_intent.succeeded', { id: 'pi_1', object: 'payment_intent' }))).toEqual({
      type: 'ignored',
      eventId: 'evt_unit_payment_intent_succeeded',
      reason: 'event type payment_intent.succeeded',
    });
    expect(await parse(event('checkout.session.expired', sessionObject({ status: 'expired', payment_status: 'unpaid' })))).toMatchObject({ type: 'ignored' });
  });

  it('answers Stripe with 200 {"received":true}, or a 500 to be retried', () => {
    const { provider } = setup();
    expect(provider.webhookReply('ok')).toEqual({ status: 200, body: '{"received":true}', contentType: 'application/json' });
    expect(provider.webhookReply('retry').status).toBe(500);
  });
});

describe('Stripe checkout parameters and helpers', () => {
  const now = Date.UTC(2026, 0, 1);
  const order = (over: Partial<Order> = {}): Order => ({
    id: 'ord1',
    outTradeNo: 'd'.repeat(32),
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
  });
  const plan = testPlan({ currency: 'USD', createdAt: now });

  it("clamps expires_at into Stripe's 30 min – 24 h window", () => {
    expect(sessionExpiresAt(now + 15 * MINUTE_MS, now)).toBe((now + 31 * MINUTE_MS) / 1000);
    expect(sessionExpiresAt(now + 2 * HOUR_MS, now)).toBe((now + 2 * HOUR_MS) / 1000);
    expect(sessionExpiresAt(now + 48 * HOUR_MS, now)).toBe((now + 24 * HOUR_MS - MINUTE_MS) / 1000);
    expect(sessionExpiresAt(now + 2 * HOUR_MS + 1, now)).toBe((now + 2 * HOUR_MS) / 1000 + 1);
  });

  it('encodes the session the way Stripe reads it (and the emulator decodes it back)', () => {
    const params = sessionParams({ order: order(), plan, notifyUrl: 'http://gk.test/webhooks/stripe', payPageUrl: 'http://gk.test/pay/ord1' }, now);
    const body = encodeForm(params);
    expect(body).toContain('line_items[0][price_data][currency]=usd');
    expect(body).toContain('line_items[0][price_data][unit_amount]=990');
    expect(body).toContain(`client_reference_id=${'d'.repeat(32)}`);
    expect(body).toContain(`payment_intent_data[metadata][out_trade_no]=${'d'.repeat(32)}`);
    expect(body).toContain('success_url=http%3A%2F%2Fgk.test%2Fpay%2Ford1');
    expect(decodeForm(body)).toEqual({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: '990', product_data: { name: 'Monthly' } }, quantity: '1' }],
      success_url: 'http://gk.test/pay/ord1',
      cancel_url: 'http://gk.test/pay/ord1',
      client_reference_id: 'd'.repeat(32),
      metadata: { out_trade_no: 'd'.repeat(32) },
      payment_intent_data: { metadata: { out_trade_no: 'd'.repeat(32) } },
      expires_at: String((now + 31 * MINUTE_MS) / 1000),
    });
    expect(encodeForm({ a: 'x y&z=1[]', n: null, u: undefined, b: false })).toBe('a=x%20y%26z%3D1%5B%5D&b=false');
    expect(() => encodeForm({ a: 1.5 })).toThrow(/integer/);
  });

  it('finds the session id in a Checkout URL', () => {
    expect(sessionIdFromUrl('https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6g7#fidkdWxOYHwn')).toBe('cs_test_a1B2c3D4e5F6g7');
    expect(sessionIdFromUrl('https://checkout.stripe.com/pay/cs_live_a1B2c3D4e5F6g7')).toBe('cs_live_a1B2c3D4e5F6g7');
    expect(sessionIdFromUrl('https://checkout.stripe.com/c/pay/ppage_abc#cs_test_a1B2c3D4e5F6g7')).toBeNull();
    expect(sessionIdFromUrl('http://gk.test/pay/ord1')).toBeNull();
    expect(sessionIdFromUrl('not a url')).toBeNull();
    expect(sessionIdFromUrl(null)).toBeNull();
  });

  it('offers only currencies Stripe charges, and checks the amount rules', () => {
    const { provider } = setup();
    for (const c of ['USD', 'EUR', 'GBP', 'JPY', 'CNY', 'HKD', 'KWD', 'KRW']) expect(provider.supportsCurrency(c)).toBe(true);
    for (const c of ['XTR', 'ISK', 'usd', 'ABC', 'toString', '']) expect(provider.supportsCurrency(c)).toBe(false);
    expect(stripeAmountProblem(990, 'USD')).toBeNull();
    expect(stripeAmountProblem(1235, 'KWD')).toMatch(/end in 0/);
    expect(stripeAmountProblem(1230, 'KWD')).toBeNull();
    expect(stripeAmountProblem(0, 'USD')).toMatch(/positive/);
    expect(stripeAmountProblem(100, 'XTR')).toMatch(/cannot/);
  });
});
