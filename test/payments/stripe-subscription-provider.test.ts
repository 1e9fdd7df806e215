// StripeProvider's subscription calls against the strict emulator, with the official SDK as a second, independent
// client of the same emulator: subscription-mode sessions (and what Stripe refuses about them), cancel_at_period_end
// for /cancel and /resume, Customer Portal sessions, the billing run's calendar periods, and a refund of a
// subscription charge (booked under its invoice).
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Order, Subscription } from '../../src/app/model.ts';
import { ProviderRejectedError } from '../../src/domain/errors.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import { stripeInterval, stripeRenews } from '../../src/payments/stripe/stripe-checkout.ts';
import { StripeProvider } from '../../src/payments/stripe/stripe-provider.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { addInterval, StripeEmulator } from '../fakes/stripe-emulator.ts';
import { testPlan } from '../helpers/fixtures.ts';

const SECRET_KEY = 'sk_test_51GatekeeperSubProvKey01234567';
const WEBHOOK_SECRET = 'whsec_subProviderSigningSecret01234567';

let clock: FakeClock;
let emu: StripeEmulator;
let provider: StripeProvider;
let sdk: Stripe;

beforeEach(async () => {
  clock = new FakeClock();
  emu = await StripeEmulator.start({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, now: () => clock.now() });
  provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: emu.url }, clock, { timeoutMs: 1000 });
  sdk = new Stripe(SECRET_KEY, { host: '127.0.0.1', port: emu.port, protocol: 'http', maxNetworkRetries: 0 });
});
afterEach(async () => {
  await emu.close();
});

function order(n: number): Order {
  const now = clock.now();
  return {
    id: `order${n}`,
    outTradeNo: `${n}`.padStart(32, 'e'),
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
  };
}

const stored = (o: Partial<Subscription>): Subscription => ({
  id: 1,
  provider: 'stripe',
  subscriptionId: 'sub_x',
  accountId: 1,
  planId: 1,
  firstOrderId: 'order1',
  amountMinor: 990,
  currency: 'USD',
  state: 'active',
  canceledBy: null,
  nextChargeAt: 0,
  failedRenewals: 0,
  renewalNoticeFor: null,
  createdAt: 0,
  updatedAt: 0,
  stateChangedAt: 0,
  lastReportAt: 0,
  ...o,
});

async function paidSubscription(days = 30) {
  const o = order(days);
  await provider.createCheckout({
    order: o,
    plan: testPlan({ currency: 'USD', recurring: true, durationDays: days }),
    notifyUrl: 'x',
    payPageUrl: 'http://gk.test/pay/1',
  });
  const session = emu.sessionFor(o.outTradeNo)!;
  const paid = emu.pay(session.id);
  return { order: o, session: paid.session, sub: emu.subscriptionOf(session.id)! };
}

describe('Stripe subscriptions: the provider against the emulator', () => {
  it('maps 7, 30 and 365 days to week, month and year; other lengths and one-off plans are not renewed by Stripe', () => {
    expect([7, 30, 365, 10, 31, 90].map(stripeInterval)).toEqual(['week', 'month', 'year', null, null, null]);
    expect(stripeRenews({ recurring: true, durationDays: 30 })).toBe(true);
    expect(stripeRenews({ recurring: false, durationDays: 30 })).toBe(false);
    expect(stripeRenews({ recurring: true, durationDays: 10 })).toBe(false);
  });

  it('a recurring plan of a length with no interval is sold one-off (mode=payment)', async () => {
    const o = order(1);
    await provider.createCheckout({
      order: o,
      plan: testPlan({ currency: 'USD', recurring: true, durationDays: 10 }),
      notifyUrl: 'x',
      payPageUrl: 'http://gk.test/pay/1',
    });
    expect(emu.sessionFor(o.outTradeNo)!.mode).toBe('payment');
  });

  it('paying a subscription-mode session makes a customer, an active subscription with our metadata and a paid first invoice', async () => {
    const { order: o, session, sub } = await paidSubscription(30);
    expect(session).toMatchObject({ mode: 'subscription', payment_status: 'paid', payment_intent: null, subscription: sub.id, customer: sub.customer });
    expect(sub).toMatchObject({ status: 'active', cancel_at_period_end: false, metadata: { out_trade_no: o.outTradeNo } });
    // FakeClock starts on 1 January: a calendar month is 31 days.
    expect(sub.current_period_end - sub.current_period_start).toBe(31 * 86_400);
    const invoice = emu.invoices.get(session.invoice!)!;
    expect(invoice).toMatchObject({
      billing_reason: 'subscription_create',
      status: 'paid',
      subscription_details: { metadata: { out_trade_no: o.outTradeNo } },
    });
    // The SDK reads the same objects.
    expect((await sdk.subscriptions.retrieve(sub.id)).metadata).toEqual({ out_trade_no: o.outTradeNo });
    expect((await sdk.invoices.retrieve(invoice.id)).billing_reason).toBe('subscription_create');
    // The reconcile query finds the first charge under the same key as the webhooks.
    const q = await provider.query({ ...o, checkoutUrl: session.url ?? null });
    expect(q).toMatchObject({ state: 'paid', event: { providerTxnId: invoice.id, subscription: { first: true, id: sub.id } } });
  });

  it('/cancel and /resume set cancel_at_period_end; a second identical call changes nothing; an ended subscription refuses', async () => {
    const { sub } = await paidSubscription(30);
    const ours = stored({ subscriptionId: sub.id });
    await provider.setRenewal(ours, null, false);
    expect(emu.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(true);
    await provider.setRenewal(ours, null, false);
    expect(emu.eventsOf('customer.subscription.updated', sub.id)).toHaveLength(1);
    await provider.setRenewal(ours, null, true);
    expect(emu.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(false);
    // The period ends with cancel_at_period_end: Stripe ends it; a later change is refused (a ProviderRejectedError: audited, not retried).
    await provider.setRenewal(ours, null, false);
    clock.set(sub.current_period_end * 1000);
    expect(emu.cycle(sub.id).events.map((e) => e.type)).toEqual(['customer.subscription.deleted']);
    await expect(provider.setRenewal(ours, null, true)).rejects.toBeInstanceOf(ProviderRejectedError);
    await expect(provider.setRenewal(stored({ subscriptionId: 'telegram-charge-1' }), null, false)).rejects.toBeInstanceOf(ProviderRejectedError);
  });

  it('a Customer Portal link for the subscription’s customer; refused when the portal is not set up or the subscription is unknown', async () => {
    const { sub } = await paidSubscription(7);
    const url = await provider.billingPortalUrl(stored({ subscriptionId: sub.id }), 'http://gk.test');
    expect(emu.portalSessions).toEqual([expect.objectContaining({ customer: sub.customer, return_url: 'http://gk.test', url })]);
    emu.portalConfigured = false;
    await expect(provider.billingPortalUrl(stored({ subscriptionId: sub.id }), 'http://gk.test')).rejects.toThrow(/customer portal settings/);
    await expect(provider.billingPortalUrl(stored({ subscriptionId: 'sub_nobody' }), 'http://gk.test')).rejects.toBeInstanceOf(ProviderRejectedError);
  });

  it('a subscription charge is refunded through its invoice’s PaymentIntent', async () => {
    const { order: o, session } = await paidSubscription(30);
    const r = await provider.refund({
      order: { ...o, status: 'paid', providerTxnId: session.invoice },
      outRefundNo: 'R'.repeat(32),
      amountMinor: 990,
      reason: 'test',
    });
    expect(r).toMatchObject({ state: 'refunded' });
    const pi = emu.invoices.get(session.invoice!)!.payment_intent!;
    expect([...emu.refunds.values()].map((x) => x.payment_intent)).toEqual([pi]);
  });

  it('the billing run: only at the period end, calendar periods, a failed charge then paid on the hosted page', async () => {
    const { sub } = await paidSubscription(30);
    expect(() => emu.cycle(sub.id)).toThrow(/period ends/);
    clock.set(sub.current_period_end * 1000);
    const failed = emu.cycle(sub.id, { fail: true });
    expect(failed.events.map((e) => e.type)).toContain('invoice.payment_failed');
    expect(emu.subscriptions.get(sub.id)!.status).toBe('past_due');
    const paid = emu.payInvoice(failed.invoice!.id);
    expect(paid.map((e) => e.type)).toEqual(expect.arrayContaining(['invoice.paid', 'customer.subscription.updated']));
    expect(emu.subscriptions.get(sub.id)!.status).toBe('active');
    // Jan 31 → Feb 28 (clamped); Feb 29 2028 → Feb 28 2029; a week is 7 days.
    const jan31 = Date.UTC(2026, 0, 31, 12) / 1000;
    expect(new Date(addInterval(jan31, 'month') * 1000).toISOString()).toBe('2026-02-28T12:00:00.000Z');
    expect(new Date(addInterval(Date.UTC(2028, 1, 29) / 1000, 'year') * 1000).toISOString()).toBe('2029-02-28T00:00:00.000Z');
    expect(addInterval(jan31, 'week') - jan31).toBe(7 * 86_400);
  });
});

describe('the emulator refuses what Stripe refuses about subscription sessions', () => {
  const base = { success_url: 'https://example.com/ok', line_items: [] as Stripe.Checkout.SessionCreateParams.LineItem[] };
  const item = (recurring?: { interval?: 'month'; interval_count?: number }): Stripe.Checkout.SessionCreateParams.LineItem => ({
    price_data: {
      currency: 'usd',
      unit_amount: 990,
      product_data: { name: 'Monthly' },
      ...(recurring ? { recurring: recurring as { interval: 'month' } } : {}),
    },
    quantity: 1,
  });

  it('mode=subscription needs a recurring price, with an interval; mode=payment refuses one; payment_intent_data is not for subscriptions', async () => {
    await expect(sdk.checkout.sessions.create({ ...base, mode: 'subscription', line_items: [item()] })).rejects.toThrow(/at least one recurring price/);
    await expect(sdk.checkout.sessions.create({ ...base, mode: 'subscription', line_items: [item({ interval_count: 1 })] })).rejects.toThrow(
      /recurring\]\[interval\]/,
    );
    await expect(sdk.checkout.sessions.create({ ...base, mode: 'payment', line_items: [item({ interval: 'month' })] })).rejects.toThrow(/recurring price/);
    await expect(
      sdk.checkout.sessions.create({ ...base, mode: 'subscription', line_items: [item({ interval: 'month' })], payment_intent_data: { metadata: { a: 'b' } } }),
    ).rejects.toThrow(/payment_intent_data/);
    const ok = await sdk.checkout.sessions.create({
      ...base,
      mode: 'subscription',
      line_items: [item({ interval: 'month' })],
      subscription_data: { metadata: { a: 'b' } },
    });
    expect(ok.mode).toBe('subscription');
  });

  it('a portal session needs a known customer', async () => {
    await expect(sdk.billingPortal.sessions.create({ customer: 'cus_nobody', return_url: 'https://example.com' })).rejects.toThrow(/No such customer/);
  });
});
