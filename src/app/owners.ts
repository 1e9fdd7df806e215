// Owners and their actions. `gatekeeper owner claim` prints a one-time code (128 random bits, 24 h);
// the account that sends it to a bot becomes an owner. Every owner action checks the owner again and
// is written to audit_log with who, what and why.
import { stopRenewalsIn } from './subscriptions.ts';
import { createHash, randomBytes } from 'node:crypto';
import { conflict, invalid, notFound } from '../domain/errors.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { orderSourceStatuses } from '../domain/order.ts';
import { HOUR_MS } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf, notAllowed, ownsGroup } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { gatewayConfirmsWithInvite, grantOrder } from './grant.ts';
import { inviteJob, notifyJob, removeJob } from './job-kinds.ts';
import { type Account, isPlatform, type Membership, type Order } from './model.ts';
import type { NewJob, Repos } from './ports.ts';

export const CLAIM_TTL_MS = 24 * HOUR_MS;
export const MAX_EXTEND_DAYS = 3660;
const CLAIM_PREFIX = 'claim-';

const hashCode = (code: string) => createHash('sha256').update(code).digest('hex');
/** Accepts the code as typed: surrounding spaces, any case, with or without the prefix. */
const normalizeCode = (input: string) => {
  const s = input.trim().toLowerCase();
  return s.startsWith(CLAIM_PREFIX) ? s : `${CLAIM_PREFIX}${s}`;
};
export const looksLikeClaimCode = (text: string) => /^\s*claim-[0-9a-f]{32}\s*$/i.test(text);

/**
 * A one-time claim code. Without `groupIds` it makes an operator (every group); with them, an owner of
 * exactly those groups. Only an admin (the CLI, the admin API) issues codes.
 */
export async function createClaimCode(
  deps: AppDeps,
  actor: Actor,
  groupIds?: number[],
): Promise<{ code: string; expiresAt: number; groupIds: number[] | null }> {
  if (actor.kind !== 'admin') throw notAllowed();
  const scope = groupIds === undefined ? null : [...new Set(groupIds)].sort((a, b) => a - b);
  if (scope?.length === 0) throw invalid('a scoped claim needs at least one group');
  const now = deps.clock.now();
  const code = `${CLAIM_PREFIX}${randomBytes(16).toString('hex')}`;
  const expiresAt = now + CLAIM_TTL_MS;
  await deps.store.transaction(async (tx) => {
    for (const id of scope ?? []) if (!Number.isSafeInteger(id) || !(await tx.groups.get(id))) throw notFound(`no group with id ${String(id)}`);
    await tx.ownerClaims.insert(hashCode(code), now, expiresAt, scope);
    const reason = scope
      ? `one-time owner claim code issued for ${scope.length === 1 ? 'group' : 'groups'} ${scope.join(', ')}`
      : 'one-time owner claim code issued for every group (operator)';
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'owner.claim_create',
      subjectType: 'owner_claim',
      subjectId: hashCode(code).slice(0, 12),
      reason,
      detail: { expiresAt, groupIds: scope },
    });
  });
  return { code, expiresAt, groupIds: scope };
}

export async function redeemClaimCode(deps: AppDeps, input: { platform: string; userId: string; displayName?: string | null; code: string }): Promise<Account> {
  const platform = input.platform;
  if (!isPlatform(platform)) throw invalid(`unknown platform "${platform}"`);
  const code = normalizeCode(input.code ?? '');
  if (!/^claim-[0-9a-f]{32}$/.test(code)) throw invalid('that is not a claim code');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const hash = hashCode(code);
    const claim = await tx.ownerClaims.get(hash);
    if (!claim) throw invalid('unknown claim code; run "gatekeeper owner claim" for a new one');
    if (claim.redeemedAt !== null) throw conflict('this claim code was already used; run "gatekeeper owner claim" for a new one');
    if (claim.expiresAt <= now) throw invalid('this claim code has expired; run "gatekeeper owner claim" for a new one');
    const account = await tx.accounts.upsert({ platform, platformUserId: String(input.userId), displayName: input.displayName ?? null }, now);
    if (!(await tx.ownerClaims.redeem(hash, account.id, now))) throw conflict('this claim code was already used; run "gatekeeper owner claim" for a new one');
    await tx.accounts.setOwner(account.id);
    await tx.ownerScopes.grant(account.id, claim.groupIds, 'claim', now);
    const reason = claim.groupIds
      ? `redeemed an owner claim code for ${claim.groupIds.length === 1 ? 'group' : 'groups'} ${claim.groupIds.join(', ')}`
      : 'redeemed an operator claim code (every group)';
    await tx.audit.insert({
      at: now,
      actor: `account:${account.id}`,
      action: 'owner.claim_redeem',
      subjectType: 'account',
      subjectId: String(account.id),
      reason,
      detail: { platform, groupIds: claim.groupIds },
    });
    return { ...account, isOwner: true };
  });
}

interface MemberTarget {
  membershipId: number;
}

/** Loads and locks a membership and checks the actor owns its group. */
async function lockTarget(tx: Repos, actor: Actor, target: MemberTarget) {
  const m0 = Number.isSafeInteger(target.membershipId) ? await tx.memberships.get(target.membershipId) : null;
  if (!m0) throw notFound(`no membership with id ${String(target.membershipId)}`);
  const group = await tx.groups.get(m0.groupId);
  if (!group) throw notFound(`no group with id ${m0.groupId}`);
  await assertOwnerOf(tx, actor, group);
  const m = (await tx.memberships.getForUpdate(m0.accountId, m0.groupId))!;
  const account = (await tx.accounts.get(m.accountId))!;
  return { m, group, account };
}

const reasonOf = (r: string | undefined, fallback: string) => (r ?? '').trim().slice(0, 500) || fallback;

async function commit(deps: AppDeps, fn: (tx: Repos, now: number) => Promise<{ membership: Membership; jobs: NewJob[] }>): Promise<Membership> {
  const now = deps.clock.now();
  const r = await deps.store.transaction((tx) =>
    fn(tx, now).then(async (out) => {
      await tx.jobs.enqueue(out.jobs, now);
      return out.membership;
    }),
  );
  deps.onJobsEnqueued?.();
  return r;
}

/**
 * Adds whole days to the later of the current expiry and now (the same rule for the CLI, the admin API
 * and /extend): it never shortens a membership, even a removed one whose paid time runs past now. A
 * member not in the group gets a comped period and an invite.
 */
/** The days an owner may extend by, checked before anything is read (the console asks before its confirmation step). */
export function checkExtendDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_EXTEND_DAYS) throw invalid(`days must be a whole number from 1 to ${MAX_EXTEND_DAYS}`);
}

export async function extendMembership(deps: AppDeps, input: MemberTarget & { actor: Actor; days: number; reason?: string }): Promise<Membership> {
  checkExtendDays(input.days);
  return commit(deps, async (tx, now) => {
    const { m, group } = await lockTarget(tx, input.actor, input);
    if (m.status === 'banned') throw conflict('this member is banned; unban them first');
    const next = applyMembershipEvent(m, { type: 'extend', days: input.days, now });
    await tx.memberships.update(m.id, { status: next.status, expiresAt: next.expiresAt, graceUntil: null }, now);
    await tx.periods.insertIfAbsent(
      { membershipId: m.id, groupId: group.id, orderId: null, kind: 'comp', startsAt: Math.max(m.expiresAt, now), endsAt: next.expiresAt, days: input.days },
      now,
    );
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'membership.extend_by_owner',
      subjectType: 'membership',
      subjectId: String(m.id),
      reason: reasonOf(input.reason, 'extended by owner'),
      detail: { days: input.days, from: m.expiresAt, to: next.expiresAt },
    });
    const jobs: NewJob[] = [
      notifyJob({
        accountId: m.accountId,
        message: { key: 'membership.extended', params: { group: group.title, days: input.days, expiresAt: next.expiresAt } },
      }),
    ];
    if (next.invite) jobs.push(inviteJob({ membershipId: m.id, expiresAt: next.expiresAt }));
    return { membership: { ...m, status: next.status, expiresAt: next.expiresAt, graceUntil: null }, jobs };
  });
}

/** Moves a membership to `status` (its paid time kept, any grace ended) and audits who did it and why. */
async function moveMember(
  tx: Repos,
  now: number,
  input: { actor: Actor; reason?: string },
  m: Membership,
  status: Membership['status'],
  action: string,
  defaultReason: string,
  detail: unknown,
): Promise<void> {
  await tx.memberships.update(m.id, { status, expiresAt: m.expiresAt, graceUntil: null }, now);
  await tx.audit.insert({
    at: now,
    actor: actorLabel(input.actor),
    action,
    subjectType: 'membership',
    subjectId: String(m.id),
    reason: reasonOf(input.reason, defaultReason),
    detail,
  });
}

/** Removes a member now (access withdrawn, free to buy again later). */
export async function removeMember(deps: AppDeps, input: MemberTarget & { actor: Actor; reason?: string }): Promise<Membership> {
  return commit(deps, async (tx, now) => {
    const { m, account, group } = await lockTarget(tx, input.actor, input);
    // An owner of this group, that is; an owner of other groups is a member like any other here.
    if (account.isOwner && (await ownsGroup(tx, account.id, group.id))) throw conflict('an owner cannot be removed from a group this way');
    if (m.status !== 'active' && m.status !== 'grace') throw conflict(`this membership is ${m.status}, not in the group`);
    const next = applyMembershipEvent(m, { type: 'revoke' });
    await moveMember(tx, now, input, m, next.status, 'membership.remove', 'removed by owner', null);
    // Renewal would pay for (and re-grant) the access just taken away: stopped here and at the rail.
    await stopRenewalsIn(tx, m.accountId, group.id, actorLabel(input.actor), 'member removed by owner', `remove:${now}`, now);
    return { membership: { ...m, status: next.status }, jobs: [removeJob({ membershipId: m.id, reason: 'revoked', expectStatus: 'revoked' }, now)] };
  });
}

export async function banMember(deps: AppDeps, input: MemberTarget & { actor: Actor; reason?: string }): Promise<Membership> {
  return commit(deps, async (tx, now) => {
    const { m, account, group } = await lockTarget(tx, input.actor, input);
    if (account.isOwner && (await ownsGroup(tx, account.id, group.id))) throw conflict('an owner cannot be banned');
    if (m.status === 'banned') throw conflict('this member is already banned');
    const next = applyMembershipEvent(m, { type: 'ban' });
    await moveMember(tx, now, input, m, 'banned', 'membership.ban', 'banned by owner', { from: m.status });
    // A ban ends the subscription at the rail at once: no further charge for someone who may not come back.
    await stopRenewalsIn(tx, m.accountId, group.id, actorLabel(input.actor), 'member banned by owner', `ban:${now}`, now, { immediately: true });
    return {
      membership: { ...m, status: 'banned' },
      jobs:
        next.remove || m.status === 'expired' || m.status === 'revoked'
          ? [removeJob({ membershipId: m.id, reason: 'banned', expectStatus: 'banned' }, now)]
          : [],
    };
  });
}

/** Lifts a ban. Paid time left: back in, with an invite. Otherwise free to buy again. */
export async function unbanMember(deps: AppDeps, input: MemberTarget & { actor: Actor; reason?: string }): Promise<Membership> {
  return commit(deps, async (tx, now) => {
    const { m } = await lockTarget(tx, input.actor, input);
    if (m.status !== 'banned') throw conflict(`this member is ${m.status}, not banned`);
    const next = applyMembershipEvent(m, { type: 'unban', now });
    await moveMember(tx, now, input, m, next.status, 'membership.unban', 'unbanned by owner', { to: next.status });
    return { membership: { ...m, status: next.status }, jobs: next.invite ? [inviteJob({ membershipId: m.id, expiresAt: m.expiresAt }, `unban:${now}`)] : [] };
  });
}

/** An order held for review is approved: it is paid and the plan is granted as for any payment. */
export async function approveOrder(deps: AppDeps, input: { actor: Actor; orderId: string; reason?: string }): Promise<Order> {
  const now = deps.clock.now();
  const order = await deps.store.transaction(async (tx) => {
    const o = await tx.orders.get(input.orderId);
    if (!o) throw notFound(`no order with id ${input.orderId}`);
    const plan = await tx.plans.get(o.planId);
    if (!plan) throw notFound(`order ${o.id} names a missing plan`);
    for (const id of plan.groupIds) {
      const g = await tx.groups.get(id);
      if (g) await assertOwnerOf(tx, input.actor, g);
    }
    if (o.status !== 'review') throw conflict(`order ${o.id} is ${o.status}, not waiting for review`);
    for (const id of plan.groupIds) {
      if ((await tx.memberships.getForUpdate(o.accountId, id))?.status === 'banned')
        throw conflict('the buyer is banned: unban them first, or refund the order');
    }
    if (!(await tx.orders.transition(o.id, orderSourceStatuses('approve'), 'paid', {}, now))) throw conflict(`order ${o.id} changed meanwhile; try again`);
    await grantOrder(tx, o, plan, Math.min(o.paidAt ?? now, now), actorLabel(input.actor), now, gatewayConfirmsWithInvite(deps));
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'order.approve',
      subjectType: 'order',
      subjectId: o.id,
      reason: reasonOf(input.reason, `approved after review (${o.reviewReason ?? 'no reason recorded'})`),
      detail: null,
    });
    return { ...o, status: 'paid' as const };
  });
  deps.onJobsEnqueued?.();
  return order;
}
