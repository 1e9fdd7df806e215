// Refunds: the refund number is stored (order → refund_pending) before the provider is asked, and the
// provider call runs in a job outside any transaction, retried with the same number until the provider
// answers. On confirmation the order's periods are revoked, the expiry shortened by what they added, and
// access withdrawn when nothing is left; the member is told.
import { conflict, notFound } from '../domain/errors.ts';
import { newOutTradeNo } from '../domain/ids.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { formatMoney } from '../domain/money.ts';
import { orderSourceStatuses } from '../domain/order.ts';
import { toIso } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf, notAllowed } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { alertOwnersJob, notifyJob, refundJob, removeJob } from './job-kinds.ts';
import type { Order } from './model.ts';
import type { Repos } from './ports.ts';

export async function requestRefund(deps: AppDeps, input: { actor: Actor; orderId: string; reason?: string }): Promise<Order> {
  const now = deps.clock.now();
  const reason = (input.reason ?? '').trim().slice(0, 500) || 'refund requested by owner';
  const order = await deps.store.transaction(async (tx) => {
    const o = await tx.orders.get(input.orderId);
    if (!o) throw notFound(`no order with id ${input.orderId}`);
    const plan = await tx.plans.get(o.planId);
    const groups = await Promise.all((plan?.groupIds ?? []).map((id) => tx.groups.get(id)));
    if (input.actor.kind === 'account' && groups.length === 0) throw notAllowed();
    for (const g of groups) if (g) await assertOwnerOf(tx, input.actor, g);
    if (o.status === 'refund_pending') throw conflict(`a refund for order ${o.id} is already in progress`);
    if (o.status === 'refunded') throw conflict(`order ${o.id} is already refunded`);
    if (o.status !== 'paid' && o.status !== 'review') throw conflict(`order ${o.id} is ${o.status}: only a paid order can be refunded`);
    if (!deps.providers.has(o.provider)) throw conflict(`the ${o.provider} provider is not enabled, so it cannot refund`);
    // Never reissued: a second request after a failed refund reuses the stored number.
    const outRefundNo = o.outRefundNo ?? newOutTradeNo();
    const moved = await tx.orders.transition(o.id, orderSourceStatuses('request_refund'), 'refund_pending', { outRefundNo, refundReason: reason }, now);
    if (!moved) throw conflict(`order ${o.id} changed while refunding; try again`);
    await tx.jobs.enqueue([refundJob(o.id, outRefundNo)], now);
    await tx.audit.insert({ at: now, actor: actorLabel(input.actor), action: 'order.refund_request', subjectType: 'order', subjectId: o.id, reason, detail: { outRefundNo } });
    return { ...o, status: 'refund_pending' as const, outRefundNo, refundReason: reason };
  });
  deps.onJobsEnqueued?.();
  return order;
}

/** The amount actually charged for the order (a review order may have been paid a different amount). */
export async function chargedAmount(tx: Repos, order: Order): Promise<{ amountMinor: number; currency: string }> {
  const charge = (await tx.payments.listForOrder(order.id)).find((p) => p.kind === 'charge');
  return charge ? { amountMinor: charge.amountMinor, currency: charge.currency } : { amountMinor: order.amountMinor, currency: order.currency };
}

/** The provider refused the refund: the order is paid again and the owner is told. */
export async function refundRefused(deps: AppDeps, order: Order, why: string): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (!(await tx.orders.transition(order.id, orderSourceStatuses('refund_failed'), 'paid', {}, now))) return;
    const plan = await tx.plans.get(order.planId);
    await tx.audit.insert({ at: now, actor: `provider:${order.provider}`, action: 'order.refund_refused', subjectType: 'order', subjectId: order.id, reason: why, detail: null });
    await tx.jobs.enqueue([alertOwnersJob({ groupIds: plan?.groupIds ?? [], message: { key: 'owner.refund_refused', params: { orderId: order.id, reason: why } } }, `alert:refund_refused:${order.id}:${now}`)], now);
  });
}

/**
 * Applies a confirmed refund inside the caller's transaction. Idempotent: the conditional update lets
 * only the first confirmation through (webhook, job answer and reconcile may all report it).
 */
export async function confirmRefund(tx: Repos, order: Order, r: { providerRefundId: string; amountMinor: number; currency: string; refundedAt: number }, actor: string, now: number): Promise<boolean> {
  // `paid` too: a refund made in the provider's dashboard arrives without a request from us.
  const moved = await tx.orders.transition(order.id, ['refund_pending', 'paid', 'review'], 'refunded', { refundedAt: r.refundedAt }, now);
  const refundRow = { orderId: order.id, provider: order.provider, providerTxnId: r.providerRefundId, kind: 'refund' as const, amountMinor: r.amountMinor, currency: r.currency, occurredAt: r.refundedAt };
  if (!moved) {
    // Already refunded: the first confirmation booked it (under whatever id that path knew), so nothing
    // more is booked. Not paid yet: the refund overtook its payment notification. Book it, so the
    // payment is held for review when it arrives instead of granting access, and tell the owner.
    const current = await tx.orders.get(order.id);
    if (current && (current.status === 'pending' || current.status === 'expired') && (await tx.payments.insertIfAbsent(refundRow, now))) {
      const plan = await tx.plans.get(order.planId);
      await tx.audit.insert({ at: now, actor, action: 'order.refund_before_payment', subjectType: 'order', subjectId: order.id, reason: `refund of ${formatMoney(r.amountMinor, r.currency)} reported before its payment`, detail: { providerRefundId: r.providerRefundId } });
      await tx.jobs.enqueue([alertOwnersJob({ groupIds: plan?.groupIds ?? [], message: { key: 'owner.order_review', params: { orderId: order.id, reason: 'a refund was reported before its payment' } } }, `alert:early-refund:${order.id}`)], now);
    }
    return false;
  }
  await tx.payments.insertIfAbsent(refundRow, now);
  const jobs = [];
  for (const period of await tx.periods.listForOrder(order.id)) {
    if (!(await tx.periods.revoke(period.id, now))) continue;
    const m = await tx.memberships.get(period.membershipId);
    if (!m) continue;
    const locked = (await tx.memberships.getForUpdate(m.accountId, m.groupId))!;
    const inGroup = locked.status === 'active' || locked.status === 'grace';
    const shortened = locked.expiresAt - (period.endsAt - period.startsAt);
    if (inGroup && shortened <= now) {
      const next = applyMembershipEvent(locked, { type: 'revoke' });
      await tx.memberships.update(locked.id, { status: next.status, expiresAt: shortened, graceUntil: null }, now);
      jobs.push(removeJob({ membershipId: locked.id, reason: 'revoked', expectStatus: 'revoked' }, `refund:${order.id}`));
    } else if (inGroup) {
      await tx.memberships.update(locked.id, { status: 'active', expiresAt: shortened, graceUntil: null }, now);
    }
    await tx.audit.insert({
      at: now,
      actor,
      action: 'membership.refund',
      subjectType: 'membership',
      subjectId: String(locked.id),
      reason: `order ${order.id} refunded: its ${period.days} days removed${inGroup ? (shortened <= now ? ', nothing left: access revoked' : `, now until ${toIso(shortened)}`) : ''}`,
      detail: { orderId: order.id, periodId: period.id },
    });
  }
  jobs.push(notifyJob({ accountId: order.accountId, message: { key: 'refund.done', params: { amount: formatMoney(r.amountMinor, r.currency) } } }, `refunded:${order.id}`));
  await tx.jobs.enqueue(jobs, now);
  await tx.audit.insert({ at: now, actor, action: 'order.refunded', subjectType: 'order', subjectId: order.id, reason: `refunded ${formatMoney(r.amountMinor, r.currency)}`, detail: { providerRefundId: r.providerRefundId } });
  return true;
}
