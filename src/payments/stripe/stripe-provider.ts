// Stripe Checkout as a PaymentProvider: one Checkout Session per order, its URL as QR and link;
// notifications verified with the endpoint's signing secret; query, close (expire) and refund through
// the API. Pieces: stripe-checkout (what we create and how we find it again), stripe-signature,
// stripe-events (what an event means), stripe-api (HTTP and typed failures), stripe-currency.
import type { Order, Subscription } from '../../app/model.ts';
import {
  type Checkout,
  type CheckoutRequest,
  type PaymentProvider,
  type ProviderEvent,
  type QueryResult,
  type RefundRequest,
  type RefundResult,
  WebhookRejectedError,
  type WebhookReply,
} from '../../app/ports.ts';
import type { StripeConfig } from '../../config.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/time.ts';
import { PROVIDER, StripeApi, StripeApiError } from './stripe-api.ts';
import { SESSION_SEARCH_AFTER_S, SESSION_SEARCH_BEFORE_S, SESSION_SEARCH_MAX_PAGES, sessionParams, storedSessionId } from './stripe-checkout.ts';
import { stripeAmountProblem, stripeSupportsCurrency } from './stripe-currency.ts';
import { OUT_TRADE_NO_KEY, paidFromSession, sessionOutTradeNo, toPaidInvoice, toProviderEvent } from './stripe-events.ts';
import { Charge, Invoice, list, PaymentIntent, PortalSession, Refund, Session, StripeEvent, Subscription as StripeSubscription } from './stripe-objects.ts';
import { STRIPE_SIGNATURE_HEADER, verifyStripeSignature } from './stripe-signature.ts';

export interface StripeProviderOptions {
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export class StripeProvider implements PaymentProvider {
  readonly name = PROVIDER;
  /**
   * Null: the signing secret belongs to one endpoint of one account, so a verified event is already
   * known to be ours; the account id would cost an API call at start-up and adds no check.
   */
  readonly merchantId = null;
  private readonly api: StripeApi;
  private readonly livemode: boolean;

  constructor(
    private readonly config: StripeConfig,
    private readonly clock: Clock,
    opts: StripeProviderOptions = {},
  ) {
    this.api = new StripeApi(config.secretKey, config.apiBase, opts.timeoutMs);
    this.livemode = /^(sk|rk)_live_/.test(config.secretKey);
  }

  supportsCurrency(currency: string): boolean {
    return stripeSupportsCurrency(currency);
  }

  async createCheckout(req: CheckoutRequest): Promise<Checkout> {
    const problem = stripeAmountProblem(req.order.amountMinor, req.order.currency);
    if (problem) throw new ProviderRejectedError(PROVIDER, problem, undefined, { method: 'POST /v1/checkout/sessions' });
    const session = await this.api.post('/v1/checkout/sessions', Session, { params: sessionParams(req, this.clock.now()) });
    if (!session.url || !/^https?:\/\//.test(session.url))
      throw new ProviderUnreachableError(PROVIDER, `session ${session.id} came back without a Checkout URL`, { method: 'POST /v1/checkout/sessions' });
    return { qrContent: session.url, payUrl: session.url };
  }

  async parseWebhook(rawBody: Buffer, headers: Record<string, string | undefined>): Promise<ProviderEvent> {
    verifyStripeSignature(rawBody, headers[STRIPE_SIGNATURE_HEADER], this.config.webhookSecret, this.clock.now());
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new WebhookRejectedError('malformed', 'body is not JSON');
    }
    const event = StripeEvent.safeParse(json);
    if (!event.success) throw new WebhookRejectedError('malformed', 'body is not a Stripe event');
    return toProviderEvent(event.data, this.livemode, { invoiceOfCharge: (c) => this.invoiceOfCharge(c) });
  }

  webhookReply(result: 'ok' | 'retry'): WebhookReply {
    // Stripe treats any 2xx as delivered and retries anything else (for up to three days).
    return result === 'ok'
      ? { status: 200, body: '{"received":true}', contentType: 'application/json' }
      : { status: 500, body: '{"received":false}', contentType: 'application/json' };
  }

  async query(order: Order): Promise<QueryResult> {
    // A subscription's charge, paid already (its first order, or a renewal's, which has no Checkout Session at all):
    // the invoice says how it stands.
    if (order.providerTxnId && /^in_/.test(order.providerTxnId)) return this.queryInvoice(order.providerTxnId);
    const session = await this.findSession(order);
    if (!session) return { state: 'unknown' };
    if (session.status === 'open') return { state: 'pending' };
    if (session.status === 'expired') return { state: 'closed' };
    if (session.status !== 'complete' || session.payment_status === 'unpaid') return { state: 'pending' }; // a delayed method still settling
    const paid = paidFromSession(session, `query:${session.id}`, session.created * 1000, null);
    if (!paid) return { state: 'unknown' };
    // A subscription's first charge is its first invoice: paid when it was paid.
    if (session.mode === 'subscription') {
      const invoice = await this.api.get(`/v1/invoices/${encodeURIComponent(paid.providerTxnId)}`, Invoice);
      if (invoice.status_transitions?.paid_at) paid.paidAt = invoice.status_transitions.paid_at * 1000;
      return { state: 'paid', event: paid };
    }
    // The period starts when the money moved (the charge), not when we happened to ask.
    const pi = await this.api.get(`/v1/payment_intents/${encodeURIComponent(paid.providerTxnId)}`, PaymentIntent, { expand: ['latest_charge'] });
    const charge = typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
    if (charge) paid.paidAt = charge.created * 1000;
    if (charge && charge.amount_refunded > 0 && (await this.refundedTotal(pi.id)) >= charge.amount) return { state: 'refunded' };
    return { state: 'paid', event: paid };
  }

  /**
   * A subscription's paid invoice: `refunded` once the refunds of the PaymentIntent that paid it reach its charge
   * (the invoice's `payment_intent` at our pinned 2024-06-20; 2025-03-31.basil moved it under `invoice.payments`,
   * docs.stripe.com/api/invoices/object#invoice_object-payment_intent), else `paid` as its invoice.paid says.
   */
  private async queryInvoice(invoiceId: string): Promise<QueryResult> {
    const invoice = await this.api.get(`/v1/invoices/${encodeURIComponent(invoiceId)}`, Invoice);
    if (invoice.status !== 'paid') return { state: 'pending' };
    if (invoice.payment_intent) {
      const pi = await this.api.get(`/v1/payment_intents/${encodeURIComponent(invoice.payment_intent)}`, PaymentIntent, { expand: ['latest_charge'] });
      const charge = typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
      if (charge && charge.amount_refunded > 0 && (await this.refundedTotal(pi.id)) >= charge.amount) return { state: 'refunded' };
    }
    const paid = toPaidInvoice(invoice, `query:${invoice.id}`, invoice.created * 1000);
    return paid ? { state: 'paid', event: paid } : { state: 'unknown' };
  }

  async close(order: Order): Promise<void> {
    const session = await this.findSession(order);
    if (!session || session.status === 'expired') return;
    if (session.status === 'complete')
      throw new ProviderRejectedError(PROVIDER, `session ${session.id} is already complete (paid): it cannot be expired`, undefined, {
        method: 'POST /v1/checkout/sessions/{id}/expire',
      });
    try {
      await this.api.post(`/v1/checkout/sessions/${encodeURIComponent(session.id)}/expire`, Session);
    } catch (err) {
      if (!(err instanceof StripeApiError)) throw err;
      // Only an open session can be expired: find out what it became meanwhile.
      const now = await this.api.get(`/v1/checkout/sessions/${encodeURIComponent(session.id)}`, Session);
      if (now.status === 'expired') return;
      throw err;
    }
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    let pi = req.order.providerTxnId;
    // A subscription's charge is booked under its invoice: the refund goes to the invoice's PaymentIntent.
    if (pi && /^in_/.test(pi)) pi = (await this.api.get(`/v1/invoices/${encodeURIComponent(pi)}`, Invoice)).payment_intent;
    if (!pi || !/^pi_/.test(pi))
      throw new ProviderRejectedError(PROVIDER, `order ${req.order.id} has no Stripe payment to refund`, undefined, { method: 'POST /v1/refunds' });
    let refund;
    try {
      // The refund number is stored before this call and never reissued, so as the idempotency key it
      // makes every retry of this call the same refund (Stripe keeps keys for at least 24 hours).
      refund = await this.api.post('/v1/refunds', Refund, {
        idempotencyKey: req.outRefundNo,
        params: {
          payment_intent: pi,
          amount: req.amountMinor,
          metadata: { out_refund_no: req.outRefundNo, [OUT_TRADE_NO_KEY]: req.order.outTradeNo, reason: req.reason.slice(0, 500) },
        },
      });
    } catch (err) {
      // A retry after the key expired, or a refund made in the dashboard meanwhile: the money is back
      // with the member either way, and that is what the caller needs to know.
      // The core books it as "the whole charge is back", so the id only has to be stable.
      if (err instanceof StripeApiError && err.code === 'charge_already_refunded' && (await this.refundedTotal(pi)) >= req.amountMinor) {
        return { state: 'refunded', providerRefundId: `refund:${req.outRefundNo}` };
      }
      throw err;
    }
    switch (refund.status) {
      case 'succeeded':
        // The refund's own id: one refund, one ledger row (a charge.refunded listing it names the same id).
        return { state: 'refunded', providerRefundId: refund.id };
      case 'pending':
      case 'requires_action':
        return { state: 'processing' };
      default:
        throw new ProviderRejectedError(
          PROVIDER,
          `refund ${refund.id} is ${refund.status ?? 'in an unknown state'}${refund.failure_reason ? ` (${refund.failure_reason})` : ''}`,
          undefined,
          { method: 'POST /v1/refunds' },
        );
    }
  }

  /**
   * /cancel and /resume: `POST /v1/subscriptions/{id}` with `cancel_at_period_end` — true "cancels at the end of the
   * current period" (the subscription stays active until then and customer.subscription.deleted fires at its end);
   * false undoes it while the period runs (docs.stripe.com/api/subscriptions/update#update_subscription-cancel_at_period_end;
   * docs.stripe.com/billing/subscriptions/cancel). Setting the same value twice changes nothing, so a retried job is harmless.
   */
  async setRenewal(sub: Subscription, _account: unknown, renew: boolean): Promise<void> {
    if (!/^sub_/.test(sub.subscriptionId))
      throw new ProviderRejectedError(PROVIDER, `subscription ${sub.id} has no Stripe subscription id`, undefined, { method: 'POST /v1/subscriptions/{id}' });
    await this.api.post(`/v1/subscriptions/${encodeURIComponent(sub.subscriptionId)}`, StripeSubscription, {
      params: { cancel_at_period_end: !renew },
    });
  }

  /**
   * A ban, or /cancel during a failed renewal: `DELETE /v1/subscriptions/{id}` cancels the subscription at once — "the
   * customer won't be charged again for the subscription" (docs.stripe.com/api/subscriptions/cancel); no proration or
   * final invoice is asked for (both off by default). Stripe then sends customer.subscription.deleted. A subscription
   * that already ended is refused (a ProviderRejectedError: recorded by the caller, not retried).
   * Cancelling only "stops automatic collection" of its finalized invoices (same page): an open renewal invoice could
   * still be paid on its hosted page, booking a renewal of a membership the member may have bought again meanwhile.
   * So its latest invoice, when open, is voided first (`POST /v1/invoices/{id}/void`, docs.stripe.com/api/invoices/void:
   * "cannot be undone"; a void invoice cannot be paid). First, so a retry after a failure in between still voids it.
   */
  async endSubscription(sub: Subscription): Promise<void> {
    if (!/^sub_/.test(sub.subscriptionId))
      throw new ProviderRejectedError(PROVIDER, `subscription ${sub.id} has no Stripe subscription id`, undefined, { method: 'DELETE /v1/subscriptions/{id}' });
    const path = `/v1/subscriptions/${encodeURIComponent(sub.subscriptionId)}`;
    const current = await this.api.get(path, StripeSubscription);
    if (current.latest_invoice && current.status !== 'canceled') {
      const invoice = await this.api.get(`/v1/invoices/${encodeURIComponent(current.latest_invoice)}`, Invoice);
      if (invoice.status === 'open') await this.api.post(`/v1/invoices/${encodeURIComponent(invoice.id)}/void`, Invoice);
    }
    await this.api.delete(path, StripeSubscription);
  }

  /**
   * /billing: a Customer Portal session for the subscription's customer (`POST /v1/billing_portal/sessions` with
   * `customer` and `return_url`; docs.stripe.com/api/customer_portal/sessions/create). Sessions are short-lived, so
   * one is made per request. The customer is read from the subscription (`GET /v1/subscriptions/{id}`): we store
   * only the subscription's id. The portal must be enabled in the dashboard (Settings → Billing → Customer portal).
   */
  async billingPortalUrl(sub: Subscription, returnUrl: string): Promise<string> {
    const s = await this.api.get(`/v1/subscriptions/${encodeURIComponent(sub.subscriptionId)}`, StripeSubscription);
    if (!s.customer)
      throw new ProviderRejectedError(PROVIDER, `subscription ${s.id} has no customer`, undefined, { method: 'POST /v1/billing_portal/sessions' });
    const portal = await this.api.post('/v1/billing_portal/sessions', PortalSession, { params: { customer: s.customer, return_url: returnUrl } });
    return portal.url;
  }

  /** See StripeLookup.invoiceOfCharge. A charge or invoice Stripe does not know (404) paid nothing of ours. */
  private async invoiceOfCharge(c: Charge): Promise<Invoice | null> {
    try {
      const id = c.invoice !== undefined ? c.invoice : ((await this.api.get(`/v1/charges/${encodeURIComponent(c.id)}`, Charge)).invoice ?? null);
      return id ? await this.api.get(`/v1/invoices/${encodeURIComponent(id)}`, Invoice) : null;
    } catch (err) {
      if (err instanceof StripeApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Sum of the succeeded refunds of a PaymentIntent. */
  private async refundedTotal(paymentIntentId: string): Promise<number> {
    let total = 0;
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await this.api.get('/v1/refunds', list(Refund), { payment_intent: paymentIntentId, limit: 100, starting_after: after });
      for (const r of res.data) if (r.status === 'succeeded') total += r.amount;
      if (!res.has_more || res.data.length === 0) break;
      after = res.data[res.data.length - 1]!.id;
    }
    return total;
  }

  /** The order's session: by the id in its Checkout URL, else by a bounded search around its creation. */
  private async findSession(order: Order): Promise<Session | null> {
    const id = storedSessionId(order);
    if (id) {
      try {
        const s = await this.api.get(`/v1/checkout/sessions/${encodeURIComponent(id)}`, Session);
        // A URL that names somebody else's session is not evidence about this order.
        return sessionOutTradeNo(s) === order.outTradeNo ? s : null;
      } catch (err) {
        if (err instanceof StripeApiError && err.status === 404) return null;
        throw err;
      }
    }
    const created = Math.floor(order.createdAt / 1000);
    let after: string | undefined;
    for (let page = 0; page < SESSION_SEARCH_MAX_PAGES; page++) {
      const res = await this.api.get('/v1/checkout/sessions', list(Session), {
        created: { gte: created - SESSION_SEARCH_BEFORE_S, lte: created + SESSION_SEARCH_AFTER_S },
        limit: 100,
        starting_after: after,
      });
      const found = res.data.find((s) => sessionOutTradeNo(s) === order.outTradeNo);
      if (found) return found;
      if (!res.has_more || res.data.length === 0) return null;
      after = res.data[res.data.length - 1]!.id;
    }
    return null;
  }
}
