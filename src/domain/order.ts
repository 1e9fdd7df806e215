import { conflict } from './errors.ts';

/**
 * Order lifecycle (DESIGN.md "State machines"):
 *   pending → paid → refund_pending → refunded
 *   pending → expired (time-out); expired → paid (late payment: the money was taken, so it is honoured)
 *   pending|expired → review (amount/currency/merchant mismatch, or paid while banned); review → paid (owner
 *   approves) or → refund_pending (owner refunds)
 *   refund_pending → paid (the provider refused the refund; the money is still ours to account for)
 *   paid|refund_pending → review (the provider reports refunds beyond the charge: a person must look;
 *   nobody loses access over it)
 * A provider `failed` outcome is not a transition: the order stays pending until it expires.
 */
export const ORDER_STATUSES = ['pending', 'paid', 'expired', 'review', 'refund_pending', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export type OrderEvent = 'pay' | 'expire' | 'hold_for_review' | 'approve' | 'request_refund' | 'confirm_refund' | 'refund_failed' | 'refund_overrun';

const TRANSITIONS: Record<OrderEvent, Partial<Record<OrderStatus, OrderStatus>>> = {
  pay: { pending: 'paid', expired: 'paid' },
  expire: { pending: 'expired' },
  hold_for_review: { pending: 'review', expired: 'review' },
  approve: { review: 'paid' },
  request_refund: { paid: 'refund_pending', review: 'refund_pending' },
  confirm_refund: { refund_pending: 'refunded' },
  refund_failed: { refund_pending: 'paid' },
  refund_overrun: { paid: 'review', refund_pending: 'review' },
};

/** The statuses an event may leave from: the `WHERE status IN (…)` of the conditional update that applies it. */
export function orderSourceStatuses(event: OrderEvent): OrderStatus[] {
  return Object.keys(TRANSITIONS[event]) as OrderStatus[];
}

export function nextOrderStatus(status: OrderStatus, event: OrderEvent): OrderStatus | null {
  return TRANSITIONS[event][status] ?? null;
}

export function applyOrderEvent(status: OrderStatus, event: OrderEvent): OrderStatus {
  const next = nextOrderStatus(status, event);
  if (!next) throw conflict(`an order that is ${status} cannot ${event.replace(/_/g, ' ')}`);
  return next;
}

export function isOrderStatus(s: string): s is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(s);
}
