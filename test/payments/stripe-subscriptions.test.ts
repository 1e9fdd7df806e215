// Stripe subscriptions through the whole service (issue 18 part 3): a recurring plan's checkout is a Checkout Session
// in subscription mode; the emulator's customer pays, Stripe's billing run renews (cycle()), the emulator posts signed
// events to the listening service, the worker and the scheduler do the rest. The member cancels with /cancel (the
// emulator sees cancel_at_period_end), asks /billing for a Customer Portal link, and lapses after the period through
// the normal grace and removal. Bad input: renewals replayed and re-keyed, an invoice of a subscription we did not
// create, a recurring length with no Stripe interval, a renewal charged after the member canceled, a failed renewal.
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { type EmuEvent, StripeEmulator } from '../fakes/stripe-emulator.ts';

const SECRET_KEY = 'sk_test_51GatekeeperSubsKey0123456789';
const WEBHOOK_SECRET = 'whsec_subscriptionsSigningSecret0123456';
const sdk = new Stripe(SECRET_KEY);

describe.each(DIALECTS)('Stripe subscriptions through the service (%s)', (dialect) => {
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
  const charges = async () =>
    Number(
      (
        await db()
          .selectFrom('payments')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('kind', '=', 'charge')
          .executeTakeFirstOrThrow()
      ).n,
    );
  const periods = async () =>
    Number(
      (
        await db()
          .selectFrom('membership_periods')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const say = (text: string, userId = 'alice') => t.service.conversation.handle({ platform: 'playground', userId, text });
  const texts = (replies: Awaited<ReturnType<typeof say>>) => replies.map((r) => ('text' in r ? r.text : '')).join('\n');
  const membership = async () => (await store().memberships.list({})).find((m) => m.expiresAt > 0)!;
  const subscription = async () => (await store().subscriptions.listForAccount((await membership()).accountId))[0]!;

  /** Delivers each event (twice when asked) and expects Stripe's "received" every time. */
  async function deliverAll(events: EmuEvent[], times = 1) {
    for (const e of events) for (const r of await emu.deliver(e, { times })) expect(r).toEqual({ status: 200, body: '{"received":true}' });
  }

  async function group() {
    const g = await app().inject({
      method: 'POST',
      url: '/api/groups',
      headers: auth,
      payload: { platform: 'playground', chatId: 'room-1', title: 'Readers club' },
    });
    expect(g.statusCode, g.body).toBe(201);
    return g.json().id as number;
  }

  async function plan(groupId: number, days: number, recurring: boolean) {
    const p = await app().inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [groupId], name: `Every ${days} days`, price: '9.90', currency: 'USD', days, recurring },
    });
    return p;
  }

  async function subscribe(days = 30, userId = 'alice') {
    const p = await plan(await group(), days, true);
    expect(p.statusCode, p.body).toBe(201);
    const c = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId, planId: p.json().id, provider: 'stripe' },
    });
    expect(c.statusCode, c.body).toBe(201);
    const order = (await store().orders.get(c.json().orderId as string))!;
    const session = emu.sessionFor(order.outTradeNo)!;
    return { order, session };
  }

  const typed = (events: EmuEvent[], type: string) => events.filter((e) => e.type === type);

  it('subscribes, renews twice exactly once each, cancels with /cancel and lapses after the period', async () => {
    const { order, session } = await subscribe(30);
    // What we asked Stripe for: a subscription-mode session with a monthly inline price and the order on the subscription.
    const create = emu.requests.find((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions')!;
    expect(create.params).toMatchObject({
      mode: 'subscription',
      line_items: [{ price_data: { currency: 'usd', unit_amount: '990', recurring: { interval: 'month' } }, quantity: '1' }],
      subscription_data: { metadata: { out_trade_no: order.outTradeNo } },
      client_reference_id: order.outTradeNo,
    });
    expect(create.params).not.toHaveProperty('payment_intent_data');
    expect(session.mode).toBe('subscription');

    await t.clock.advance(60_000);
    const paid = emu.pay(session.id);
    const sub = emu.subscriptionOf(session.id)!;
    expect(sub).toMatchObject({ status: 'active', metadata: { out_trade_no: order.outTradeNo } });
    // The signature is checked independently with Stripe's own SDK.
    const firstInvoicePaid = typed(paid.events, 'invoice.paid')[0]!;
    const signed = emu.sign(firstInvoicePaid, { at: Math.floor(Date.now() / 1000) });
    expect(sdk.webhooks.constructEvent(signed.payload, signed.header, WEBHOOK_SECRET).type).toBe('invoice.paid');
    // Every event twice: the session and the first invoice are one charge, granted once.
    await deliverAll(paid.events, 2);
    const firstInvoice = firstInvoicePaid.data.object as { id: string };
    expect(await store().orders.get(order.id)).toMatchObject({ status: 'paid', providerTxnId: firstInvoice.id });
    expect(await charges()).toBe(1);
    expect(await periods()).toBe(1);
    // January has 31 days: access runs to the end of Stripe's month, not the plan's 30 days.
    expect((await membership()).expiresAt).toBe(sub.current_period_end * 1000);
    expect(await subscription()).toMatchObject({ provider: 'stripe', subscriptionId: sub.id, state: 'active', nextChargeAt: sub.current_period_end * 1000 });
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toHaveLength(1);

    // Two renewals: Stripe's billing run at each period's end; every event delivered twice, and re-keyed once.
    for (let n = 2; n <= 3; n++) {
      t.clock.set(emu.subscriptions.get(sub.id)!.current_period_end * 1000 + 3_600_000);
      const run = emu.cycle(sub.id);
      await deliverAll(run.events, 2);
      const invoicePaid = typed(run.events, 'invoice.paid')[0]!;
      expect((await emu.deliver({ ...invoicePaid, id: `evt_rekeyed_${n}` }))[0]!.status).toBe(200);
      expect(await charges()).toBe(n);
      expect(await periods()).toBe(n);
      const end = run.invoice!.lines.data[0]!.period as { end: number };
      expect((await membership()).expiresAt).toBe(end.end * 1000);
      expect((await membership()).status).toBe('active');
      expect(await subscription()).toMatchObject({ state: 'active', nextChargeAt: end.end * 1000 });
    }
    const ledger = await db().selectFrom('payments').select(['provider_txn_id']).where('kind', '=', 'charge').execute();
    expect(new Set(ledger.map((r) => r.provider_txn_id)).size).toBe(3);
    expect(ledger.every((r) => r.provider_txn_id.startsWith('in_'))).toBe(true);

    // /billing: a Customer Portal session for the subscription's customer, coming back to us.
    const billing = texts(await say('/billing'));
    expect(emu.portalSessions).toHaveLength(1);
    expect(emu.portalSessions[0]).toMatchObject({ customer: sub.customer, return_url: 'http://gk.test' });
    expect(billing).toContain(emu.portalSessions[0]!.url);
    expect(texts(await say('账单'))).toContain('https://billing.stripe.com/');

    // /cancel: renewal off at Stripe at the period's end; access untouched.
    const expiry = (await membership()).expiresAt;
    expect(texts(await say('/cancel'))).toContain('Auto-renewal');
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
    await t.service.worker.drain();
    expect(emu.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(true);
    const update = emu.requests.filter((r) => r.method === 'POST' && r.path === `/v1/subscriptions/${sub.id}`);
    expect(update.map((r) => r.params)).toEqual([{ cancel_at_period_end: 'true' }]);
    // Stripe's echo of our own change changes nothing.
    await deliverAll(emu.eventsOf('customer.subscription.updated', sub.id).slice(-1));
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
    expect((await membership()).expiresAt).toBe(expiry);

    // The period ends: Stripe ends the subscription; no renewal comes, the normal grace, then removal.
    t.clock.set(expiry + 60_000);
    const end = emu.cycle(sub.id);
    expect(end.invoice).toBeNull();
    await deliverAll(end.events);
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'provider' });
    expect(await charges()).toBe(3);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await membership()).status).toBe('grace');
    expect(t.gateway.of('remove')).toHaveLength(0);
    const grace = (await store().groups.get((await membership()).groupId))!.graceMs;
    t.clock.set(expiry + grace + HOUR_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await membership()).status).toBe('expired');
    expect(t.gateway.of('remove')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
  });

  it('the session granting first, the first invoice after it: one charge, and access runs to the end of Stripe’s month', async () => {
    const { order, session } = await subscribe(30);
    const paid = emu.pay(session.id);
    const sub = emu.subscriptionOf(session.id)!;
    await deliverAll(typed(paid.events, 'checkout.session.completed'));
    // The session alone: the plan's 30 days (it does not say where Stripe's month ends).
    expect((await membership()).expiresAt).toBe(typed(paid.events, 'checkout.session.completed')[0]!.created * 1000 + 30 * 86_400_000);
    await deliverAll(typed(paid.events, 'invoice.paid'), 2);
    expect(await charges()).toBe(1);
    expect(await periods()).toBe(1);
    expect(await store().orders.get(order.id)).toMatchObject({ status: 'paid' });
    expect((await membership()).expiresAt).toBe(sub.current_period_end * 1000);
    expect((await store().periods.listForOrder(order.id))[0]!.endsAt).toBe(sub.current_period_end * 1000);
    expect(await subscription()).toMatchObject({ nextChargeAt: sub.current_period_end * 1000 });
  });

  it('a weekly and a yearly plan renew with their Stripe intervals', async () => {
    const g = await group();
    for (const [days, interval] of [
      [7, 'week'],
      [365, 'year'],
    ] as const) {
      const p = await plan(g, days, true);
      const c = await app().inject({
        method: 'POST',
        url: '/api/checkouts',
        headers: auth,
        payload: { platform: 'playground', userId: `u${days}`, planId: p.json().id, provider: 'stripe' },
      });
      expect(c.statusCode, c.body).toBe(201);
      const order = (await store().orders.get(c.json().orderId as string))!;
      expect(emu.sessionFor(order.outTradeNo)!.mode).toBe('subscription');
      const req = emu.requests.filter((r) => r.path === '/v1/checkout/sessions' && r.method === 'POST').at(-1)!;
      expect(req.params).toMatchObject({ line_items: [{ price_data: { recurring: { interval } } }] });
    }
    // A one-off plan stays one-off.
    const p = await plan(g, 30, false);
    const c = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'once', planId: p.json().id, provider: 'stripe' },
    });
    const order = (await store().orders.get(c.json().orderId as string))!;
    expect(emu.sessionFor(order.outTradeNo)!.mode).toBe('payment');
  });

  it('refuses a recurring plan whose length has no Stripe interval, and creates nothing', async () => {
    const g = await group();
    const r = await plan(g, 10, true);
    expect(r.statusCode).toBe(400);
    expect(r.body).toContain('a recurring plan must last 7, 30, 365 days');
    expect(await store().plans.list()).toHaveLength(0);
  });

  it('an invoice.paid for a subscription we did not create is recorded, answered 2xx, grants nothing, and the owners are told', async () => {
    const foreign: EmuEvent = {
      id: 'evt_foreign_invoice_paid',
      object: 'event',
      api_version: '2024-06-20',
      created: Math.floor(t.clock.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'invoice.paid',
      data: {
        object: {
          id: 'in_foreign0001',
          object: 'invoice',
          billing_reason: 'subscription_cycle',
          subscription: 'sub_someoneelse01',
          subscription_details: { metadata: {} },
          customer: 'cus_stranger',
          amount_paid: 990,
          amount_due: 990,
          currency: 'usd',
          status: 'paid',
          hosted_invoice_url: null,
          payment_intent: 'pi_foreign',
          lines: { object: 'list', data: [{ period: { start: 1767225600, end: 1769904000 } }] },
          status_transitions: { paid_at: Math.floor(t.clock.now() / 1000) },
          created: Math.floor(t.clock.now() / 1000),
        },
      },
    };
    await deliverAll([foreign], 2);
    const rows = await db().selectFrom('webhook_events').select(['event_id', 'outcome']).execute();
    expect(rows).toEqual([{ event_id: 'evt_foreign_invoice_paid', outcome: 'unknown_order' }]);
    expect(await charges()).toBe(0);
    expect(await periods()).toBe(0);
    const audit = await db().selectFrom('audit_log').select(['action']).where('action', '=', 'payment.unknown_order').execute();
    expect(audit).toHaveLength(1);
    const alerts = await db().selectFrom('jobs').select(['kind']).where('kind', '=', 'alert_owners').execute();
    expect(alerts).toHaveLength(1);
  });

  it('a renewal charged after the member canceled is honoured and the cancellation stands (sent to Stripe again)', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    expect(texts(await say('/cancel'))).toContain('Auto-renewal');
    // Stripe renews before our cancel reaches it (the job has not run yet).
    t.clock.set(sub.current_period_end * 1000 + 60_000);
    const run = emu.cycle(sub.id);
    await deliverAll(run.events);
    expect(await charges()).toBe(2);
    expect((await membership()).expiresAt).toBe((run.invoice!.lines.data[0]!.period as { end: number }).end * 1000);
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
    await t.service.worker.drain();
    expect(emu.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(true);
  });

  it('a failed renewal tells the member with the invoice link, counts in stats, keeps the grace running; paying it renews', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    const expiry = (await membership()).expiresAt;
    t.clock.set(sub.current_period_end * 1000 + 60_000);
    const run = emu.cycle(sub.id, { fail: true });
    // Delivered twice: one notice, one failed renewal counted.
    await deliverAll(run.events, 2);
    expect(await subscription()).toMatchObject({ state: 'failed', failedRenewals: 1 });
    expect((await membership()).expiresAt).toBe(expiry);
    await t.service.worker.drain();
    const told = t.gateway.of('text').filter((c) => c.userId === 'alice' && c.text.includes('did not go through'));
    expect(told).toHaveLength(1);
    expect(told[0]!.text).toContain(run.invoice!.hosted_invoice_url);
    const stats = await app().inject({ method: 'GET', url: '/api/stats', headers: auth });
    expect(stats.json().autoRenew).toMatchObject({ failedRenewals: 1 });
    // The lapse sweep runs as for anyone: grace, no removal yet.
    await t.service.scheduler.tick();
    expect((await membership()).status).toBe('grace');
    // The member pays the invoice on its page: a renewal, back to active.
    await deliverAll(emu.payInvoice(run.invoice!.id));
    expect(await charges()).toBe(2);
    expect(await membership()).toMatchObject({ status: 'active', expiresAt: (run.invoice!.lines.data[0]!.period as { end: number }).end * 1000 });
    expect(await subscription()).toMatchObject({ state: 'active' });
  });

  it('/billing without a Stripe subscription, and with the portal not set up, answers in one line and changes nothing', async () => {
    expect(texts(await say('/billing'))).toContain('You have no card subscription to manage');
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    emu.portalConfigured = false;
    expect(texts(await say('/billing'))).toContain('cannot be opened right now');
    expect(emu.portalSessions).toHaveLength(0);
  });

  it('a late echo of an earlier cancel does not undo a /resume', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    await say('/cancel');
    await t.service.worker.drain();
    const canceledEcho = emu.eventsOf('customer.subscription.updated', sub.id).at(-1)!;
    await t.clock.advance(5 * 60_000);
    expect(texts(await say('/resume'))).toContain('on again');
    await t.service.worker.drain();
    expect(emu.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(false);
    // Stripe delivers the cancel's echo only now, after the resume's.
    await deliverAll(emu.eventsOf('customer.subscription.updated', sub.id).slice(-1));
    await deliverAll([canceledEcho]);
    expect(await subscription()).toMatchObject({ state: 'active', canceledBy: null });
    // A cancel made in the Customer Portal is mirrored.
    await t.clock.advance(60_000);
    const portalCancel = { ...canceledEcho, id: 'evt_portal_cancel', created: Math.floor(t.clock.now() / 1000) };
    await deliverAll([portalCancel]);
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
  });

  /** A subscription paid and renewed once (both delivered), the clock an hour into the second period. */
  async function renewedOnce() {
    const { order, session } = await subscribe(30);
    const paid = emu.pay(session.id);
    await deliverAll(paid.events);
    const sub = emu.subscriptionOf(session.id)!;
    const end1 = sub.current_period_end * 1000;
    t.clock.set(end1 + HOUR_MS);
    const run = emu.cycle(sub.id);
    await deliverAll(run.events);
    const end2 = (run.invoice!.lines.data[0]!.period as { end: number }).end * 1000;
    const renewal = (await store().orders.page({ limit: 10 })).find((o) => o.id !== order.id)!;
    expect(renewal).toMatchObject({ status: 'paid', providerTxnId: run.invoice!.id });
    expect((await membership()).expiresAt).toBe(end2);
    return { first: order, firstIntent: paid.paymentIntent.id, renewal, renewalIntent: run.invoice!.payment_intent!, sub, end1, end2 };
  }
  const refundRows = () => db().selectFrom('payments').select(['order_id', 'amount_minor']).where('kind', '=', 'refund').execute();
  const refundedEvents = (events: EmuEvent[]) => events.filter((e) => e.type === 'charge.refunded');

  it('a renewal refunded in the Stripe dashboard refunds that renewal order: only its unused days go, the first order stays paid', async () => {
    const w = await renewedOnce();
    // The renewal's charge as Stripe shows it: its invoice named, no order number of ours.
    const charge = emu.charges.get(emu.paymentIntents.get(w.renewalIntent)!.latest_charge!)!;
    expect(charge).toMatchObject({ invoice: w.renewal.providerTxnId, metadata: {} });
    t.clock.set(w.end1 + 10 * DAY_MS);
    await deliverAll(refundedEvents(emu.dashboardRefund(w.renewalIntent).events), 2);
    expect(await store().orders.get(w.renewal.id)).toMatchObject({ status: 'refunded' });
    expect(await store().orders.get(w.first.id)).toMatchObject({ status: 'paid' });
    expect(await refundRows()).toEqual([{ order_id: w.renewal.id, amount_minor: 990 }]);
    // The refund rule: the renewal's unused part (now → the end of its period) is taken back, nothing else; the
    // first order's period, used up, is untouched. Nothing paid is left, so access goes and renewal stops.
    const [firstPeriod] = await store().periods.listForOrder(w.first.id);
    const [renewalPeriod] = await store().periods.listForOrder(w.renewal.id);
    expect(firstPeriod!.revokedAt).toBeNull();
    expect(renewalPeriod!.revokedAt).toBe(t.clock.now());
    expect(await membership()).toMatchObject({ status: 'revoked', expiresAt: t.clock.now() });
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'owner' });
    await t.service.worker.drain();
    expect(t.gateway.of('remove')).toHaveLength(1);
    expect(emu.subscriptions.get(w.sub.id)!.cancel_at_period_end).toBe(true);
  });

  it('the first charge refunded in the dashboard refunds the first order (its days are used: access to the renewal’s end stays)', async () => {
    const w = await renewedOnce();
    t.clock.set(w.end1 + 5 * DAY_MS);
    const [event] = refundedEvents(emu.dashboardRefund(w.firstIntent).events);
    // Rendered as an endpoint on 2025-03-31.basil or later renders it: the charge does not name its invoice.
    const basil = structuredClone(event!);
    delete basil.data.object.invoice;
    await deliverAll([basil, event!]);
    expect(emu.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/charges/'))).toHaveLength(1);
    expect(await store().orders.get(w.first.id)).toMatchObject({ status: 'refunded' });
    expect(await store().orders.get(w.renewal.id)).toMatchObject({ status: 'paid' });
    expect(await refundRows()).toEqual([{ order_id: w.first.id, amount_minor: 990 }]);
    expect(await membership()).toMatchObject({ status: 'active', expiresAt: w.end2 });
    // A refunded first order ends renewal (refunds.ts).
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'owner' });
  });

  it('our own refund of a renewal order goes to its invoice’s payment; Stripe answers pending, reconcile confirms it', async () => {
    const w = await renewedOnce();
    emu.refundStatus = 'pending';
    t.clock.set(w.end1 + 2 * DAY_MS);
    const res = await app().inject({ method: 'POST', url: `/api/orders/${w.renewal.id}/refund`, headers: auth, payload: { reason: 'asked' } });
    expect(res.statusCode, res.body).toBe(202);
    await t.service.worker.drain();
    const posts = emu.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(posts.map((r) => r.params.payment_intent)).toEqual([w.renewalIntent]);
    expect(await store().orders.get(w.renewal.id)).toMatchObject({ status: 'refund_pending' });
    // Its charge.refunded never arrives; the refund settles at Stripe; reconcile asks and books it.
    emu.settleRefund([...emu.refunds.keys()][0]!, 'succeeded');
    await t.clock.advance(6 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(await store().orders.get(w.renewal.id)).toMatchObject({ status: 'refunded' });
    expect(await store().orders.get(w.first.id)).toMatchObject({ status: 'paid' });
    expect(await refundRows()).toEqual([{ order_id: w.renewal.id, amount_minor: 990 }]);
    expect((await membership()).status).toBe('revoked');
    // The late event books nothing more.
    await deliverAll(refundedEvents(emu.events));
    expect(await refundRows()).toHaveLength(1);
  });

  it('a cancel made in the Customer Portal is mirrored even when a renewal booked here after it arrived first', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    t.clock.set(sub.current_period_end * 1000 + HOUR_MS);
    const run = emu.cycle(sub.id);
    // A minute later the member cancels in the portal (the portal calls Stripe's API, not us).
    await t.clock.advance(MINUTE_MS);
    const portal = await fetch(`${emu.url}/v1/subscriptions/${sub.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'cancel_at_period_end=true',
    });
    expect(portal.status).toBe(200);
    const portalCancel = emu.eventsOf('customer.subscription.updated', sub.id).at(-1)!;
    expect(portalCancel.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
    // The renewal's events reach us first, another minute on; the cancel after them. A renewal is no change of ours
    // to the subscription's state, so the cancel made after the charge is not stale.
    await t.clock.advance(MINUTE_MS);
    await deliverAll(run.events);
    expect(await subscription()).toMatchObject({ state: 'active' });
    await deliverAll([portalCancel]);
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
  });

  it('a ban ends the Stripe subscription at once (DELETE), not at the period’s end: the banned member is charged no more', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    const res = await app().inject({ method: 'POST', url: `/api/members/${(await membership()).id}/ban`, headers: auth, payload: {} });
    expect(res.statusCode, res.body).toBe(200);
    await t.service.worker.drain();
    expect(emu.requests.filter((r) => r.path === `/v1/subscriptions/${sub.id}` && r.method !== 'GET').map((r) => r.method)).toEqual(['DELETE']);
    expect(emu.subscriptions.get(sub.id)).toMatchObject({ status: 'canceled', cancel_at_period_end: false });
    // Stripe's billing run has nothing to charge at the period's end.
    t.clock.set(sub.current_period_end * 1000 + HOUR_MS);
    expect(() => emu.cycle(sub.id)).toThrow(/is canceled/);
    await deliverAll(emu.eventsOf('customer.subscription.deleted', sub.id));
    expect(await subscription()).toMatchObject({ state: 'canceled' });
    expect(await charges()).toBe(1);
  });

  it('a renewal with nothing to pay (a 100 % coupon, credit balance) still renews: an order of 0, booked once, access extended', async () => {
    const { order, session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    t.clock.set(sub.current_period_end * 1000 + HOUR_MS);
    const run = emu.cycle(sub.id, { free: true });
    expect(run.invoice).toMatchObject({ status: 'paid', amount_paid: 0, payment_intent: null });
    await deliverAll(run.events, 2);
    const end = (run.invoice!.lines.data[0]!.period as { end: number }).end * 1000;
    expect(await charges()).toBe(2);
    expect(await periods()).toBe(2);
    const renewal = (await store().orders.page({ limit: 10 })).find((o) => o.id !== order.id)!;
    expect(renewal).toMatchObject({ status: 'paid', amountMinor: 0, providerTxnId: run.invoice!.id });
    expect(await membership()).toMatchObject({ status: 'active', expiresAt: end });
    expect(await subscription()).toMatchObject({ state: 'active', nextChargeAt: end });
  });

  it('a renewal’s refund that overtakes the renewal itself is answered "retry", then booked against it once the renewal is in', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    t.clock.set(sub.current_period_end * 1000 + HOUR_MS);
    const run = emu.cycle(sub.id);
    const [refunded] = refundedEvents(emu.dashboardRefund(run.invoice!.payment_intent!).events);
    expect((await emu.deliver(refunded!))[0]!.status).toBe(500);
    expect(await refundRows()).toEqual([]);
    await deliverAll(run.events);
    await deliverAll([refunded!]);
    const renewal = (await store().orders.page({ limit: 10 })).find((o) => o.providerTxnId === run.invoice!.id)!;
    expect(renewal).toMatchObject({ status: 'refunded' });
    expect(await refundRows()).toEqual([{ order_id: renewal.id, amount_minor: 990 }]);
  });

  it('a refund of the first charge that overtakes its payment is answered "retry", then booked once the payment is in: no access stays', async () => {
    const { order, session } = await subscribe(30);
    const paid = emu.pay(session.id);
    const [refunded] = refundedEvents(emu.dashboardRefund(paid.paymentIntent.id).events);
    // Neither checkout.session.completed nor invoice.paid has arrived: the first order is pending, nothing booked.
    expect((await emu.deliver(refunded!))[0]!.status).toBe(500);
    expect(await refundRows()).toEqual([]);
    expect(await db().selectFrom('webhook_events').select(['outcome']).execute()).toEqual([]);
    await deliverAll(paid.events);
    expect(await store().orders.get(order.id)).toMatchObject({ status: 'paid' });
    // Stripe delivers the refund again: booked against the first order, the access it paid for goes.
    await deliverAll([refunded!]);
    expect(await store().orders.get(order.id)).toMatchObject({ status: 'refunded' });
    expect(await refundRows()).toEqual([{ order_id: order.id, amount_minor: 990 }]);
    expect((await membership()).status).toBe('revoked');
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'owner' });
  });

  it('a failure report delivered after the same invoice was paid changes nothing: no failed state, no "fix your card", buying is not refused as charging', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    t.clock.set(sub.current_period_end * 1000 + HOUR_MS);
    const run = emu.cycle(sub.id, { fail: true });
    // 40 s later the member pays the invoice on its page; Stripe delivers invoice.paid before invoice.payment_failed.
    await t.clock.advance(40_000);
    const paidLater = emu.payInvoice(run.invoice!.id);
    await deliverAll(paidLater);
    await deliverAll(run.events);
    expect(await charges()).toBe(2);
    expect(await subscription()).toMatchObject({ state: 'active', failedRenewals: 0 });
    await t.service.worker.drain();
    expect(t.gateway.of('text').filter((c) => c.userId === 'alice' && c.text.includes('did not go through'))).toHaveLength(0);
    const outcomes = await db()
      .selectFrom('webhook_events')
      .select(['outcome'])
      .where('event_id', '=', typed(run.events, 'invoice.payment_failed')[0]!.id)
      .execute();
    expect(outcomes).toEqual([{ outcome: 'subscription_stale' }]);
    // The renewal is paid: buying again is refused as "already renews", not as a charge being taken.
    const again = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'alice', planId: (await subscription()).planId, provider: 'stripe' },
    });
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('already renews itself');
  });

  it('a Customer Portal cancel then resume, delivered resume first: the older cancel is dropped, not applied', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    await t.clock.advance(10 * MINUTE_MS);
    const portal = async (cape: boolean) => {
      const r = await fetch(`${emu.url}/v1/subscriptions/${sub.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: `cancel_at_period_end=${cape}`,
      });
      expect(r.status).toBe(200);
      return emu.eventsOf('customer.subscription.updated', sub.id).at(-1)!;
    };
    const cancel = await portal(true);
    await t.clock.advance(MINUTE_MS);
    const resume = await portal(false);
    // The resume arrives first (nothing to change here), then the cancel made a minute before it.
    await deliverAll([resume]);
    expect(await subscription()).toMatchObject({ state: 'active', canceledBy: null });
    await deliverAll([cancel]);
    expect(await subscription()).toMatchObject({ state: 'active', canceledBy: null });
    expect(await db().selectFrom('webhook_events').select(['outcome']).where('event_id', '=', cancel.id).execute()).toEqual([
      { outcome: 'subscription_stale' },
    ]);
    // At the next cycle Stripe renews and nothing sends cancel_at_period_end=true: the resume stands.
    t.clock.set(sub.current_period_end * 1000 + HOUR_MS);
    await deliverAll(emu.cycle(sub.id).events);
    await t.service.worker.drain();
    expect(emu.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(false);
    expect(await subscription()).toMatchObject({ state: 'active' });
    // A newer report still applies.
    await t.clock.advance(MINUTE_MS);
    await deliverAll([await portal(true)]);
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
  });

  it('/cancel during a failed renewal ends the subscription now and voids its open invoice: paying it later charges nothing, buying again is one charge', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    const paidUntil = sub.current_period_end * 1000;
    t.clock.set(paidUntil + HOUR_MS);
    const run = emu.cycle(sub.id, { fail: true });
    await deliverAll(run.events);
    expect(await subscription()).toMatchObject({ state: 'failed' });
    const reply = texts(await say('/cancel'));
    expect(reply).toContain('will not be charged');
    expect(await subscription()).toMatchObject({ state: 'canceled', canceledBy: 'member' });
    await t.service.worker.drain();
    // Ended at Stripe at once (DELETE), and the open renewal invoice voided so it can no longer be paid.
    expect(emu.requests.filter((r) => r.path === `/v1/subscriptions/${sub.id}` && r.method !== 'GET').map((r) => r.method)).toEqual(['DELETE']);
    expect(emu.requests.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${run.invoice!.id}/void`)).toHaveLength(1);
    expect(emu.invoices.get(run.invoice!.id)!.status).toBe('void');
    expect(emu.subscriptions.get(sub.id)!.status).toBe('canceled');
    expect(() => emu.payInvoice(run.invoice!.id)).toThrow(/is not open/);
    await deliverAll(emu.eventsOf('customer.subscription.deleted', sub.id));
    expect(await subscription()).toMatchObject({ state: 'canceled' });
    // Buying again is allowed and is the only other charge.
    const again = await app().inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'alice', planId: (await subscription()).planId, provider: 'stripe' },
    });
    expect(again.statusCode, again.body).toBe(201);
    const second = (await store().orders.get(again.json().orderId as string))!;
    await deliverAll(emu.pay(emu.sessionFor(second.outTradeNo)!.id).events);
    expect(await charges()).toBe(2);
  });

  it('a Stripe subscriber gets one "renews on …; /cancel to stop" notice 3 days before the charge instead of the expiry reminders', async () => {
    const { session } = await subscribe(30);
    await deliverAll(emu.pay(session.id).events);
    const sub = emu.subscriptionOf(session.id)!;
    const charge = sub.current_period_end * 1000;
    await t.service.worker.drain();
    const toAlice = () =>
      t.gateway
        .of('text')
        .filter((c) => c.userId === 'alice')
        .map((c) => c.text);
    const before = toAlice().length;
    // Every reminder offset (72 h, 24 h, at the end) passes, with a sweep at each.
    for (const at of [charge - 3 * DAY_MS + MINUTE_MS, charge - 2 * DAY_MS, charge - DAY_MS + MINUTE_MS, charge - HOUR_MS, charge - MINUTE_MS]) {
      t.clock.set(at);
      await t.service.scheduler.tick();
      await t.service.worker.drain();
    }
    const sent = toAlice().slice(before);
    const notices = sent.filter((x) => x.includes('renews on'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('/cancel to stop');
    expect(notices[0]).toContain('9.90');
    expect(sent.filter((x) => x.includes('ends on') || x.includes('has ended'))).toEqual([]);
    expect(sent).toHaveLength(1);
  });
});
