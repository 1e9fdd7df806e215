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
import { type ProviderEvent, WebhookRejectedError } from '../../app/ports.ts';
import { fromStripeCurrency } from './stripe-currency.ts';
import { Charge, Session, type StripeEvent } from './stripe-objects.ts';

export const OUT_TRADE_NO_KEY = 'out_trade_no';

/** The order number a session was created for; null when it is not one of ours. */
export function sessionOutTradeNo(s: Pick<Session, 'client_reference_id' | 'metadata'>): string | null {
  const ref = s.client_reference_id ?? null;
  const meta = s.metadata[OUT_TRADE_NO_KEY] ?? null;
  if (ref && meta && ref !== meta) return null;
  return ref ?? meta;
}

/** A paid event for a complete, paid session. */
export function paidFromSession(s: Session, eventId: string, paidAt: number, merchantId: string | null): Extract<ProviderEvent, { type: 'paid' }> | null {
  const outTradeNo = sessionOutTradeNo(s);
  if (!outTradeNo || s.payment_status !== 'paid' || !s.payment_intent || s.amount_total == null || !s.currency) return null;
  return {
    type: 'paid',
    eventId,
    outTradeNo,
    providerTxnId: s.payment_intent,
    amountMinor: s.amount_total,
    currency: fromStripeCurrency(s.currency),
    merchantId,
    paidAt,
  };
}

function parseObject<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, obj: unknown, type: string): T {
  const r = schema.safeParse(obj);
  if (!r.success) throw new WebhookRejectedError('malformed', `${type} event does not hold the object it should`);
  return r.data;
}

export function toProviderEvent(e: StripeEvent, livemode: boolean): ProviderEvent {
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
      if (s.mode !== 'payment') return ignored(`a Checkout Session in ${s.mode} mode`);
      if (e.type === 'checkout.session.async_payment_failed') return { type: 'failed', eventId: e.id, outTradeNo, reason: 'the delayed payment failed' };
      if (s.payment_status !== 'paid') return ignored(`session ${s.payment_status}: the payment is not settled yet`);
      const paid = paidFromSession(s, e.id, at, merchantId);
      if (!paid) throw new WebhookRejectedError('malformed', `${e.type} for a paid session lacks payment_intent, amount_total or currency`);
      return paid;
    }
    case 'charge.refunded': {
      const c = parseObject(Charge, e.data.object, e.type);
      const outTradeNo = c.metadata[OUT_TRADE_NO_KEY];
      if (!outTradeNo) return ignored('a charge Gatekeeper did not create');
      if (c.amount_refunded <= 0) return ignored('charge.refunded with nothing refunded');
      // Newest first, as Stripe lists them.
      const newest = c.refunds?.data[0] ?? null;
      return {
        type: 'refunded',
        eventId: e.id,
        outTradeNo,
        providerRefundId: newest ? newest.id : `${c.id}:refunded:${c.amount_refunded}`,
        amountMinor: newest ? newest.amount : c.amount_refunded,
        cumulativeMinor: c.amount_refunded,
        currency: fromStripeCurrency(c.currency),
        refundedAt: at,
      };
    }
    default:
      return ignored(`event type ${e.type}`);
  }
}
