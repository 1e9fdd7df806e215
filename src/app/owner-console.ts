// What the owner console (issue 15) reads: members, orders and the review queue of the actor's groups
// only, through the one scope rule (app/actors.ts). Something outside the actor's scope is "not found"
// here, exactly like something that does not exist, so a URL with another owner's id reveals nothing.
// The console's actions go through the same use cases as the chat, the CLI and the admin API
// (app/owners.ts, app/refunds.ts, app/review.ts); this file only reads.
import { invalid, notFound } from '../domain/errors.ts';
import { isMembershipStatus, MEMBERSHIP_STATUSES, type MembershipStatus } from '../domain/membership.ts';
import { isOrderStatus, ORDER_STATUSES, type OrderStatus } from '../domain/order.ts';
import { DAY_MS } from '../domain/time.ts';
import { type Actor, groupScope, inScope, notAllowed, ownedGroup, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { Account, AuditEntry, Group, MembershipPeriod, Order, Plan } from './model.ts';
import { recipientCounts } from './broadcast.ts';
import { listApplications } from './review.ts';
import type { MembershipView, ReferralReward, RosterReport, WhitelistEntry } from './ports.ts';

export const CONSOLE_PAGE = 50;
const MAX_EXPIRING_DAYS = 3660;

export interface MemberFilter {
  groupId?: number | undefined;
  status?: string | undefined;
  /** Active members whose paid time ends within this many days. */
  expiringWithinDays?: number | undefined;
  /** Part of a display name or of a platform user id, any case. */
  search?: string | undefined;
  afterId?: number | undefined;
  /** Soonest expiry first (the overview's short list); pages (afterId) follow id order otherwise. */
  soonestFirst?: boolean;
  limit?: number;
}

async function scopeOf(deps: AppDeps, actor: Actor) {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  return scope;
}

/** The groups the actor sees, by id order. */
export async function consoleGroups(deps: AppDeps, actor: Actor): Promise<Group[]> {
  const scope = await scopeOf(deps, actor);
  return (await deps.store.groups.list()).filter((g) => inScope(scope, g.id));
}

/** Checks a member filter (one clear line for a bad value) and turns it into the store's query. */
export async function listMembers(deps: AppDeps, actor: Actor, f: MemberFilter): Promise<MembershipView[]> {
  const scope = await scopeOf(deps, actor);
  if (f.groupId !== undefined) await ownedGroup(deps.store, actor, f.groupId);
  if (f.status !== undefined && !isMembershipStatus(f.status)) throw invalid(`unknown status "${f.status.slice(0, 40)}" (${MEMBERSHIP_STATUSES.join(', ')})`);
  const days = f.expiringWithinDays;
  if (days !== undefined && (!Number.isInteger(days) || days < 0 || days > MAX_EXPIRING_DAYS))
    throw invalid(`"expiring within" must be a whole number of days from 0 to ${MAX_EXPIRING_DAYS}`);
  const search = f.search?.trim().slice(0, 100);
  const now = deps.clock.now();
  // "Expiring within N days" counts as the overview's card does (stats countExpiring): active, from now on.
  const expiresBefore = days === undefined ? undefined : now + days * DAY_MS;
  return deps.store.memberships.page({
    groupId: f.groupId,
    groupIds: scopeFilter(scope),
    status: (f.status as MembershipStatus | undefined) ?? (expiresBefore !== undefined ? 'active' : undefined),
    expiresBefore,
    expiresFrom: expiresBefore === undefined ? undefined : now,
    soonestFirst: f.soonestFirst === true && f.afterId === undefined,
    search: search || undefined,
    afterId: f.afterId,
    limit: f.limit ?? CONSOLE_PAGE,
  });
}

export interface MemberDetail {
  member: MembershipView;
  group: Group;
  account: Account;
  periods: MembershipPeriod[];
  orders: Order[];
  audit: AuditEntry[];
  referrals: MemberReferrals;
}

/** A referral in the member's group, with the other person named. */
export interface ReferralLine {
  reward: ReferralReward;
  /** The other side: the person referred (in `brought`) or the referrer (in `broughtBy`). */
  person: Pick<Account, 'id' | 'displayName' | 'platform' | 'platformUserId'> | null;
}

/** Who brought this person (and whether it earned them a reward in this group), and whom they brought to this group. */
export interface MemberReferrals {
  referredBy: Pick<Account, 'id' | 'displayName' | 'platform' | 'platformUserId'> | null;
  /** The reward row of that referral in this group, when the sweep has decided it. */
  referredByReward: ReferralReward | null;
  brought: ReferralLine[];
}

/** The member's referrals in this group only: another owner's group's rewards are not this owner's to see. */
async function referralsIn(deps: AppDeps, account: Account, groupId: number): Promise<MemberReferrals> {
  const [asReferrer, asReferred, referrer] = await Promise.all([
    deps.store.referrals.list({ referrerId: account.id }),
    deps.store.referrals.list({ referredId: account.id }),
    account.referredBy === null ? null : deps.store.accounts.get(account.referredBy),
  ]);
  const named = (a: Account | null) => (a ? { id: a.id, displayName: a.displayName, platform: a.platform, platformUserId: a.platformUserId } : null);
  const here = asReferrer.filter((r) => r.groupId === groupId).slice(0, 100);
  const people = await Promise.all(here.map((r) => deps.store.accounts.get(r.referredId)));
  return {
    referredBy: named(referrer),
    referredByReward: asReferred.find((r) => r.groupId === groupId && r.referrerId === account.referredBy) ?? null,
    brought: here.map((reward, i) => ({ reward, person: named(people[i] ?? null) })),
  };
}

/** One membership of the actor's groups with its periods, the person's orders for plans of that group, and its audit trail. */
export async function memberDetail(deps: AppDeps, actor: Actor, membershipId: number): Promise<MemberDetail> {
  const scope = await scopeOf(deps, actor);
  const m = Number.isSafeInteger(membershipId) ? await deps.store.memberships.get(membershipId) : null;
  if (!m || !inScope(scope, m.groupId)) throw notFound(`no member with id ${String(membershipId)}`);
  const [group, account, periods, orders, audit] = await Promise.all([
    deps.store.groups.get(m.groupId),
    deps.store.accounts.get(m.accountId),
    deps.store.periods.listForMembership(m.id),
    deps.store.orders.page({ accountId: m.accountId, groupIds: [m.groupId], limit: 100 }),
    deps.store.audit.page({ subjectType: 'membership', subjectId: String(m.id), limit: 100 }),
  ]);
  if (!group || !account) throw notFound(`no member with id ${String(membershipId)}`);
  const member: MembershipView = { ...m, platform: account.platform, platformUserId: account.platformUserId, displayName: account.displayName };
  const referrals = await referralsIn(deps, account, group.id);
  return { member, group, account, periods, orders, audit, referrals };
}

export interface OrderFilter {
  status?: string | undefined;
  provider?: string | undefined;
  /** Created on or after this instant, and before `to`. */
  from?: number | undefined;
  to?: number | undefined;
  after?: { createdAt: number; id: string } | undefined;
  limit?: number;
}

export async function listOrders(deps: AppDeps, actor: Actor, f: OrderFilter): Promise<Order[]> {
  const scope = await scopeOf(deps, actor);
  if (f.status !== undefined && !isOrderStatus(f.status)) throw invalid(`unknown order status "${f.status.slice(0, 40)}" (${ORDER_STATUSES.join(', ')})`);
  if (f.provider !== undefined && !/^[a-z]{2,20}$/.test(f.provider)) throw invalid(`unknown provider "${f.provider.slice(0, 40)}"`);
  if (f.from !== undefined && f.to !== undefined && f.from >= f.to) throw invalid('the "from" date must be before the "to" date');
  return deps.store.orders.page({
    status: f.status as OrderStatus | undefined,
    provider: f.provider,
    createdFrom: f.from,
    createdTo: f.to,
    groupIds: scopeFilter(scope),
    after: f.after,
    limit: f.limit ?? CONSOLE_PAGE,
  });
}

export interface OrderDetail {
  order: Order;
  plan: Plan | null;
  account: Account | null;
  refundedMinor: number;
  payments: Awaited<ReturnType<AppDeps['store']['payments']['listForOrder']>>;
  audit: AuditEntry[];
}

/** An order whose plan opens one of the actor's groups (an operator: any order). */
export async function orderDetail(deps: AppDeps, actor: Actor, orderId: string): Promise<OrderDetail> {
  const scope = await scopeOf(deps, actor);
  const order = /^[A-Za-z0-9_-]{1,64}$/.test(orderId) ? await deps.store.orders.get(orderId) : null;
  const plan = order ? await deps.store.plans.get(order.planId) : null;
  const visible = order !== null && (scope.all || (plan?.groupIds ?? []).some((id) => inScope(scope, id)));
  if (!order || !visible) throw notFound(`no order with id ${orderId.slice(0, 64)}`);
  const [account, refunded, payments, audit] = await Promise.all([
    deps.store.accounts.get(order.accountId),
    deps.store.payments.refundedByOrder([order.id]),
    deps.store.payments.listForOrder(order.id),
    deps.store.audit.page({ subjectType: 'order', subjectId: order.id, limit: 100 }),
  ]);
  return { order, plan, account, refundedMinor: refunded.get(order.id) ?? 0, payments, audit };
}

/** The review queue: orders held for review (with the reason each is held) and join-review applications pending. */
export async function reviewQueue(deps: AppDeps, actor: Actor) {
  const [held, applications] = await Promise.all([
    listOrders(deps, actor, { status: 'review', limit: 200 }),
    listApplications(deps, actor, { status: 'pending' }),
  ]);
  return { held, applications };
}

export interface PlanRow {
  plan: Plan;
  /** Per currency: paid orders and net money from the ledger. */
  sales: Array<{ currency: string; orders: number; netMinor: number; refundsMinor: number }>;
}

/** Plans opening at least one of the actor's groups, on sale first, with their sales. */
export async function consolePlans(deps: AppDeps, actor: Actor): Promise<PlanRow[]> {
  const scope = await scopeOf(deps, actor);
  const [plans, sales] = await Promise.all([deps.store.plans.list(), deps.store.stats.planSales(scopeFilter(scope))]);
  return plans
    .filter((p) => p.groupIds.some((id) => inScope(scope, id)))
    .sort((x, y) => Number(y.active) - Number(x.active) || x.id - y.id)
    .map((plan) => ({
      plan,
      sales: sales
        .filter((s) => s.planId === plan.id)
        .map((s) => ({ currency: s.currency, orders: s.orders, netMinor: s.netMinor, refundsMinor: s.refundsMinor })),
    }));
}

export interface AuditFilter {
  subjectType?: string | undefined;
  subjectId?: string | undefined;
  action?: string | undefined;
  beforeId?: number | undefined;
  limit?: number;
}

/** The audit log, newest first: every entry for an operator, an owner's groups (and their plans, members, orders) otherwise. */
export async function consoleAudit(deps: AppDeps, actor: Actor, f: AuditFilter): Promise<AuditEntry[]> {
  const scope = await scopeOf(deps, actor);
  for (const [name, v, max] of [
    ['subject', f.subjectType, 40],
    ['subject id', f.subjectId, 64],
    ['action', f.action, 60],
  ] as const)
    if (v !== undefined && (v.length > max || !/^[\w.:-]+$/.test(v)))
      throw invalid(`${name} must be at most ${max} letters, digits and . _ : - (got "${v.slice(0, 40)}")`);
  return deps.store.audit.page({ ...f, groupIds: scopeFilter(scope), limit: f.limit ?? CONSOLE_PAGE });
}

/** One of the actor's groups; another owner's group (or none) is "not found", so its id reveals nothing. */
export async function consoleGroup(deps: AppDeps, actor: Actor, groupId: number): Promise<Group> {
  const scope = await scopeOf(deps, actor);
  const group = Number.isSafeInteger(groupId) ? await deps.store.groups.get(groupId) : null;
  if (!group || !inScope(scope, group.id)) throw notFound(`no group with id ${String(groupId)}`);
  return group;
}

export interface GroupRow {
  group: Group;
  /** People with access (active or in grace), counted as the overview's "active members". */
  members: number;
}

/** The actor's groups with their members, by id order: one grouped count (the people a broadcast reaches: active or in grace). */
export async function consoleGroupRows(deps: AppDeps, actor: Actor): Promise<GroupRow[]> {
  const groups = await consoleGroups(deps, actor);
  const counts = await recipientCounts(deps, actor, groups);
  return groups.map((group) => ({ group, members: counts.get(group.id) ?? 0 }));
}

export interface GroupDetail {
  group: Group;
  whitelist: WhitelistEntry[];
  /** The group's latest dry-run report (what /intruders <group> shows; `#n` in /whitelist names its lines), if any. */
  report: RosterReport | null;
}

/** One of the actor's groups with its whitelist and latest dry-run report. */
export async function groupDetail(deps: AppDeps, actor: Actor, groupId: number): Promise<GroupDetail> {
  const group = await consoleGroup(deps, actor, groupId);
  const [whitelist, report] = await Promise.all([deps.store.roster.listWhitelist(group.id), deps.store.roster.latestReport(group.id)]);
  return { group, whitelist, report };
}
