// Auto-renewal (issue 18 parts 2 and 4). A subscription is the renewal side of a membership: the rail that
// renews it (`stars`, later `stripe`), the rail's id for it, the plan (so every group the plan opens), the
// price each renewal must charge, the next charge, its state (active | canceled | failed) and the failed
// renewals counted. The rules:
//   - The first payment grants like any other payment and records the subscription (recordFirstCharge).
//   - Each renewal is a charge of its own, through the same exactly-once path (confirm-payment.ts): it has
//     no pending order, so its order row is created inside the confirming transaction (amount and currency
//     from the charge; a charge that is not the subscription's price, or paid by someone else, is held for
//     review like any mismatch). Guard 2 (the ledger key, the charge's own id) and guard 3 (one period per
//     order and group) keep a replayed or twice-delivered renewal from booking anything new. The membership
//     runs to the rail's expiry (Telegram's subscription_expiration_date is authoritative), never shorter.
//   - A renewal charged for a subscription the member canceled here is still money taken: it is honoured
//     (the period is granted) and the member's cancellation stands — the subscription stays canceled and the
//     cancellation is sent to the rail again, so the charge that slipped through is the last one.
//   - /cancel ends renewal at the rail (a job, never a network call in a transaction); access runs to the end
//     of the paid period. /resume turns it back on before that end.
//   - Nothing here removes anyone: with no renewal by the expiry, the normal lapse sweep puts the member in
//     grace and removes them after it, as for any membership.
//   - For an auto-renewing member the reminders before expiry are replaced by one notice 3 days before the
//     charge ("renews on …; /cancel to stop"), see sweepRenewalNotices and memberships.remindersDue.
import { conflict, invalid, ProviderRejectedError } from '../domain/errors.ts';
import { formatMoney } from '../domain/money.ts';
import { orderSourceStatuses } from '../domain/order.ts';
import { DAY_MS, toIso } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { gatewayConfirmsWithInvite, grantOrder, isBannedFromPlan } from './grant.ts';
import { notifyJob, subscriptionEditJob } from './job-kinds.ts';
import type { Account, Order, Plan, Subscription, SubscriptionState } from './model.ts';
import { newOrder, recordHeldForReview } from './order-records.ts';
import type { PaymentProvider, ProviderEvent, Repos } from './ports.ts';

type PaidEvent = Extract<ProviderEvent, { type: 'paid' }>;

/** How long before the charge an auto-renewing member is told it is coming. */
export const RENEWAL_NOTICE_MS = 3 * DAY_MS;

/**
 * How late an auto-renewal may be before the member hears the usual "your membership has ended, renew now" at
 * expiry. The rails charge at or a little after the period's end (Stripe finalizes the renewal invoice and
 * attempts payment about an hour after the period ends — docs.stripe.com/billing/subscriptions/overview;
 * Telegram charges Stars at subscription_expiration_date), and a "renew now" sent meanwhile invites a second,
 * manual payment next to the one the rail is taking. A failed Stripe charge is told at once through
 * invoice.payment_failed. It is also the least grace such a member gets (expire.ts), so a group without grace
 * does not remove a subscriber an hour before the renewal lands.
 */
export const RENEWAL_SETTLE_MS = 6 * 60 * 60_000;

/** The first charge of a subscription (the payment granted already, in the same transaction): records it once. */
export async function recordFirstCharge(tx: Repos, order: Order, provider: PaymentProvider, event: PaidEvent, now: number): Promise<void> {
  const sub = event.subscription;
  if (!sub?.first) return;
  const plan = await tx.plans.get(order.planId);
  const created = await tx.subscriptions.insertIfAbsent(
    {
      provider: provider.name,
      subscriptionId: sub.id ?? event.providerTxnId,
      accountId: order.accountId,
      planId: order.planId,
      firstOrderId: order.id,
      amountMinor: event.amountMinor,
      currency: event.currency,
      nextChargeAt: sub.expiresAt ?? event.paidAt + (plan?.durationDays ?? 30) * DAY_MS,
    },
    now,
  );
  if (!created) return;
  await tx.audit.insert({
    at: now,
    actor: `provider:${provider.name}`,
    action: 'subscription.start',
    subjectType: 'subscription',
    subjectId: String(created.id),
    reason: `order ${order.id} started an auto-renewing subscription; next charge ${toIso(created.nextChargeAt)}`,
    detail: { orderId: order.id, subscriptionId: created.subscriptionId },
  });
}

/**
 * The first charge reported again, now with the end of the period it paid for (Stripe: checkout.session.completed
 * granted with the plan's days, then the first invoice.paid says the calendar month ends a day later). The first
 * order's periods, while each is still its membership's last, run to that end; the subscription's next charge too.
 * Never shorter; a period another order extended since, or a revoked one, is left alone.
 */
export async function syncFirstPeriod(tx: Repos, order: Order, provider: PaymentProvider, event: PaidEvent, now: number): Promise<void> {
  const until = event.subscription?.first ? event.subscription.expiresAt : null;
  if (!until || order.providerTxnId !== event.providerTxnId) return;
  for (const p of await tx.periods.listForOrder(order.id)) {
    if (p.revokedAt !== null || p.endsAt >= until) continue;
    const m = await tx.memberships.getForUpdate(order.accountId, p.groupId);
    if (!m || m.id !== p.membershipId || m.expiresAt !== p.endsAt || (m.status !== 'active' && m.status !== 'grace')) continue;
    await tx.periods.reschedule(p.id, p.startsAt, until);
    await tx.memberships.update(m.id, { status: 'active', expiresAt: until, graceUntil: null }, now);
    await tx.audit.insert({
      at: now,
      actor: `provider:${provider.name}`,
      action: 'membership.extend',
      subjectType: 'membership',
      subjectId: String(m.id),
      reason: `order ${order.id}: the rail's first period ends ${toIso(until)}, not ${toIso(p.endsAt)}`,
      detail: { orderId: order.id, groupId: p.groupId, expiresAt: until },
    });
  }
  const sub = await tx.subscriptions.findByFirstOrder(order.id);
  if (sub && sub.nextChargeAt < until) await tx.subscriptions.update(sub.id, { nextChargeAt: until }, now);
}

/** Who paid, when the rail says: a charge by anyone but the order's buyer is held for review. */
export async function payerMismatch(tx: Repos, accountId: number, event: PaidEvent): Promise<string | null> {
  if (!event.payer) return null;
  const account = await tx.accounts.get(accountId);
  if (account && account.platform === event.payer.platform && account.platformUserId === event.payer.platformUserId) return null;
  return `paid by ${event.payer.platform} user ${event.payer.platformUserId}, not the order's buyer`;
}

/**
 * A renewal charge (not the first): inside the confirming transaction, after its event row was written.
 * `first` is the subscription's first order (named by the charge's invoice payload).
 */
export async function confirmRenewal(
  deps: AppDeps,
  tx: Repos,
  provider: PaymentProvider,
  event: PaidEvent,
  first: Order,
  now: number,
): Promise<'granted' | 'review' | 'duplicate'> {
  const plan = await tx.plans.get(first.planId);
  if (!plan) throw new Error(`order ${first.id} names a plan that does not exist`);
  let sub = await tx.subscriptions.findByFirstOrder(first.id);
  if (!sub) {
    // A renewal of a first payment we did not record as a subscription: the charge says it is one.
    sub =
      (await tx.subscriptions.insertIfAbsent(
        {
          provider: provider.name,
          subscriptionId: event.subscription?.id ?? first.providerTxnId ?? event.providerTxnId,
          accountId: first.accountId,
          planId: first.planId,
          firstOrderId: first.id,
          amountMinor: first.amountMinor,
          currency: first.currency,
          nextChargeAt: event.paidAt,
        },
        now,
      )) ?? (await tx.subscriptions.findByFirstOrder(first.id))!;
  }
  const order = newOrder({
    accountId: sub.accountId,
    planId: sub.planId,
    amountMinor: event.amountMinor,
    currency: event.currency,
    provider: provider.name,
    now,
    expiresAt: now,
  });
  await tx.orders.insert(order);
  // Guard 2: the renewal's own charge id. Booked already (a replay under another event id): nothing new.
  const booked = await tx.payments.insertIfAbsent(
    {
      orderId: order.id,
      provider: provider.name,
      providerTxnId: event.providerTxnId,
      kind: 'charge',
      amountMinor: event.amountMinor,
      currency: event.currency,
      occurredAt: event.paidAt,
    },
    now,
  );
  if (!booked) return 'duplicate';
  await tx.audit.insert({
    at: now,
    actor: `provider:${provider.name}`,
    action: 'order.renewal',
    subjectType: 'order',
    subjectId: order.id,
    reason: `renewal charge of subscription ${sub.id} (first order ${first.id})`,
    detail: { subscriptionId: sub.id, providerTxnId: event.providerTxnId },
  });
  // A charge naming our first order but another subscription at the rail is not this subscription's renewal.
  const otherSubscription =
    event.subscription?.id !== undefined && event.subscription.id !== sub.subscriptionId
      ? `renewal of ${provider.name} subscription ${event.subscription.id}, the first order's is ${sub.subscriptionId}`
      : null;
  // Nothing charged (Stripe: a 100 % coupon or the customer's credit balance, set up in the owner's own account) still
  // renews the period like the price; a different non-zero amount is a mismatch, held for review.
  const covered = event.amountMinor === 0 && event.currency === sub.currency;
  const holdReason =
    otherSubscription ??
    (!covered && (event.currency !== sub.currency || event.amountMinor !== sub.amountMinor)
      ? `renewal charged ${formatMoney(event.amountMinor, event.currency)}, the subscription is ${formatMoney(sub.amountMinor, sub.currency)}`
      : null) ??
    (await payerMismatch(tx, sub.accountId, event));
  // A banned member's renewal is money taken from someone who may not be let in: held for review like any payment
  // by a banned member (confirm-payment.ts), never granted (a period on a banned membership is a conflict), and the
  // renewal is stopped at the rail so it is the last charge.
  const banned = !holdReason && (await isBannedFromPlan(tx, sub.accountId, plan));
  if (
    banned &&
    !(await stopRenewal(tx, sub, `provider:${provider.name}`, 'renewal charged to a banned member', `banned:${order.id}`, now, { immediately: true }))
  )
    await tx.jobs.enqueue([subscriptionEditJob({ subscriptionId: sub.id, cancel: true, immediately: true }, `banned:${order.id}`)], now);
  if (holdReason || banned) {
    const reason = holdReason ?? 'renewal paid by a banned member';
    await tx.orders.transition(order.id, ['pending'], 'review', { paidAt: event.paidAt, providerTxnId: event.providerTxnId, reviewReason: reason }, now);
    await recordHeldForReview(tx, {
      order,
      plan,
      provider: provider.name,
      reason,
      detail: { amountMinor: event.amountMinor, currency: event.currency },
      now,
    });
    return 'review';
  }
  await tx.orders.transition(order.id, orderSourceStatuses('pay'), 'paid', { paidAt: event.paidAt, providerTxnId: event.providerTxnId }, now);
  const until = event.subscription?.expiresAt ?? null;
  await grantOrder(tx, order, plan, Math.min(event.paidAt, now), `provider:${provider.name}`, now, gatewayConfirmsWithInvite(deps), {
    ...(until !== null ? { until, railFrom: sub.nextChargeAt } : {}),
  });
  const nextChargeAt = Math.max(sub.nextChargeAt, until ?? event.paidAt + plan.durationDays * DAY_MS);
  // Canceled by the member here: the charge is honoured and the cancellation stands (sent to the rail again).
  const canceledHere = sub.state === 'canceled';
  // Back to active only when it was not (a failed renewal now paid): a renewal alone is no change of state.
  const reactivate = !canceledHere && (sub.state !== 'active' || sub.canceledBy !== null);
  await tx.subscriptions.update(sub.id, { nextChargeAt, ...(reactivate ? { state: 'active' as const, canceledBy: null } : {}) }, now);
  if (canceledHere) await tx.jobs.enqueue([subscriptionEditJob({ subscriptionId: sub.id, cancel: true }, `renewal:${order.id}`)], now);
  await tx.audit.insert({
    at: now,
    actor: `provider:${provider.name}`,
    action: 'subscription.renewed',
    subjectType: 'subscription',
    subjectId: String(sub.id),
    reason: `renewal order ${order.id} paid; next charge ${toIso(nextChargeAt)}${canceledHere ? '; charged after the member canceled: honoured, renewal stays off' : ''}`,
    detail: { orderId: order.id, nextChargeAt },
  });
  return 'granted';
}

/**
 * Ends renewal of one subscription here and at the rail (a job, sent after the commit), inside the caller's
 * transaction: a ban, an owner's removal or a full refund took the access it renews away. Canceled by the `owner`
 * side (/resume turns back on only what the member canceled); a renewal charged anyway is honoured and the
 * cancellation sent again (confirmRenewal). `immediately` (a ban): the rail ends the subscription now rather than at
 * the period's end, so a banned member is never charged again. False when it is canceled already.
 */
export async function stopRenewal(
  tx: Repos,
  sub: Subscription,
  actor: string,
  why: string,
  occasion: string,
  now: number,
  opts: { immediately?: boolean } = {},
): Promise<boolean> {
  if (sub.state === 'canceled') return false;
  await tx.subscriptions.update(sub.id, { state: 'canceled', canceledBy: 'owner' }, now);
  await tx.jobs.enqueue([subscriptionEditJob({ subscriptionId: sub.id, cancel: true, ...(opts.immediately ? { immediately: true } : {}) }, occasion)], now);
  await tx.audit.insert({
    at: now,
    actor,
    action: 'subscription.cancel',
    subjectType: 'subscription',
    subjectId: String(sub.id),
    reason: `renewal stopped: ${why}`,
    detail: null,
  });
  return true;
}

/** stopRenewal for every subscription of the account whose plan opens the group (see there). Returns how many stopped. */
export async function stopRenewalsIn(
  tx: Repos,
  accountId: number,
  groupId: number,
  actor: string,
  why: string,
  occasion: string,
  now: number,
  opts: { immediately?: boolean } = {},
): Promise<number> {
  let stopped = 0;
  for (const s of await tx.subscriptions.listForAccount(accountId)) {
    const plan = await tx.plans.get(s.planId);
    if (plan?.groupIds.includes(groupId) && (await stopRenewal(tx, s, actor, why, occasion, now, opts))) stopped++;
  }
  return stopped;
}

/**
 * The member's subscriptions to cancel: every one the rail may still charge (stillCharging: a due or failed renewal
 * too, so a member told "the renewal is being charged" can stop it); or to turn back on: canceled here, not yet over.
 */
async function mine(deps: AppDeps, account: Account, cancel: boolean): Promise<Subscription[]> {
  const now = deps.clock.now();
  return (await deps.store.subscriptions.listForAccount(account.id)).filter((s) =>
    cancel ? stillCharging(s, now) : s.state === 'canceled' && s.nextChargeAt > now,
  );
}

/**
 * `/cancel`: renewal ends at the rail; access runs to the end of the paid period. Returns the plans and the end.
 * `endedNow`: the renewal had failed and the rail can end a subscription at once (Stripe): it is ended now, its open
 * invoice voided, rather than canceled at the period's end — which would leave the rail retrying the failed charge
 * (and the member free to buy again), so one membership could be charged twice.
 */
export async function cancelRenewal(deps: AppDeps, account: Account): Promise<RenewalChange[]> {
  return setRenewal(deps, account, true);
}

/** `/resume`: a renewal the member canceled here is turned back on before the paid period ends. */
export async function resumeRenewal(deps: AppDeps, account: Account): Promise<RenewalChange[]> {
  return setRenewal(deps, account, false);
}

export interface RenewalChange {
  plan: string;
  until: number;
  endedNow: boolean;
}

async function setRenewal(deps: AppDeps, account: Account, cancel: boolean): Promise<RenewalChange[]> {
  const candidates = await mine(deps, account, cancel);
  if (candidates.length === 0)
    throw conflict(cancel ? 'you have no auto-renewing membership to cancel' : 'you have no canceled auto-renewal to turn back on before it ends');
  const now = deps.clock.now();
  const done: RenewalChange[] = [];
  await deps.store.transaction(async (tx) => {
    for (const s of candidates) {
      if (!cancel && s.canceledBy !== 'member') continue;
      const endedNow = cancel && s.state === 'failed' && deps.providers.get(s.provider)?.endSubscription !== undefined;
      await tx.subscriptions.update(s.id, cancel ? { state: 'canceled', canceledBy: 'member' } : { state: 'active', canceledBy: null }, now);
      await tx.jobs.enqueue(
        [subscriptionEditJob({ subscriptionId: s.id, cancel, ...(endedNow ? { immediately: true } : {}) }, `${cancel ? 'cancel' : 'resume'}:${now}`)],
        now,
      );
      await tx.audit.insert({
        at: now,
        actor: `account:${account.id}`,
        action: cancel ? 'subscription.cancel' : 'subscription.resume',
        subjectType: 'subscription',
        subjectId: String(s.id),
        reason: cancel
          ? `renewal canceled by the member${endedNow ? ' during a failed renewal: ended at the rail now, its open invoice voided' : ''}; access until ${toIso(s.nextChargeAt)}`
          : 'renewal turned back on by the member',
        detail: null,
      });
      done.push({ plan: (await tx.plans.get(s.planId))?.name ?? '?', until: s.nextChargeAt, endedNow });
    }
  });
  if (done.length === 0) throw conflict('you have no canceled auto-renewal to turn back on before it ends');
  deps.onJobsEnqueued?.();
  return done;
}

/** Runs a queued cancel or resume at the rail; the subscription is re-read (a later /resume or /cancel wins). */
export async function runSubscriptionEdit(deps: AppDeps, p: { subscriptionId: number; cancel: boolean; immediately?: boolean }): Promise<void> {
  const sub = await deps.store.subscriptions.get(p.subscriptionId);
  if (!sub) return;
  if (p.cancel !== (sub.state === 'canceled')) return;
  const provider = deps.providers.get(sub.provider);
  if (!provider?.setRenewal) throw new Error(`the ${sub.provider} provider is not enabled, so it cannot change renewal`);
  const account = await deps.store.accounts.get(sub.accountId);
  if (!account) return;
  try {
    if (p.cancel && p.immediately && provider.endSubscription) await provider.endSubscription(sub, account);
    else await provider.setRenewal(sub, account, !p.cancel);
  } catch (err) {
    // A refusal retrying cannot fix (the subscription already ended, say): recorded, not retried.
    if (!(err instanceof ProviderRejectedError)) throw err;
    const now = deps.clock.now();
    await deps.store.audit.insert({
      at: now,
      actor: `provider:${sub.provider}`,
      action: 'subscription.edit_refused',
      subjectType: 'subscription',
      subjectId: String(sub.id),
      reason: `${p.cancel ? 'cancel' : 'resume'} refused: ${err.message}`,
      detail: null,
    });
  }
}

/**
 * The rail reports a change of a subscription (Telegram's `subscription` update, Bot API: `canceled` when the
 * user canceled, `active` when they re-enabled it, `failed` when its payment failed). Access is untouched:
 * the paid period runs out on its own and the lapse sweep does the rest if no renewal comes.
 */
export async function subscriptionReported(
  deps: AppDeps,
  provider: PaymentProvider,
  firstOutTradeNo: string,
  state: SubscriptionState,
): Promise<'noted' | 'unknown'> {
  const now = deps.clock.now();
  const outcome = await deps.store.transaction(async (tx) => {
    const first = await tx.orders.findByOutTradeNo(firstOutTradeNo);
    const sub = first && first.provider === provider.name ? await tx.subscriptions.findByFirstOrder(first.id) : null;
    if (!sub) return 'unknown' as const;
    await applyReport(tx, provider.name, sub, { state, canceledBy: state === 'canceled' ? 'member' : undefined }, now);
    return 'noted' as const;
  });
  if (outcome === 'noted') deps.onJobsEnqueued?.();
  return outcome;
}

type SubscriptionEvent = Extract<ProviderEvent, { type: 'subscription' }>;

/**
 * A verified webhook reporting a subscription change (Stripe), inside the confirming transaction after its event
 * row was written. `unknown`: no subscription of ours under that first order and rail id (recorded, nothing
 * changes); `stale`: the rail made this change before our own last change of the subscription (events arrive out
 * of order; a /cancel then /resume must not be undone by the first one's late echo), before the newest report taken
 * in (a portal cancel then resume, delivered resume first), or it reports a failed charge booked since.
 */
export async function subscriptionEventReported(
  tx: Repos,
  provider: PaymentProvider,
  event: SubscriptionEvent,
  now: number,
): Promise<'noted' | 'unknown' | 'stale'> {
  const first = await tx.orders.findByOutTradeNo(event.outTradeNo);
  const sub = first && first.provider === provider.name ? await tx.subscriptions.findByFirstOrder(first.id) : null;
  if (!sub || sub.subscriptionId !== event.subscriptionId) return 'unknown';
  // Stripe's times are whole seconds: a report of the second our change happened in still counts.
  // Measured against the last change of its state here (cancel, resume, stop, a report applied), not any write: a
  // renewal booked or a notice queued after the rail's change does not make that change old news.
  if (event.at + 1000 <= sub.stateChangedAt) return 'stale';
  // A failed charge booked since (the member paid the invoice; its invoice.paid overtook the failure): old news. A
  // renewal alone changes no state here (above), so only the ledger knows.
  if (event.state === 'failed' && event.chargeTxnId !== undefined && (await tx.payments.orderOfCharge(provider.name, event.chargeTxnId))) return 'stale';
  // Older than a report taken in already, even one that changed nothing here: a portal cancel delivered after the
  // resume that undid it (the resume found the subscription active, a no-op) is old news.
  if (!(await tx.subscriptions.noteReport(sub.id, event.at))) return 'stale';
  await applyReport(tx, provider.name, sub, event, now);
  return 'noted';
}

async function applyReport(
  tx: Repos,
  providerName: string,
  sub: Subscription,
  report: { state: SubscriptionState; canceledBy?: 'member' | 'provider'; fixUrl?: string | null },
  now: number,
): Promise<void> {
  const { state } = report;
  // One failed renewal counted per charge that failed, however many retries the rail reports for it.
  const newlyFailed = state === 'failed' && sub.state !== 'failed';
  const canceledBy = state === 'canceled' ? (report.canceledBy ?? 'member') : state === 'failed' ? 'provider' : null;
  // A subscription that ended (the rail canceled it) stays ended whatever a late report says.
  // So does one stopped here for a ban, a removal or a refund (stopRenewal): a late report must not turn it back on.
  if (sub.state === 'canceled' && (sub.canceledBy === 'provider' || sub.canceledBy === 'owner') && state !== 'canceled') return;
  if (sub.state === state && sub.canceledBy === canceledBy) return;
  await tx.subscriptions.update(sub.id, { state, canceledBy, failedRenewals: newlyFailed ? sub.failedRenewals + 1 : sub.failedRenewals }, now);
  await tx.audit.insert({
    at: now,
    actor: `provider:${providerName}`,
    action: `subscription.${state}`,
    subjectType: 'subscription',
    subjectId: String(sub.id),
    reason: `${providerName} reports the subscription ${state}${state === 'canceled' && canceledBy === 'provider' ? ' (ended at the rail)' : ''}`,
    detail: null,
  });
  if (state === 'failed')
    await tx.jobs.enqueue(
      [
        notifyJob(
          {
            accountId: sub.accountId,
            message: report.fixUrl
              ? { key: 'renewal.failed_fix', params: { expiresAt: sub.nextChargeAt, url: report.fixUrl } }
              : { key: 'renewal.failed', params: { expiresAt: sub.nextChargeAt } },
          },
          `renewal-failed:${sub.id}:${sub.nextChargeAt}`,
        ),
      ],
      now,
    );
}

/**
 * `/billing`: a link to the rail's page where the member manages the card of their subscription (Stripe's Customer
 * Portal). The newest subscription of a rail that has such a page, not yet over; null when there is none.
 */
export async function billingPortalLink(deps: AppDeps, account: Account): Promise<string | null> {
  const now = deps.clock.now();
  const subs = (await deps.store.subscriptions.listForAccount(account.id)).filter(
    (s) => (s.nextChargeAt > now || stillCharging(s, now)) && deps.providers.get(s.provider)?.billingPortalUrl !== undefined,
  );
  const sub = subs[subs.length - 1];
  if (!sub) return null;
  return deps.providers.get(sub.provider)!.billingPortalUrl!(sub, deps.settings.publicUrl);
}

/** One "renews on …; /cancel to stop" notice per charge, 3 days before it (replaces the expiry reminders). */
export async function sweepRenewalNotices(deps: AppDeps, batch = 500): Promise<{ queued: number }> {
  const now = deps.clock.now();
  let queued = 0;
  for (;;) {
    const n = await deps.store.transaction(async (tx) => {
      const due = await tx.subscriptions.noticesDue({ fromMs: now, toMs: now + RENEWAL_NOTICE_MS, limit: batch });
      for (const s of due) {
        const plan = await tx.plans.get(s.planId);
        await tx.jobs.enqueue(
          [
            notifyJob(
              {
                accountId: s.accountId,
                message: {
                  key: 'renewal.notice',
                  params: { plan: plan?.name ?? '?', renewsAt: s.nextChargeAt, amount: formatMoney(s.amountMinor, s.currency) },
                },
              },
              `renews:${s.id}:${s.nextChargeAt}`,
            ),
          ],
          now,
        );
        await tx.subscriptions.update(s.id, { renewalNoticeFor: s.nextChargeAt }, now);
      }
      return due.length;
    });
    queued += n;
    if (n < batch) break;
  }
  if (queued > 0) deps.onJobsEnqueued?.();
  return { queued };
}

/**
 * How long after its due charge a subscription that has not ended may still be charged by its rail: Stripe retries a
 * failed renewal on its own for up to 2 months (Smart Retries: "1 week, 2 weeks, 3 weeks, 1 month, or 2 months",
 * docs.stripe.com/payments/off-session-payments/smart-retries) before it reports the subscription ended.
 */
export const RENEWAL_RETRY_MS = 61 * DAY_MS;

/**
 * A subscription the rail may still charge: active (its charge coming, or due and being taken), or failed (the rail
 * retrying), and not longer overdue than RENEWAL_RETRY_MS. A canceled one is charged no more.
 */
export const stillCharging = (s: Subscription, now: number): boolean =>
  (s.state === 'active' || s.state === 'failed') && s.nextChargeAt > now - RENEWAL_RETRY_MS;

/** A renewal that is due or failed: the rail is taking (or retrying) the charge right now. */
export const chargingNow = (s: Subscription, now: number): boolean => s.state === 'failed' || s.nextChargeAt <= now;

/** A subscription the rail may still charge, and the plan it renews (opening a group of the plan being bought). */
export interface RenewingIn {
  plan: Plan;
  sub: Subscription;
}

/**
 * Buying while a subscription the rail may still charge opens a group of the plan is refused, or the member would be
 * charged twice for one membership: switching plan (cancel first), buying the subscribed plan again, and buying while
 * a renewal is due or failed (the rail is charging or retrying it: fix the card with /billing, or /cancel first).
 */
export async function assertNotSubscribedElsewhere(
  tx: Repos,
  accountId: number,
  plan: Plan,
  now: number,
  billing: (provider: string) => boolean,
): Promise<void> {
  const renewing = await renewingPlanIn(tx, accountId, plan, now);
  if (!renewing) return;
  const name = renewing.plan.name;
  if (chargingNow(renewing.sub, now))
    throw invalid(
      billing(renewing.sub.provider)
        ? `the renewal of your "${name}" membership is being charged: fix your card with /billing instead of buying again`
        : `the renewal of your "${name}" membership is being charged: wait for it, or send /cancel first to buy again`,
    );
  throw invalid(
    renewing.plan.id === plan.id
      ? `your "${name}" membership already renews itself; nothing to buy`
      : `your "${name}" membership renews itself: send /cancel first to switch plan`,
  );
}

/** The subscription the rail may still charge (stillCharging) for a plan opening a group `plan` opens, or null. */
export async function renewingPlanIn(tx: Pick<Repos, 'subscriptions' | 'plans'>, accountId: number, plan: Plan, now: number): Promise<RenewingIn | null> {
  for (const s of await tx.subscriptions.listForAccount(accountId)) {
    if (!stillCharging(s, now)) continue;
    const other = s.planId === plan.id ? plan : await tx.plans.get(s.planId);
    if (other && other.groupIds.some((g) => plan.groupIds.includes(g))) return { plan: other, sub: s };
  }
  return null;
}
