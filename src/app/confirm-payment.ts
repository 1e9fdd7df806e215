// Turn a verified provider event into state. Exactly once rests on three guards together, because one
// payment reaches us under several event ids (webhook, reconcile query, Alipay's SUCCESS then FINISHED):
//   1. the conditional `UPDATE orders … WHERE status IN ('pending','expired')`,
//   2. the unique ledger key (provider, provider_txn_id, kind),
//   3. the unique membership_periods (order_id, group_id).
// Unknown orders and mismatches are recorded and answered "received" (a retry cannot fix them); the
// owner is alerted.
//
// The common case (a pending order of this provider, paid in full, no refund, no ban) takes a fast path of
// eight statements (issue 14 part 4): guard 1 as one conditional update that also returns the order, guard 2,
// the plan with its groups in one read, per group a membership insert (first membership) and guard 3, one
// audit row, one job insert, and the event row last. Anything else — the update matches nothing (unknown order,
// paid already, mismatch, refund booked first) — goes the careful way in the same transaction, with nothing
// written yet; a banned buyer, found only once the fast path is under way, rolls it back and goes the careful way.
// An order paid on a phone rail (issue 21) has attempts; the fast path's update leaves those orders alone (one
// NOT EXISTS in the same statement), so they go the careful way, which maps any attempt's trade number back to
// its order, closes the other attempts and refunds a second payment.
import { formatMoney } from '../domain/money.ts';
import { orderSourceStatuses } from '../domain/order.ts';
import type { AppDeps } from './deps.ts';
import { BannedBuyerError, gatewayConfirmsWithInvite, grantOrder, isBannedFromPlan } from './grant.ts';
import { bookRedemption } from './coupons.ts';
import { confirmRefund } from './refunds.ts';
import { holdForReview } from './review.ts';
import { confirmRenewal, payerMismatch, recordFirstCharge, subscriptionEventReported, syncFirstPeriod } from './subscriptions.ts';
import { alertOwnersJob } from './job-kinds.ts';
import type { Order } from './model.ts';
import { recordHeldForReview } from './order-records.ts';
import type { PaymentProvider, ProviderEvent, Repos } from './ports.ts';
import { noteAttemptRefund, notePaidAttempt, noteSecondPayment, orderForTrade } from './phone-pay.ts';

export type EventOutcome =
  | 'granted'
  | 'duplicate'
  | 'already_paid'
  | 'unknown_order'
  | 'review'
  | 'failed_noted'
  | 'ignored'
  | 'refund_noted'
  /** A rail's report of a subscription's state (Stripe's customer.subscription.*, invoice.payment_failed). */
  | 'subscription_noted'
  /** Issue 21: another attempt of an order paid already was paid too; refunded automatically. */
  | 'second_payment';

type PaidEvent = Extract<ProviderEvent, { type: 'paid' }>;

/** Thrown by the fast path once it finds a case the careful path handles (a charge by someone else): rolls it back. */
class CarefulPath extends Error {}

class Rollback extends Error {
  constructor(readonly outcome: EventOutcome) {
    super(outcome);
  }
}

export async function handleProviderEvent(deps: AppDeps, provider: PaymentProvider, event: ProviderEvent, rawPayload: string): Promise<EventOutcome> {
  const now = deps.clock.now();
  const record = (tx: Repos, eventId: string, orderId: string | null, outcome: string) =>
    tx.webhookEvents.insertIfAbsent({ provider: provider.name, eventId, orderId, outcome, payload: rawPayload }, now);

  let outcome: EventOutcome;
  const handle = (fast: boolean) =>
    deps.store.transaction(async (tx): Promise<EventOutcome> => {
      switch (event.type) {
        case 'ignored':
          if (event.eventId && !(await record(tx, event.eventId, null, 'ignored'))) return 'duplicate';
          return 'ignored';
        case 'failed': {
          // Not a transition: the order stays pending until it times out (the person may retry).
          const { order } = await orderForTrade(tx, event.outTradeNo);
          if (!(await record(tx, event.eventId, order?.id ?? null, 'failed_noted'))) return 'duplicate';
          return 'failed_noted';
        }
        case 'refunded': {
          // An order of another provider is not this provider's to refund: recorded, nothing changes.
          const { order: named, attempt } = await orderForTrade(tx, event.outTradeNo);
          const found = event.chargeTxnId !== undefined ? await orderOfCharge(tx, provider, named, event.chargeTxnId) : named;
          const order = found && found.provider === provider.name ? found : null;
          if (!(await record(tx, event.eventId, order?.id ?? null, order ? 'refund_noted' : 'unknown_order'))) return 'duplicate';
          if (!order) return 'unknown_order';
          // The refund of a second payment (issue 21) is that attempt's, never the order's.
          if (await noteAttemptRefund(tx, await attempt(), event.providerRefundId, now)) return 'refund_noted';
          // Partial refunds are booked and keep access; only refunds reaching the charge withdraw it; more
          // than the charge holds the order for review (see refunds.ts).
          if ((await confirmRefund(tx, order, event, `provider:${provider.name}`, now)) !== 'overrun') return 'refund_noted';
          await tx.webhookEvents.setOutcome(provider.name, event.eventId, 'review', order.id);
          return 'review';
        }
        case 'subscription': {
          // A rail's report about a subscription it renews: recorded once, then the state is mirrored.
          if (!(await record(tx, event.eventId, null, 'subscription_noted'))) return 'duplicate';
          const noted = await subscriptionEventReported(tx, provider, event, now);
          if (noted !== 'noted') await tx.webhookEvents.setOutcome(provider.name, event.eventId, `subscription_${noted}`, null);
          return noted === 'noted' ? 'subscription_noted' : 'ignored';
        }
        case 'paid':
          // A subscription's renewal charge has no order of its own yet (src/app/subscriptions.ts).
          if (event.subscription && !event.subscription.first) return confirmRenewalEvent(deps, tx, provider, event, record, now);
          return (fast && (await confirmPaidFast(deps, tx, provider, event, record, now))) || confirmPaid(deps, tx, provider, event, record, now);
      }
    });
  try {
    try {
      outcome = await handle(true);
    } catch (e) {
      if (!(e instanceof BannedBuyerError || e instanceof CarefulPath)) throw e;
      outcome = await handle(false);
    }
  } catch (e) {
    if (e instanceof Rollback) outcome = e.outcome;
    else throw e;
  }
  if (
    outcome === 'granted' ||
    outcome === 'review' ||
    outcome === 'unknown_order' ||
    outcome === 'refund_noted' ||
    outcome === 'second_payment' ||
    outcome === 'subscription_noted'
  )
    deps.onJobsEnqueued?.();
  deps.logger.info({ provider: provider.name, event: event.type, outcome }, 'payment event handled');
  return outcome;
}

/**
 * The order a refund of one charge is about, when the rail names the charge (`chargeTxnId`) rather than the order: the
 * order whose charge the ledger keys so — a subscription's first order or one of its renewals — if it belongs to the
 * same account and plan as the order the event names (the subscription's first); else none.
 * A charge of our subscription not booked yet (its refund overtook the renewal's own notification, which creates the
 * renewal's order, or the first payment's, which books the first order) throws, so the rail delivers the refund again
 * later instead of it being lost.
 */
async function orderOfCharge(tx: Repos, provider: PaymentProvider, named: Order | null, chargeTxnId: string): Promise<Order | null> {
  if (!named) return null;
  if (named.providerTxnId === chargeTxnId) return named;
  const id = await tx.payments.orderOfCharge(provider.name, chargeTxnId);
  // Not booked, and either a charge of a subscription we have, or the first order itself is still unpaid (its
  // charge's refund overtook checkout.session.completed / the first invoice.paid, which record the subscription).
  if (!id && named.provider === provider.name && (orderSourceStatuses('pay').includes(named.status) || (await tx.subscriptions.findByFirstOrder(named.id))))
    throw new Error(`refund of charge ${chargeTxnId}, which is not booked yet: to be delivered again after its payment`);
  const order = id ? await tx.orders.get(id) : null;
  return order && order.accountId === named.accountId && order.planId === named.planId ? order : null;
}

/** The ledger row of a charge, keyed by the provider's transaction id: false when that id is booked already. */
function bookCharge(tx: Repos, orderId: string, provider: PaymentProvider, event: PaidEvent, now: number): Promise<boolean> {
  const { providerTxnId, amountMinor, currency, paidAt } = event;
  return tx.payments.insertIfAbsent({ orderId, provider: provider.name, providerTxnId, kind: 'charge', amountMinor, currency, occurredAt: paidAt }, now);
}

/**
 * The fast path (see the top of this file): 'granted', or null when the conditional update matched nothing
 * and nothing was written. Throws Rollback('duplicate') for a transaction id or event id booked already, and
 * BannedBuyerError (rolled back by the caller, then the careful path) for a banned buyer.
 */
async function confirmPaidFast(...[deps, tx, provider, event, record, now]: Parameters<typeof confirmPaid>): Promise<EventOutcome | null> {
  if (merchantMismatch(event, provider.merchantId)) return null;
  // Guard 1, with the mismatch and refund-first checks as its conditions.
  const order = await tx.orders.payIfExpected(
    { outTradeNo: event.outTradeNo, provider: provider.name, from: orderSourceStatuses('pay'), amountMinor: event.amountMinor, currency: event.currency },
    { paidAt: event.paidAt, providerTxnId: event.providerTxnId },
    now,
  );
  if (!order) return null;
  if (await payerMismatch(tx, order.accountId, event)) throw new CarefulPath();
  // Guard 2.
  if (!(await bookCharge(tx, order.id, provider, event, now))) throw new Rollback('duplicate');
  // A coupon's use is booked when its order is paid (issue 16), in this transaction.
  await bookRedemption(tx, order, `provider:${provider.name}`, now, { strict: false });
  const bought = await tx.plans.getWithGroups(order.planId);
  if (!bought) throw new Error(`order ${order.id} names a plan that does not exist`);
  // A review group (issue 17) the person is not in: the order waits for review instead of a grant. Auto groups
  // only (the common case) add no statement here.
  if (
    bought.groups.some((g) => g.joinMode === 'review') &&
    (await holdForReview(deps, tx, order, bought.plan, bought.groups, `provider:${provider.name}`, now, { refuseBanned: true }))
  ) {
    if (!(await record(tx, event.eventId, order.id, 'granted'))) throw new Rollback('duplicate');
    return 'granted';
  }
  // Guard 3 in grantOrder; the period starts at the provider's success time.
  await grantOrder(tx, order, bought.plan, Math.min(event.paidAt, now), `provider:${provider.name}`, now, gatewayConfirmsWithInvite(deps), {
    groups: bought.groups,
    refuseBanned: true,
    ...firstPeriodEnd(event),
  });
  await recordFirstCharge(tx, order, provider, event, now);
  // The event row comes last, with its outcome: an event id seen before undoes all of the above.
  if (!(await record(tx, event.eventId, order.id, 'granted'))) throw new Rollback('duplicate');
  return 'granted';
}

async function confirmPaid(
  deps: AppDeps,
  tx: Repos,
  provider: PaymentProvider,
  event: PaidEvent,
  record: (tx: Repos, eventId: string, orderId: string | null, outcome: string) => Promise<boolean>,
  now: number,
): Promise<EventOutcome> {
  // The order's own trade number, else one of its attempts' (issue 21).
  const { order: found, attempt } = await orderForTrade(tx, event.outTradeNo);
  const order = found && found.provider === provider.name ? found : null;
  if (!(await record(tx, event.eventId, order?.id ?? null, order ? 'processing' : 'unknown_order'))) return 'duplicate';

  if (!order) return unknownOrder(tx, provider, event, now);

  // A subscription's first charge reported again (Stripe: the session, then its first invoice): nothing is booked;
  // the period runs to the end the second report may now give.
  if (order.status === 'paid' && event.subscription?.first && order.providerTxnId === event.providerTxnId) {
    await syncFirstPeriod(tx, order, provider, event, now);
    await tx.webhookEvents.setOutcome(provider.name, event.eventId, 'already_paid', order.id);
    return 'already_paid';
  }

  // Paid already by another attempt of the same order (issue 21 part 5): this money goes back, whatever else
  // holds for the order (a refund booked since, a review), and nothing of it touches the order's own ledger.
  if (!orderSourceStatuses('pay').includes(order.status)) {
    const second = await noteSecondPayment(tx, provider, order, await attempt(), event, now);
    if (second) {
      await tx.webhookEvents.setOutcome(provider.name, event.eventId, second, order.id);
      return second;
    }
  }

  const plan = await tx.plans.get(order.planId);
  if (!plan) throw new Error(`order ${order.id} names a plan that does not exist`);
  const mismatch = describeMismatch(order, event, provider.merchantId) ?? (await payerMismatch(tx, order.accountId, event));
  const refundedFirst = !mismatch && (await tx.payments.listForOrder(order.id)).some((p) => p.kind === 'refund');
  const banned = !mismatch && !refundedFirst && (await isBannedFromPlan(tx, order.accountId, plan));
  const holdReason = mismatch ?? (refundedFirst ? 'the provider reported a refund before this payment' : banned ? 'paid by a banned member' : null);

  if (holdReason) {
    const held = await tx.orders.transition(
      order.id,
      orderSourceStatuses('hold_for_review'),
      'review',
      { paidAt: event.paidAt, providerTxnId: event.providerTxnId, reviewReason: holdReason },
      now,
    );
    // The money was taken either way: the ledger row is what a refund is made against.
    await bookCharge(tx, order.id, provider, event, now);
    await tx.webhookEvents.setOutcome(provider.name, event.eventId, held ? 'review' : 'already_paid', order.id);
    if (!held) return 'already_paid';
    // The coupon's use is booked now, as for any honoured paid order (non-strict): the money was taken at the
    // discounted price, and an approval (owners.ts) only moves the order on. Left unbooked, a --max-uses 1 code
    // would stay usable by the next buyer. Once: only the call that moved the order to review gets here.
    await bookRedemption(tx, order, `provider:${provider.name}`, now, { strict: false });
    await recordHeldForReview(tx, {
      order,
      plan,
      provider: provider.name,
      reason: holdReason,
      detail: { amountMinor: event.amountMinor, currency: event.currency, merchantId: event.merchantId },
      now,
    });
    return 'review';
  }

  // Guard 1: only a pending or expired order can become paid.
  const moved = await tx.orders.transition(order.id, orderSourceStatuses('pay'), 'paid', { paidAt: event.paidAt, providerTxnId: event.providerTxnId }, now);
  if (!moved) {
    // Moved by a concurrent confirmation between our read and this update: a second payment if it is one.
    // Read again: the copy above predates it (on PostgreSQL the update waited for that other transaction).
    const current = (await tx.orders.get(order.id)) ?? order;
    const second = await noteSecondPayment(tx, provider, current, await attempt(), event, now);
    await tx.webhookEvents.setOutcome(provider.name, event.eventId, second ?? 'already_paid', order.id);
    return second ?? 'already_paid';
  }
  const paidBy = await attempt();
  if (paidBy) await notePaidAttempt(tx, paidBy, event, now);
  // Guard 2: the ledger key. A transaction id we already booked means this is a replay under a new event id.
  const booked = await bookCharge(tx, order.id, provider, event, now);
  if (!booked) throw new Rollback('duplicate');
  await bookRedemption(tx, order, `provider:${provider.name}`, now, { strict: false });
  // A review group the person is not in (issue 17): the order waits for review (guard 3 then holds at approval).
  const groups = await Promise.all(plan.groupIds.map((id) => tx.groups.get(id)));
  const known = groups.filter((g): g is NonNullable<typeof g> => g !== null);
  if (known.some((g) => g.joinMode === 'review') && (await holdForReview(deps, tx, order, plan, known, `provider:${provider.name}`, now))) {
    await tx.webhookEvents.setOutcome(provider.name, event.eventId, 'granted', order.id);
    return 'granted';
  }
  // Guard 3 lives in grantOrder (one period per order and group). The period starts at the provider's
  // success time, not when we happened to learn of it.
  await grantOrder(tx, order, plan, Math.min(event.paidAt, now), `provider:${provider.name}`, now, gatewayConfirmsWithInvite(deps), {
    groups: known,
    ...firstPeriodEnd(event),
  });
  await recordFirstCharge(tx, order, provider, event, now);
  await tx.webhookEvents.setOutcome(provider.name, event.eventId, 'granted', order.id);
  return 'granted';
}

/** A subscription's first charge runs at least to the end of the period the rail says it paid for. */
const firstPeriodEnd = (event: PaidEvent): { atLeast?: number } =>
  event.subscription?.first && event.subscription.expiresAt ? { atLeast: event.subscription.expiresAt } : {};

/** A subscription's renewal charge: its event row first, then src/app/subscriptions.ts under the same guards. */
async function confirmRenewalEvent(
  deps: AppDeps,
  tx: Repos,
  provider: PaymentProvider,
  event: PaidEvent,
  record: (tx: Repos, eventId: string, orderId: string | null, outcome: string) => Promise<boolean>,
  now: number,
): Promise<EventOutcome> {
  const found = await tx.orders.findByOutTradeNo(event.outTradeNo);
  const first = found && found.provider === provider.name ? found : null;
  if (!(await record(tx, event.eventId, first?.id ?? null, first ? 'processing' : 'unknown_order'))) return 'duplicate';
  if (!first) return unknownOrder(tx, provider, event, now);
  const outcome = await confirmRenewal(deps, tx, provider, event, first, now);
  // Guard 2 said this charge is booked already: undo the renewal order and the event row.
  if (outcome === 'duplicate') throw new Rollback('duplicate');
  await tx.webhookEvents.setOutcome(provider.name, event.eventId, outcome, first.id);
  return outcome;
}

/** A paid notification naming no order of this provider: recorded and answered, the owners told. */
async function unknownOrder(tx: Repos, provider: PaymentProvider, event: PaidEvent, now: number): Promise<EventOutcome> {
  await tx.audit.insert({
    at: now,
    actor: `provider:${provider.name}`,
    action: 'payment.unknown_order',
    subjectType: 'provider_event',
    subjectId: event.eventId,
    reason: `paid notification for unknown order ${event.outTradeNo}`,
    detail: { outTradeNo: event.outTradeNo, amountMinor: event.amountMinor, currency: event.currency },
  });
  await tx.jobs.enqueue(
    [
      alertOwnersJob(
        {
          groupIds: [],
          message: {
            key: 'owner.unknown_order',
            params: { provider: provider.name, outTradeNo: event.outTradeNo, amount: formatMoney(event.amountMinor, event.currency) },
          },
        },
        `alert:unknown:${provider.name}:${event.outTradeNo}`,
      ),
    ],
    now,
  );
  return 'unknown_order';
}

function describeMismatch(order: Order, event: PaidEvent, merchantId: string | null): string | null {
  if (event.currency !== order.currency) return `currency mismatch: paid ${event.currency}, order is ${order.currency}`;
  if (event.amountMinor !== order.amountMinor)
    return `amount mismatch: paid ${formatMoney(event.amountMinor, event.currency)}, order is ${formatMoney(order.amountMinor, order.currency)}`;
  return merchantMismatch(event, merchantId);
}

function merchantMismatch(event: PaidEvent, merchantId: string | null): string | null {
  if (merchantId && event.merchantId && event.merchantId !== merchantId) return `merchant mismatch: paid to ${event.merchantId}`;
  return null;
}
