// What a verified Stripe event means for us. Only Checkout Sessions we created (they carry our order
// number in client_reference_id and metadata) and charges made through them (payment_intent_data
// copies the order number into the charge's metadata) are ours; everything else the account sends to
// the endpoint is acknowledged and ignored.
//
//   checkout.session.completed, payment_status=paid     → paid
//   checkout.session.completed, payment_status=unpaid   → ignored: a delayed method (SEPA, bank transfer) is
//                                                          still settling; its async_payment_succeeded follows
//   checkout.session.async_payment_succeeded            → paid
//   checkout.session.async_payment_failed               → failed (the order stays pending until it times out)
//   charge.refunded (full or partial)                   → refunded (the core withdraws access only once
//                                                          the refunds booked reach the charge)
//   charge.refunded of a subscription's charge          → refunded, naming the order by the charge's invoice
//                                                          (the first order's charge and each renewal's are
//                                                          booked under their invoice id; see below)
// Subscriptions (a recurring plan's Checkout Session in subscription mode; its subscription carries the order
// number in its metadata, and each invoice a snapshot of it):
//   checkout.session.completed (mode subscription)      → paid, first charge, keyed by the first invoice's id
//   invoice.paid, billing_reason subscription_create    → the same first charge (whichever comes first grants)
//   invoice.paid, any later invoice                     → paid, a renewal keyed by its invoice id, to the
//                                                          end of the period its line pays for (amount 0 too:
//                                                          a 100 % coupon or credit balance still renews)
//   invoice.paid of a subscription not ours             → paid for an order nobody has: recorded, owners told
//   invoice.payment_failed (a renewal)                  → subscription failed (the member is told, with a link)
//   customer.subscription.updated                       → canceled (cancel_at_period_end) or active again
//   customer.subscription.deleted                       → canceled: renewal over, access to the period's end
//
// One payment reaches us under several ids (completed, async_payment_succeeded, a reconcile query): the
// transaction id is always the PaymentIntent id, so the core's ledger key books it once.
// A refund: charge.refunded fires for every refund, full or partial, and its charge carries
// `amount_refunded`, the running total of refunds on the charge. Since API 2022-11-15 the charge no longer
// lists its `refunds` (unless expanded), so the event cannot say which refund it is about or how much that
// one was. It goes out as `cumulativeMinor` (the core books what its ledger does not show yet, so one
// refund reported twice, or reports out of order, never count twice), under an id stable per refund: the
// newest refund's id when the list is there (`re_…`, as our refund call answers), else the charge and
// its running total (`ch_…:refunded:<total>`; each refund raises the total, so each gets its own id).
// A subscription's charge carries no order number of ours (Checkout in subscription mode takes no
// payment_intent_data; the number lives on the subscription and, as a snapshot, on each invoice), so its
// refund is traced charge → invoice → order: the charge's `invoice` (API ≤ 2025-02-24.acacia; our calls pin
// 2024-06-20; docs.stripe.com/api/charges/object#charge_object-invoice), read at our version when the event
// was rendered at a newer one; the invoice's subscription metadata names the first order, and the invoice id
// is the ledger key of the order that charge paid — the first order (billing_reason subscription_create) or a
// renewal's own order, which has no number at Stripe at all. The event carries both (`chargeTxnId`).
import { type ProviderEvent, WebhookRejectedError } from '../../app/ports.ts';
import { fromStripeCurrency } from './stripe-currency.ts';
import { Charge, Invoice, Session, type StripeEvent, Subscription } from './stripe-objects.ts';

export const OUT_TRADE_NO_KEY = 'out_trade_no';

/** The order number a session was created for; null when it is not one of ours. */
export function sessionOutTradeNo(s: Pick<Session, 'client_reference_id' | 'metadata'>): string | null {
  const ref = s.client_reference_id ?? null;
  const meta = s.metadata[OUT_TRADE_NO_KEY] ?? null;
  if (ref && meta && ref !== meta) return null;
  return ref ?? meta;
}

/**
 * A paid event for a complete, paid session. In payment mode the charge is the PaymentIntent; in subscription mode
 * it is the subscription's first invoice (the session's `invoice`), the same id the first `invoice.paid` carries, so
 * whichever of the two events arrives first grants and the other books nothing (one ledger key).
 */
export function paidFromSession(s: Session, eventId: string, paidAt: number, merchantId: string | null): PaidEvent | null {
  const outTradeNo = sessionOutTradeNo(s);
  const txn = s.mode === 'subscription' ? s.invoice : s.payment_intent;
  if (!outTradeNo || s.payment_status !== 'paid' || !txn || s.amount_total == null || !s.currency) return null;
  if (s.mode === 'subscription' && !s.subscription) return null;
  return {
    type: 'paid',
    eventId,
    outTradeNo,
    providerTxnId: txn,
    amountMinor: s.amount_total,
    currency: fromStripeCurrency(s.currency),
    merchantId,
    paidAt,
    // The period's end is the first invoice's to say (invoice.paid); until it comes, the plan's days.
    ...(s.mode === 'subscription' ? { subscription: { first: true, id: s.subscription!, expiresAt: null } } : {}),
  };
}

type PaidEvent = Extract<ProviderEvent, { type: 'paid' }>;

/** The subscription an invoice belongs to and the metadata it carries, in the pinned and in newer API versions. */
function invoiceSubscription(i: Invoice): { id: string; outTradeNo: string | null } | null {
  const id = i.subscription ?? i.parent?.subscription_details?.subscription ?? null;
  if (!id) return null;
  const meta = i.subscription_details?.metadata ?? i.parent?.subscription_details?.metadata ?? {};
  return { id, outTradeNo: meta[OUT_TRADE_NO_KEY] ?? null };
}

/** The end of the service period an invoice pays for: the latest end among its lines (unix seconds → ms). */
function invoicePeriodEnd(i: Invoice): number | null {
  const ends = i.lines.data.map((l) => l.period.end);
  return ends.length > 0 ? Math.max(...ends) * 1000 : null;
}

/**
 * A subscription's invoice, paid (`invoice.paid`) — its own id is the ledger key:
 *   - billing_reason `subscription_create`: the first charge (the Checkout Session's own; first: true);
 *   - any other reason (`subscription_cycle`, and `subscription_update` / `manual` when an owner changes it in the
 *     dashboard): a renewal, naming the first order, extending access to the end of the period it pays for;
 *   - a subscription that is not ours (no order number in its metadata): a paid event naming the subscription
 *     itself as the order, which no order has, so the core records it, answers 2xx, grants nothing and alerts the
 *     owners, like any unknown payment.
 * billing_reason values: docs.stripe.com/api/invoices/object#invoice_object-billing_reason.
 */
function paidFromInvoice(i: Invoice, eventId: string, at: number, merchantId: string | null): ProviderEvent {
  const sub = invoiceSubscription(i);
  if (!sub) return { type: 'ignored', eventId, reason: 'an invoice of no subscription' };
  // A renewal with nothing to pay (a 100 % coupon, or the customer's credit balance covering it, both set up in the
  // owner's Stripe account) still renews the period: a paid event of 0. Anything else with nothing paid is not a charge.
  const renewal = sub.outTradeNo !== null && i.billing_reason !== 'subscription_create';
  if (i.amount_paid < 0 || (i.amount_paid === 0 && !(renewal && i.status === 'paid')))
    return { type: 'ignored', eventId, reason: 'an invoice with nothing paid' };
  const paidAt = (i.status_transitions?.paid_at ?? null) !== null ? i.status_transitions!.paid_at! * 1000 : at;
  return {
    type: 'paid',
    eventId,
    outTradeNo: sub.outTradeNo ?? sub.id,
    providerTxnId: i.id,
    amountMinor: i.amount_paid,
    currency: fromStripeCurrency(i.currency),
    merchantId,
    paidAt,
    subscription: { first: sub.outTradeNo !== null && i.billing_reason === 'subscription_create', id: sub.id, expiresAt: invoicePeriodEnd(i) },
  };
}

/** A paid subscription invoice as a paid event (a reconcile query's answer); null when it is not a paid charge of ours. */
export function toPaidInvoice(i: Invoice, eventId: string, at: number): PaidEvent | null {
  const e = paidFromInvoice(i, eventId, at, null);
  return e.type === 'paid' && invoiceSubscription(i)?.outTradeNo ? e : null;
}

function parseObject<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, obj: unknown, type: string): T {
  const r = schema.safeParse(obj);
  if (!r.success) throw new WebhookRejectedError('malformed', `${type} event does not hold the object it should`);
  return r.data;
}

/**
 * A refund of a charge, reported by charge.refunded (see the header for the ids and amounts). `chargeTxnId`: the
 * subscription invoice the charge paid, the ledger key of the order it is about (`outTradeNo` is then the
 * subscription's first order).
 */
function refundedFromCharge(c: Charge, eventId: string, at: number, outTradeNo: string, chargeTxnId?: string): ProviderEvent {
  // Newest first, as Stripe lists them.
  const newest = c.refunds?.data[0] ?? null;
  return {
    type: 'refunded',
    eventId,
    outTradeNo,
    ...(chargeTxnId !== undefined ? { chargeTxnId } : {}),
    providerRefundId: newest ? newest.id : `${c.id}:refunded:${c.amount_refunded}`,
    amountMinor: newest ? newest.amount : c.amount_refunded,
    cumulativeMinor: c.amount_refunded,
    currency: fromStripeCurrency(c.currency),
    refundedAt: at,
  };
}

/** What reading an event may need from the API (the provider's calls, at the pinned version). */
export interface StripeLookup {
  /**
   * The invoice a charge paid, read at the pinned version; null when it paid none (or no longer exists). The charge's
   * own `invoice` when the event carries it, else the charge read again (an endpoint on 2025-03-31.basil or later
   * renders charges without it).
   */
  invoiceOfCharge(c: Charge): Promise<Invoice | null>;
}

export async function toProviderEvent(e: StripeEvent, livemode: boolean, lookup: StripeLookup): Promise<ProviderEvent> {
  const ignored = (reason: string): ProviderEvent => ({ type: 'ignored', eventId: e.id, reason });
  // A test-mode payment must never open a group sold with a live key (and the other way round).
  if (e.livemode !== livemode) return ignored(`${e.livemode ? 'live' : 'test'}-mode event at a ${livemode ? 'live' : 'test'}-mode endpoint`);
  const at = e.created * 1000;
  const merchantId = e.account ?? null;
  switch (e.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
    case 'checkout.session.async_payment_failed': {
      const s = parseObject(Session, e.data.object, e.type);
      const outTradeNo = sessionOutTradeNo(s);
      if (!outTradeNo) return ignored('a Checkout Session Gatekeeper did not create');
      if (s.mode !== 'payment' && s.mode !== 'subscription') return ignored(`a Checkout Session in ${s.mode} mode`);
      if (e.type === 'checkout.session.async_payment_failed') return { type: 'failed', eventId: e.id, outTradeNo, reason: 'the delayed payment failed' };
      if (s.payment_status !== 'paid') return ignored(`session ${s.payment_status}: the payment is not settled yet`);
      const paid = paidFromSession(s, e.id, at, merchantId);
      if (!paid) throw new WebhookRejectedError('malformed', `${e.type} for a paid session lacks payment_intent, amount_total or currency`);
      return paid;
    }
    case 'charge.refunded': {
      const c = parseObject(Charge, e.data.object, e.type);
      if (c.amount_refunded <= 0) return ignored('charge.refunded with nothing refunded');
      const outTradeNo = c.metadata[OUT_TRADE_NO_KEY];
      if (outTradeNo) return refundedFromCharge(c, e.id, at, outTradeNo);
      // A subscription's charge: its invoice names the order (see the header).
      if (c.invoice === null) return ignored('a charge Gatekeeper did not create');
      const invoice = await lookup.invoiceOfCharge(c);
      const sub = invoice ? invoiceSubscription(invoice) : null;
      if (!invoice || !sub?.outTradeNo) return ignored('a charge Gatekeeper did not create');
      return refundedFromCharge(c, e.id, at, sub.outTradeNo, invoice.id);
    }
    case 'invoice.paid':
      return paidFromInvoice(parseObject(Invoice, e.data.object, e.type), e.id, at, merchantId);
    case 'invoice.payment_failed': {
      // A renewal's charge failed (Stripe retries it on its own schedule): the member is told, with the invoice's
      // hosted page to pay it with another card; the membership runs to its end and the normal grace follows.
      const i = parseObject(Invoice, e.data.object, e.type);
      const sub = invoiceSubscription(i);
      if (!sub?.outTradeNo) return ignored('an invoice of a subscription Gatekeeper did not create');
      if (i.billing_reason === 'subscription_create') return ignored('the first invoice failed: Checkout asks the payer again, nothing was granted');
      return {
        type: 'subscription',
        eventId: e.id,
        outTradeNo: sub.outTradeNo,
        subscriptionId: sub.id,
        state: 'failed',
        chargeTxnId: i.id,
        at,
        fixUrl: i.hosted_invoice_url ?? null,
      };
    }
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      // deleted: the subscription ended (at the period's end after a cancel, or at once from the dashboard); access
      // runs to the end of what was paid. updated: only a change of cancel_at_period_end (named in the event's
      // previous_attributes) is mirrored — a /cancel made in the Customer Portal, or the echo of ours, and their
      // undoing. Other updates (a new period, past_due and back) say nothing about cancelling: an update made for a
      // renewal while our own /cancel is still on its way to Stripe must not undo it; failures and recoveries come
      // from invoice.payment_failed and invoice.paid. (docs.stripe.com/api/subscriptions/object: cancel_at_period_end,
      // status; docs.stripe.com/api/events/object: data.previous_attributes.)
      const s = parseObject(Subscription, e.data.object, e.type);
      const outTradeNo = s.metadata[OUT_TRADE_NO_KEY];
      if (!outTradeNo) return ignored('a subscription Gatekeeper did not create');
      const base = { type: 'subscription' as const, eventId: e.id, outTradeNo, subscriptionId: s.id, at };
      if (e.type === 'customer.subscription.deleted' || s.status === 'canceled' || s.status === 'incomplete_expired')
        return { ...base, state: 'canceled', canceledBy: 'provider' };
      if (!Object.hasOwn(e.data.previous_attributes ?? {}, 'cancel_at_period_end')) return ignored('a subscription update that is not about cancelling');
      if (s.cancel_at_period_end) return { ...base, state: 'canceled', canceledBy: 'member' };
      return { ...base, state: 'active' };
    }
    default:
      return ignored(`event type ${e.type}`);
  }
}
