// The Checkout Session we create for an order, and how we find it again.
//
// Identity: `client_reference_id` = the order's outTradeNo — the provider-facing order number the core
// resolves every event by (orders.findByOutTradeNo). The order id is the unguessable capability behind
// /pay/:id and is not handed to a third party. The same number goes into the session's metadata and,
// through payment_intent_data, into the PaymentIntent's and charge's metadata, so charge.refunded
// (a charge, not a session) still names the order.
//
// Expiry: Stripe accepts expires_at only 30 minutes to 24 hours ahead, while an order's window is usually
// shorter (ORDER_TTL_MINUTES, 15 by default). The session is created with the order's expiry clamped into
// that range (31 minutes at least, leaving a minute for clock skew), and when the order times out on our
// side the core's close job expires the session at once. A payment made in the gap is still honoured
// (expired → paid: the money was taken).
//
// Finding it again without a schema change: Stripe puts the session id in the Checkout URL
// (https://checkout.stripe.com/c/pay/cs_…#…), which the core stores as Order.checkoutUrl. When that is
// missing (the create call timed out, or the URL format changes), the session is looked up by listing
// sessions created around the order's creation time (GET /v1/checkout/sessions?created[gte]=…&created[lte]=…,
// a documented filter) and matching client_reference_id — bounded pages, newest first.
import type { CheckoutRequest } from '../../app/ports.ts';
import type { Order } from '../../app/model.ts';
import { MINUTE_MS, HOUR_MS } from '../../domain/time.ts';
import type { FormValue } from './stripe-form.ts';
import { toStripeCurrency } from './stripe-currency.ts';
import { OUT_TRADE_NO_KEY } from './stripe-events.ts';

export const MIN_SESSION_LIFETIME_MS = 31 * MINUTE_MS;
export const MAX_SESSION_LIFETIME_MS = 24 * HOUR_MS - MINUTE_MS;
/** How far around the order's creation time a session is searched for, in seconds. */
export const SESSION_SEARCH_BEFORE_S = 5 * 60;
export const SESSION_SEARCH_AFTER_S = 15 * 60;
export const SESSION_SEARCH_MAX_PAGES = 20;

/** The session's expires_at (unix seconds): the order's expiry, clamped into what Stripe accepts. */
export function sessionExpiresAt(orderExpiresAt: number, now: number): number {
  const ms = Math.min(Math.max(orderExpiresAt, now + MIN_SESSION_LIFETIME_MS), now + MAX_SESSION_LIFETIME_MS);
  return Math.ceil(ms / 1000);
}

/**
 * The Stripe billing interval that renews a plan of this length (issue 18 part 3): 7 days → week, 30 → month,
 * 365 → year; null for any other length (sold one-off). A price's `recurring.interval` is one of day, week,
 * month, year (docs.stripe.com/api/prices/object#price_object-recurring-interval). Stripe's month and year are
 * calendar ones, so a period may be a day longer or shorter than 30 or 365 days: each renewal extends access to
 * the end of the period the invoice paid for (its line's period.end), not by the plan's days.
 */
export function stripeInterval(days: number): 'week' | 'month' | 'year' | null {
  return days === 7 ? 'week' : days === 30 ? 'month' : days === 365 ? 'year' : null;
}

/** Stripe renews this plan by itself: a recurring plan of a length Stripe has an interval for. */
export const stripeRenews = (plan: { recurring: boolean; durationDays: number }): boolean => plan.recurring && stripeInterval(plan.durationDays) !== null;

/**
 * A one-off plan: `mode=payment`. A recurring plan of 7, 30 or 365 days: `mode=subscription` with an inline price
 * that recurs (`line_items[0][price_data][recurring][interval]`), "Pass subscription if the Checkout Session
 * includes at least one recurring item" (docs.stripe.com/api/checkout/sessions/create#create_checkout_session-mode).
 * In subscription mode `payment_intent_data` is not accepted; the order number goes onto the subscription with
 * `subscription_data[metadata]`, and from there onto every invoice it makes (`subscription_details.metadata`), so
 * each renewal names the first order.
 */
export function sessionParams(req: CheckoutRequest, now: number): { [key: string]: FormValue } {
  const { order, plan } = req;
  const interval = plan.recurring ? stripeInterval(plan.durationDays) : null;
  const mark = { [OUT_TRADE_NO_KEY]: order.outTradeNo };
  return {
    mode: interval ? 'subscription' : 'payment',
    line_items: [
      {
        price_data: {
          currency: toStripeCurrency(order.currency),
          unit_amount: order.amountMinor,
          product_data: { name: plan.name.slice(0, 250) || 'Membership' },
          ...(interval ? { recurring: { interval } } : {}),
        },
        quantity: 1,
      },
    ],
    success_url: req.payPageUrl,
    cancel_url: req.payPageUrl,
    client_reference_id: order.outTradeNo,
    metadata: mark,
    ...(interval ? { subscription_data: { metadata: mark } } : { payment_intent_data: { metadata: mark } }),
    expires_at: sessionExpiresAt(order.expiresAt, now),
  };
}

const SESSION_IN_URL = /\/(cs_(?:test|live)_[A-Za-z0-9]{8,250})(?=[/?#]|$)/;

/** The session id inside a Checkout URL, or null. */
export function sessionIdFromUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    return SESSION_IN_URL.exec(new URL(url).pathname)?.[1] ?? null;
  } catch {
    return null;
  }
}

export function storedSessionId(order: Pick<Order, 'checkoutUrl' | 'checkoutQr'>): string | null {
  return sessionIdFromUrl(order.checkoutUrl) ?? sessionIdFromUrl(order.checkoutQr);
}
