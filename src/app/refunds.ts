// Refunds. The rules (DESIGN.md "State machines"):
//   - A refund takes back only what it paid for: each period of the refunded order gives back its *unused*
//     part, max(0, endsAt − max(startsAt, now)). Days already passed were used (perhaps in an earlier cycle
//     that lapsed long ago), and days another order paid for are that order's: neither is ever subtracted.
//     Periods stacked after a refunded future period move earlier by what was removed, so a later refund of
//     one of them again subtracts exactly its own unused part.
//   - The ledger books every refund (payments, kind `refund`, one row per provider refund id). Access is
//     withdrawn (order → `refunded`, its periods revoked, the member removed when nothing paid is left)
//     only when the refunds booked for an order reach its charge. A partial refund is booked, audited
//     (`order.partial_refund`) and the owners are told; the order stays paid and nobody is removed.
//   - Refunds reported beyond the charge (or in another currency) put the order in `review` and tell the
//     owners; nobody is removed over it.
//   - Our own refund (`order refund`, the admin API, the owner's /refund) always returns the full remaining
//     charge. Its number is stored (order → refund_pending) before the provider is asked, and the provider
//     call runs in a job outside any transaction, retried with the same number until the provider answers.
import { stopRenewal, stopRenewalsIn } from './subscriptions.ts';
import { ACCESS_CODE_PROVIDER } from '../domain/coupon.ts';
import { conflict, notFound } from '../domain/errors.ts';
import { newOutTradeNo } from '../domain/ids.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { formatMoney } from '../domain/money.ts';
import { orderSourceStatuses } from '../domain/order.ts';
import { HOUR_MS, toIso } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf, notAllowed } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { alertOwnersJob, notifyJob, refundJob, removeJob } from './job-kinds.ts';
import type { Membership, MembershipPeriod, Order } from './model.ts';
import type { NewJob, Repos } from './ports.ts';
import { clawBackReferralRewards } from './referrals.ts';
import { countOf } from '../domain/text.ts';

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
    return startRefund(deps, tx, o, { actor: actorLabel(input.actor), reason }, now);
  });
  deps.onJobsEnqueued?.();
  return order;
}

/**
 * Inside the caller's transaction: checks the order can be refunded, stores its `out_refund_no` (never
 * reissued) and queues the provider call as a job, with an `order.refund_request` audit line. Shared by an
 * owner's refund, a member's refund on request (src/app/refund-window.ts) and the join review's rejection
 * (src/app/review.ts).
 */
export async function startRefund(
  deps: Pick<AppDeps, 'providers'>,
  tx: Repos,
  o: Order,
  how: { actor: string; reason: string; detail?: Record<string, unknown> },
  now: number,
): Promise<Order> {
  if (o.status === 'refund_pending') throw conflict(`a refund for order ${o.id} is already in progress`);
  if (o.status === 'refunded') throw conflict(`order ${o.id} is already refunded`);
  if (o.status !== 'paid' && o.status !== 'review') throw conflict(`order ${o.id} is ${o.status}: only a paid order can be refunded`);
  // An access code (a 100 % coupon, issue 16) took no money: there is nothing to give back.
  if (o.provider === ACCESS_CODE_PROVIDER) throw conflict(`order ${o.id} was an access code: no money was paid, so there is nothing to refund`);
  if (!deps.providers.has(o.provider)) throw conflict(`the ${o.provider} provider is not enabled, so it cannot refund`);
  const { remainingMinor } = await refundBalance(tx, o);
  if (remainingMinor <= 0) throw conflict(`order ${o.id} has nothing left to refund`);
  // Never reissued: a second request after a failed refund reuses the stored number.
  const outRefundNo = o.outRefundNo ?? newOutTradeNo();
  const moved = await tx.orders.transition(o.id, orderSourceStatuses('request_refund'), 'refund_pending', { outRefundNo, refundReason: how.reason }, now);
  if (!moved) throw conflict(`order ${o.id} changed while refunding; try again`);
  await tx.jobs.enqueue([refundJob(o.id, outRefundNo)], now);
  await tx.audit.insert({
    at: now,
    actor: how.actor,
    action: 'order.refund_request',
    subjectType: 'order',
    subjectId: o.id,
    reason: how.reason,
    detail: { outRefundNo, ...how.detail },
  });
  return { ...o, status: 'refund_pending' as const, outRefundNo, refundReason: how.reason };
}

/** What was charged for the order, what the ledger shows refunded so far, and what is left to refund. */
export async function refundBalance(
  tx: Repos,
  order: Order,
): Promise<{ amountMinor: number; currency: string; refundedMinor: number; remainingMinor: number }> {
  const ledger = await tx.payments.listForOrder(order.id);
  const charge = ledger.find((p) => p.kind === 'charge');
  const { amountMinor, currency } = charge ?? order;
  const refundedMinor = ledger.filter((p) => p.kind === 'refund').reduce((sum, p) => sum + p.amountMinor, 0);
  return { amountMinor, currency, refundedMinor, remainingMinor: amountMinor - refundedMinor };
}

/**
 * Our refund of everything left, confirmed (the provider's answer to it, or a query saying `refunded`):
 * booked as the part of the charge the ledger does not show yet, then the rules of confirmRefund apply.
 */
export async function confirmFullRefund(deps: AppDeps, order: Order, providerRefundId: string): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    const b = await refundBalance(tx, order);
    await confirmRefund(
      tx,
      order,
      { providerRefundId, amountMinor: b.remainingMinor, cumulativeMinor: b.amountMinor, currency: b.currency, refundedAt: now },
      `provider:${order.provider}`,
      now,
    );
  });
  deps.onJobsEnqueued?.();
}

/** The provider refused the refund: the order is paid again and the owner is told. */
export async function refundRefused(deps: AppDeps, order: Order, why: string): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (!(await tx.orders.transition(order.id, orderSourceStatuses('refund_failed'), 'paid', {}, now))) return;
    const plan = await tx.plans.get(order.planId);
    await tx.audit.insert({
      at: now,
      actor: `provider:${order.provider}`,
      action: 'order.refund_refused',
      subjectType: 'order',
      subjectId: order.id,
      reason: why,
      detail: null,
    });
    await tx.jobs.enqueue(
      [
        alertOwnersJob(
          { groupIds: plan?.groupIds ?? [], message: { key: 'owner.refund_refused', params: { orderId: order.id, reason: why } } },
          `alert:refund_refused:${order.id}:${now}`,
        ),
      ],
      now,
    );
  });
}

export interface ConfirmedRefund {
  providerRefundId: string;
  /** This refund's amount. */
  amountMinor: number;
  /** The provider's running total of refunds on the charge, when that is what it reports (see ProviderEvent). */
  cumulativeMinor?: number;
  currency: string;
  refundedAt: number;
}

/**
 * `duplicate`: already booked (or nothing new); `before_payment`: booked against an unpaid order;
 * `partial`: booked, access kept; `full`: the refunds reached the charge, access withdrawn;
 * `overrun`: beyond the charge, held for review; `already_refunded`: the order was refunded in full before.
 */
export type RefundOutcome = 'duplicate' | 'before_payment' | 'partial' | 'full' | 'overrun' | 'already_refunded';

/**
 * Books a confirmed refund inside the caller's transaction and applies the rules in the header.
 * Idempotent: the ledger key books each refund once, and the conditional update lets only the first
 * confirmation that reaches the charge withdraw access (webhook, job answer and reconcile may all report it).
 */
export async function confirmRefund(tx: Repos, order: Order, r: ConfirmedRefund, actor: string, now: number): Promise<RefundOutcome> {
  // Locked: two partial refunds reported at once must see each other's ledger row, or together they could
  // reach the charge while each alone looks partial.
  const current = (await tx.orders.getForUpdate(order.id)) ?? order;
  // Refunded in full already: a later report is the same money under another id (our refund call and the
  // provider's notification may name one refund differently), so nothing more is booked.
  if (current.status === 'refunded') return 'already_refunded';
  const balance = await refundBalance(tx, current);
  const amountMinor = r.cumulativeMinor !== undefined ? Math.max(0, r.cumulativeMinor - balance.refundedMinor) : r.amountMinor;
  if (amountMinor > 0) {
    const booked = await tx.payments.insertIfAbsent(
      {
        orderId: order.id,
        provider: order.provider,
        providerTxnId: r.providerRefundId,
        kind: 'refund',
        amountMinor,
        currency: r.currency,
        occurredAt: r.refundedAt,
      },
      now,
    );
    if (!booked) return 'duplicate';
  }
  const refundedMinor = balance.refundedMinor + amountMinor;
  const plan = await tx.plans.get(order.planId);
  const groupIds = plan?.groupIds ?? [];
  const money = (minor: number) => formatMoney(minor, balance.currency);

  if (current.status === 'pending' || current.status === 'expired') {
    // The refund overtook its payment notification. Booked, so the payment is held for review when it
    // arrives instead of granting access; the owner is told.
    if (amountMinor === 0) return 'duplicate';
    await tx.audit.insert({
      at: now,
      actor,
      action: 'order.refund_before_payment',
      subjectType: 'order',
      subjectId: order.id,
      reason: `refund of ${formatMoney(amountMinor, r.currency)} reported before its payment`,
      detail: { providerRefundId: r.providerRefundId },
    });
    await tx.jobs.enqueue(
      [
        alertOwnersJob(
          { groupIds, message: { key: 'owner.order_review', params: { orderId: order.id, reason: 'a refund was reported before its payment' } } },
          `alert:early-refund:${order.id}`,
        ),
      ],
      now,
    );
    return 'before_payment';
  }

  if (r.currency !== balance.currency || refundedMinor > balance.amountMinor) {
    const reason =
      r.currency !== balance.currency
        ? `refund reported in ${r.currency} for a charge in ${balance.currency}`
        : `refunds reported (${money(refundedMinor)}) exceed the charge (${money(balance.amountMinor)})`;
    await tx.orders.transition(order.id, orderSourceStatuses('refund_overrun'), 'review', { reviewReason: reason }, now);
    await tx.audit.insert({
      at: now,
      actor,
      action: 'order.refund_overrun',
      subjectType: 'order',
      subjectId: order.id,
      reason,
      detail: { providerRefundId: r.providerRefundId, amountMinor, refundedMinor },
    });
    await tx.jobs.enqueue(
      [
        alertOwnersJob(
          { groupIds, message: { key: 'owner.order_review', params: { orderId: order.id, reason } } },
          `alert:refund-overrun:${order.id}:${r.providerRefundId}`,
        ),
      ],
      now,
    );
    return 'overrun';
  }

  if (refundedMinor < balance.amountMinor) {
    if (amountMinor === 0) return 'duplicate';
    const params = { orderId: order.id, amount: formatMoney(amountMinor, r.currency), refunded: money(refundedMinor), charged: money(balance.amountMinor) };
    await tx.audit.insert({
      at: now,
      actor,
      action: 'order.partial_refund',
      subjectType: 'order',
      subjectId: order.id,
      reason: `partial refund of ${params.amount} (${params.refunded} of ${params.charged} refunded): access kept`,
      detail: { providerRefundId: r.providerRefundId, amountMinor, refundedMinor },
    });
    await tx.jobs.enqueue(
      [alertOwnersJob({ groupIds, message: { key: 'owner.partial_refund', params } }, `alert:partial-refund:${order.id}:${r.providerRefundId}`)],
      now,
    );
    return 'partial';
  }

  // The refunds reached the charge. `paid` and `review` too: a refund made in the provider's dashboard
  // arrives without a request from us.
  if (!(await tx.orders.transition(order.id, ['refund_pending', 'paid', 'review'], 'refunded', { refundedAt: r.refundedAt }, now))) return 'already_refunded';
  const jobs = [];
  const revokedIn: number[] = [];
  for (const period of await tx.periods.listForOrder(order.id)) {
    const w = await withdrawPeriod(tx, period, now, `refund:${order.id}`);
    if (!w) continue;
    const { locked, unused, inGroup, expiresAt, nothingLeft } = w;
    if (w.job) jobs.push(w.job);
    if (nothingLeft) revokedIn.push(locked.groupId);
    const usedUp = unused === 0 ? ': already used, nothing to take back' : '';
    await tx.audit.insert({
      at: now,
      actor,
      action: 'membership.refund',
      subjectType: 'membership',
      subjectId: String(locked.id),
      reason: `order ${order.id} refunded: ${countOf(Math.round(unused / HOUR_MS), 'unused hour', 'unused hours')} of its ${countOf(period.days, 'day', 'days')} removed${usedUp}${nothingLeft ? ', nothing left: access revoked' : inGroup ? `, now until ${toIso(expiresAt)}` : ''}`,
      detail: { orderId: order.id, periodId: period.id, removedMs: unused },
    });
  }
  // A refunded subscription order, or a refund that leaves nothing paid in a group a subscription renews: renewal
  // stops here and at the rail, or next month's charge would re-grant (and re-invite) what was just taken back.
  const first = await tx.subscriptions.findByFirstOrder(order.id);
  if (first) await stopRenewal(tx, first, actor, `its first order ${order.id} was refunded in full`, `refund:${order.id}`, now);
  for (const groupId of revokedIn)
    await stopRenewalsIn(tx, order.accountId, groupId, actor, `order ${order.id} was refunded in full`, `refund:${order.id}`, now);
  jobs.push(notifyJob({ accountId: order.accountId, message: { key: 'refund.done', params: { amount: money(refundedMinor) } } }, `refunded:${order.id}`));
  // A referral reward booked for this order (its buyer was referred) is clawed back, as far as still unused.
  jobs.push(...(await clawBackReferralRewards(tx, order.id, actor, now)));
  await tx.jobs.enqueue(jobs, now);
  await tx.audit.insert({
    at: now,
    actor,
    action: 'order.refunded',
    subjectType: 'order',
    subjectId: order.id,
    reason: `refunded ${money(refundedMinor)}`,
    detail: { providerRefundId: r.providerRefundId },
  });
  return 'full';
}

/** What withdrawing one period did to its membership (see withdrawPeriod). */
export interface Withdrawal {
  /** The membership as it was, locked, before the withdrawal. */
  locked: Membership;
  /** Milliseconds of the period not used yet, now taken away. */
  unused: number;
  inGroup: boolean;
  /** The membership's expiry after the withdrawal. */
  expiresAt: number;
  /** Nothing left: the membership was revoked and its removal queued (`job`). */
  nothingLeft: boolean;
  job: NewJob | null;
}

/**
 * Revokes one period and takes back its *unused* part, max(0, endsAt − max(startsAt, now)), from the
 * membership (the refund rule in the header; a referral reward's clawback uses it too): later periods move
 * earlier by as much, and a member left with nothing is revoked, with a removal job keyed by `removalKey`.
 * Null when the period was revoked already (nothing done) or its membership is gone.
 */
export async function withdrawPeriod(tx: Repos, period: MembershipPeriod, now: number, removalKey: string): Promise<Withdrawal | null> {
  if (!(await tx.periods.revoke(period.id, now))) return null;
  const m = await tx.memberships.get(period.membershipId);
  if (!m) return null;
  const locked = (await tx.memberships.getForUpdate(m.accountId, m.groupId))!;
  const unused = Math.max(0, period.endsAt - Math.max(period.startsAt, now));
  if (unused > 0) {
    for (const later of await tx.periods.listForMembership(locked.id)) {
      if (later.id === period.id || later.revokedAt !== null || later.startsAt < period.endsAt) continue;
      await tx.periods.reschedule(later.id, later.startsAt - unused, later.endsAt - unused);
    }
  }
  const inGroup = locked.status === 'active' || locked.status === 'grace';
  const expiresAt = locked.expiresAt - unused;
  // Nothing paid left: the withdrawn period was the last one (its unused part gone, or a grace that
  // followed it). A member whose time another order pays for keeps it.
  const nothingLeft = inGroup && expiresAt <= now && (unused > 0 || period.endsAt >= locked.expiresAt);
  let job: NewJob | null = null;
  if (nothingLeft) {
    const next = applyMembershipEvent(locked, { type: 'revoke' });
    await tx.memberships.update(locked.id, { status: next.status, expiresAt, graceUntil: null }, now);
    job = removeJob({ membershipId: locked.id, reason: 'revoked', expectStatus: 'revoked' }, removalKey);
  } else if (unused > 0) {
    await tx.memberships.update(locked.id, { status: locked.status, expiresAt, graceUntil: locked.graceUntil }, now);
  }
  return { locked, unused, inGroup, expiresAt, nothingLeft, job };
}
