// The rows every path that makes or holds an order writes the same way: a new pending order (checkout, a
// subscription's renewal charge), and what an order held for review leaves behind (the audit entry and the
// owners' alert). One home, so a new column or a changed alert reaches every path.
import { newOutTradeNo, unguessableId } from '../domain/ids.ts';
import { alertOwnersJob } from './job-kinds.ts';
import type { Order, Plan } from './model.ts';
import type { Repos } from './ports.ts';

/** A pending order with fresh unguessable ids; the caller inserts it. */
export function newOrder(p: {
  accountId: number;
  planId: number;
  amountMinor: number;
  currency: string;
  provider: string;
  now: number;
  expiresAt: number;
  /** Bought with a coupon (issue 16): amountMinor is the list price less the discount. */
  coupon?: { id: number; listPriceMinor: number; discountMinor: number };
}): Order {
  return {
    id: unguessableId(),
    outTradeNo: newOutTradeNo(),
    accountId: p.accountId,
    planId: p.planId,
    amountMinor: p.amountMinor,
    currency: p.currency,
    provider: p.provider,
    status: 'pending',
    createdAt: p.now,
    updatedAt: p.now,
    expiresAt: p.expiresAt,
    paidAt: null,
    providerTxnId: null,
    reviewReason: null,
    checkoutQr: null,
    checkoutUrl: null,
    outRefundNo: null,
    refundReason: null,
    refundedAt: null,
    listPriceMinor: p.coupon?.listPriceMinor ?? null,
    discountMinor: p.coupon?.discountMinor ?? 0,
    couponId: p.coupon?.id ?? null,
  };
}

/** An order the provider's money put in `review` (mismatch, refund first, banned buyer, another payer): audited, owners told once. */
export async function recordHeldForReview(
  tx: Repos,
  h: { order: Order; plan: Plan; provider: string; reason: string; detail: Record<string, unknown>; now: number },
): Promise<void> {
  await tx.audit.insert({
    at: h.now,
    actor: `provider:${h.provider}`,
    action: 'order.review',
    subjectType: 'order',
    subjectId: h.order.id,
    reason: h.reason,
    detail: h.detail,
  });
  await tx.jobs.enqueue(
    [
      alertOwnersJob(
        { groupIds: h.plan.groupIds, message: { key: 'owner.order_review', params: { orderId: h.order.id, reason: h.reason } } },
        `alert:review:${h.order.id}`,
      ),
    ],
    h.now,
  );
}
