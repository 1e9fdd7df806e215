// Grant or extend access for every group a paid order's plan opens. Runs inside the caller's
// transaction, so the membership change, its period row and the jobs it causes commit together.
import { ACCESS_CODE_PROVIDER } from '../domain/coupon.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { toIso } from '../domain/time.ts';
import { confirmationJob, type InvitePayload, inviteJob } from './job-kinds.ts';
import type { Group, Membership, Order, Plan, Platform } from './model.ts';
import type { NewJob, Repos } from './ports.ts';
import type { AppDeps } from './deps.ts';
import { countOf } from '../domain/text.ts';

export interface GrantResult {
  /** Groups that got a new period (empty when every group already had this order's period). */
  granted: Array<{ groupId: number; membershipId: number; expiresAt: number; invited: boolean }>;
}

/**
 * Thrown by grantOrder with `refuseBanned` when the buyer is banned from a group of the plan: nothing may be
 * granted, and the caller (which skipped the separate check, see confirm-payment.ts) rolls back and holds the
 * payment for review instead.
 */
export class BannedBuyerError extends Error {
  constructor(readonly accountId: number) {
    super(`account ${accountId} is banned from a group of the plan`);
    this.name = 'BannedBuyerError';
  }
}

export interface GrantOptions {
  /** The plan's groups, read already with the plan (Repos.plans.getWithGroups): not read again one by one. */
  groups?: Group[];
  /** Throw BannedBuyerError on a banned membership instead of assuming the caller checked. */
  refuseBanned?: boolean;
  /**
   * A subscription renewal: the period ends when the rail says its charge runs to (Telegram's
   * subscription_expiration_date is authoritative), never before the membership's current expiry.
   */
  until?: number;
  /**
   * A subscription's first charge: the period runs at least to the end of what the rail's first invoice paid for
   * (Stripe's calendar month or year may be a day longer than the plan's 30 or 365 days), so the member is not put
   * in grace the day before the rail renews. Never shorter than the plan's days.
   */
  atLeast?: number;
  /**
   * With `until` (a renewal): where the rail's previous period ended. Days a member holds beyond it (a referral
   * reward, an owner's extension, a trial or one-off days left when subscribing) are kept: the renewal adds the
   * rail's period (until − railFrom) to the current expiry, never ending before the rail's own expiry.
   */
  railFrom?: number;
}

/** What a never-paid membership looks like before its first period (the row is written only with that period). */
const NEVER_PAID = { status: 'expired', expiresAt: 0 } as const;

/**
 * The kind of period an order grants, decided here once for every path (payment, reconcile, review approval):
 * `paid` when money was taken; `comp` for an access code (a 100 % coupon, issue 16), which is never revenue and
 * never refundable.
 */
export const periodKindOf = (order: Order): 'paid' | 'comp' => (order.provider === ACCESS_CODE_PROVIDER ? 'comp' : 'paid');

/** True when the person is banned from any group of the plan: such a payment is held for review, never granted. */
export async function isBannedFromPlan(tx: Repos, accountId: number, plan: Plan): Promise<boolean> {
  for (const groupId of plan.groupIds) {
    const m = await tx.memberships.getForUpdate(accountId, groupId);
    if (m?.status === 'banned') return true;
  }
  return false;
}

/** Asks the running gateway of a platform; a platform whose adapter is not running gets its confirmation on its own. */
export const gatewayConfirmsWithInvite =
  (deps: Pick<AppDeps, 'gateways'>) =>
  (platform: Platform): boolean =>
    deps.gateways.get(platform)?.confirmsWithInvite === true;

/**
 * `confirmsWithInvite`: whether the platform's gateway delivers the payment confirmation in the invitation
 * message (see ChatGateway.confirmsWithInvite). Then a payment that brings an invite costs one message:
 * the confirmation rides with the first such invite instead of being a notice of its own.
 */
export async function grantOrder(
  tx: Repos,
  order: Order,
  plan: Plan,
  startAt: number,
  actor: string,
  now: number,
  confirmsWithInvite: (platform: Platform) => boolean,
  opts: GrantOptions = {},
): Promise<GrantResult> {
  const jobs: NewJob[] = [];
  const invites: Array<{ payload: InvitePayload; platform: Platform }> = [];
  const granted: GrantResult['granted'] = [];
  const titles: string[] = [];
  let latestExpiry = 0;
  for (const groupId of plan.groupIds) {
    const group = opts.groups ? (opts.groups.find((g) => g.id === groupId) ?? null) : await tx.groups.get(groupId);
    if (!group) continue;
    // A first membership of the group is written once, already in its paid state (one statement); an existing
    // one is locked and read, then updated below. Either way a concurrent insert for the same person is not
    // raced: the insert does nothing on conflict and the row is then read.
    const first = applyMembershipEvent(NEVER_PAID, { type: 'period', days: plan.durationDays, startAt });
    const created = await tx.memberships.insertIfAbsent({ accountId: order.accountId, groupId, status: first.status, expiresAt: first.expiresAt }, now);
    const existing: Membership = created
      ? { ...created, ...NEVER_PAID }
      : ((await tx.memberships.getForUpdate(order.accountId, groupId)) ?? fail(`membership of account ${order.accountId} in group ${groupId} vanished`));
    if (existing.status === 'banned' && opts.refuseBanned) throw new BannedBuyerError(order.accountId);
    // Paid while still in (active or grace) but learned of only after the removal sweep: it is still a
    // renewal, so it extends from the old expiry rather than losing the days in between.
    const paidWhileIn = existing.status === 'expired' && existing.expiresAt > 0 && startAt <= existing.expiresAt + group.graceMs;
    const effectiveStart = paidWhileIn ? existing.expiresAt : startAt;
    const computed = applyMembershipEvent(
      { status: existing.status, expiresAt: existing.expiresAt },
      { type: 'period', days: plan.durationDays, startAt: effectiveStart },
    );
    const startsAt = computed.invite ? effectiveStart : existing.expiresAt;
    const ahead =
      opts.railFrom !== undefined && (existing.status === 'active' || existing.status === 'grace') ? Math.max(0, existing.expiresAt - opts.railFrom) : 0;
    const next =
      opts.until !== undefined
        ? { ...computed, expiresAt: Math.max(opts.until + ahead, startsAt) }
        : opts.atLeast !== undefined
          ? { ...computed, expiresAt: Math.max(computed.expiresAt, opts.atLeast) }
          : computed;
    // Third exactly-once guard: one period per (order, group), whatever event delivered the payment.
    const fresh = await tx.periods.insertIfAbsent(
      { membershipId: existing.id, groupId, orderId: order.id, kind: periodKindOf(order), startsAt, endsAt: next.expiresAt, days: plan.durationDays },
      now,
    );
    if (!fresh) {
      // A period of this order in a group the person had no membership of cannot exist.
      if (created) fail(`order ${order.id} has a period in group ${groupId} but account ${order.accountId} had no membership there`);
      continue;
    }
    // A membership written just now already holds the plan's days; a rail's own end moves it (until / atLeast).
    if (!created || next.expiresAt !== first.expiresAt)
      await tx.memberships.update(existing.id, { status: next.status, expiresAt: next.expiresAt, graceUntil: null }, now);
    // `first`: this grant wrote the membership, so nothing happened in this group before it (see InvitePayload).
    if (next.invite)
      invites.push({ payload: { membershipId: existing.id, expiresAt: next.expiresAt, ...(created ? { first: true } : {}) }, platform: group.platform });
    await tx.audit.insert({
      at: now,
      actor,
      action: next.invite ? 'membership.grant' : 'membership.extend',
      subjectType: 'membership',
      subjectId: String(existing.id),
      reason: `order ${order.id} paid: ${countOf(plan.durationDays, 'day', 'days')}, ${existing.status === 'grace' || existing.status === 'active' ? 'extended from' : 'starting'} ${toIso(startsAt)} until ${toIso(next.expiresAt)}`,
      detail: { orderId: order.id, groupId, from: existing.status, expiresAt: next.expiresAt },
    });
    granted.push({ groupId, membershipId: existing.id, expiresAt: next.expiresAt, invited: next.invite });
    titles.push(group.title);
    latestExpiry = Math.max(latestExpiry, next.expiresAt);
  }
  if (granted.length > 0) {
    const confirmation = {
      accountId: order.accountId,
      orderId: order.id,
      message: { key: 'payment.confirmed', params: { plan: plan.name, groups: titles.join(', '), expiresAt: latestExpiry } },
    };
    // One confirmation per order: with the first invite whose platform bundles them, else on its own.
    const carrier = invites.find((i) => confirmsWithInvite(i.platform));
    if (carrier) carrier.payload.confirmation = confirmation;
    else jobs.push(confirmationJob(confirmation));
  }
  await tx.jobs.enqueue([...invites.map((i) => inviteJob(i.payload)), ...jobs], now);
  return { granted };
}

function fail(message: string): never {
  throw new Error(message);
}
