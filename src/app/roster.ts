// The group-roster rules, once for every platform: who may stay in a group without being an intruder,
// the whitelist, dry-run reports and the intruder policy (`report` → a dry run the owner has seen →
// `remove`, or `ignore`). The adapters report facts (who is in a chat, who joined) and carry out removals;
// they never decide who may stay.
import { createHash } from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import { DAY_MS } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf, ownsGroup } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { Group, IntruderPolicy } from './model.ts';
import type { ReportedIntruder, Repos, RosterReport, WhitelistEntry } from './ports.ts';

/** A dry run the owner asked for confirms `remove` for this long. */
export const DRY_RUN_VALID_MS = DAY_MS;

/** Someone in a chat, as the platform reports them. */
export interface RosterPerson {
  userId: string;
  name: string | null;
  /** A second handle the platform offers (WeChat's WeChat ID): a whitelist entry matches it too. */
  handle?: string | null;
  /**
   * The person's standing in the chat as the platform tells it: the bot itself or another bot, an admin
   * (Telegram's administrators and creator, WeChat's room owner), or a plain member.
   */
  role?: 'self' | 'bot' | 'admin' | 'member';
  /** The account, when the adapter found it better than by (platform, userId) (WeChat after a re-login). */
  accountId?: number | null;
}

/** Why someone may stay although the policy would otherwise act on them. */
export type StayReason = 'bot' | 'admin' | 'owner' | 'whitelisted' | 'paid';

/**
 * Who may be in a group without being an intruder: bots (the bot itself included), the chat's admins,
 * any owner of this group (its binder, an operator, an owner whose claim names it), whitelisted people (by
 * user id or handle) and anyone whose membership gives access (active or in grace). Null: an intruder.
 */
export async function mayStay(tx: Repos, group: Group, person: RosterPerson, whitelist?: WhitelistEntry[]): Promise<StayReason | null> {
  if (person.role === 'self' || person.role === 'bot') return 'bot';
  if (person.role === 'admin') return 'admin';
  const account =
    person.accountId !== undefined && person.accountId !== null
      ? await tx.accounts.get(person.accountId)
      : await tx.accounts.find(group.platform, person.userId);
  if (account && (account.id === group.ownerAccountId || (account.isOwner && (await ownsGroup(tx, account.id, group.id))))) return 'owner';
  const wl = whitelist ?? (await tx.roster.listWhitelist(group.id));
  const handle = person.handle ?? null;
  if (wl.some((w) => w.userId === person.userId || (handle !== null && w.handle === handle))) return 'whitelisted';
  if (!account) return null;
  const m = (await tx.memberships.list({ accountId: account.id, groupId: group.id }))[0];
  return m?.status === 'active' || m?.status === 'grace' ? 'paid' : null;
}

/** The same list always gives the same fingerprint, whatever the order. */
export const fingerprintOf = (intruders: readonly { userId: string }[]) =>
  createHash('sha256')
    .update(
      intruders
        .map((i) => i.userId)
        .sort()
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 32);

export const asReported = (p: RosterPerson): ReportedIntruder => ({ userId: p.userId, name: (p.name ?? p.userId).slice(0, 60), handle: p.handle ?? null });

/** A group the actor owns (or an admin acts on); a clear error otherwise. */
export async function ownedGroup(deps: AppDeps, actor: Actor, groupId: number): Promise<Group> {
  const group = await deps.store.groups.get(groupId);
  if (!group) throw new DomainError('not_found', `no group with id ${groupId}`);
  await assertOwnerOf(deps.store, actor, group);
  return group;
}

/** A dry run an owner asked for: the report they see, numbered from 1. Changes nobody's standing. */
export async function recordDryRun(deps: AppDeps, actor: Actor, group: Group, intruders: ReportedIntruder[]): Promise<RosterReport> {
  const requestedBy = actor.kind === 'account' ? actor.accountId : null;
  return deps.store.roster.insertReport({ groupId: group.id, requestedBy, intruders, fingerprint: fingerprintOf(intruders) }, deps.clock.now());
}

/** The dry run this owner asked for within DRY_RUN_VALID_MS, if any: the only thing that lets them set `remove`. */
export async function recentDryRun(deps: AppDeps, actor: Actor, group: Group): Promise<RosterReport | null> {
  if (actor.kind !== 'account') return null;
  const r = await deps.store.roster.latestReport(group.id, { requestedBy: actor.accountId });
  return r && r.createdAt >= deps.clock.now() - DRY_RUN_VALID_MS ? r : null;
}

/**
 * Sets the intruder policy. `remove` only after the owner has seen a dry run of this group within
 * DRY_RUN_VALID_MS (returns `needs_dry_run` and changes nothing otherwise); the confirmed report is returned
 * so the caller can act on the people the owner saw.
 */
export async function setIntruderPolicy(
  deps: AppDeps,
  actor: Actor,
  group: Group,
  policy: IntruderPolicy,
): Promise<{ set: true; report: RosterReport | null } | { set: false; reason: 'needs_dry_run' }> {
  await assertOwnerOf(deps.store, actor, group);
  const report = policy === 'remove' ? await recentDryRun(deps, actor, group) : null;
  if (policy === 'remove' && !report) return { set: false, reason: 'needs_dry_run' };
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    await tx.roster.setIntruderPolicy(group.id, policy);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'group.intruder_policy',
      subjectType: 'group',
      subjectId: String(group.id),
      reason: report ? `intruder policy set to ${policy} after dry-run report #${report.id}` : `intruder policy set to ${policy}`,
      detail: { from: group.intruderPolicy, to: policy, reportId: report?.id ?? null },
    });
  });
  return { set: true, report };
}

/** Lets someone stay without a membership. False when they already were whitelisted (nothing is written). */
export async function whitelist(
  deps: AppDeps,
  actor: Actor,
  group: Group,
  person: { userId: string; handle?: string | null; name?: string | null },
  how?: string,
): Promise<boolean> {
  await assertOwnerOf(deps.store, actor, group);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const added = await tx.roster.addToWhitelist(
      {
        groupId: group.id,
        userId: person.userId,
        handle: person.handle ?? null,
        name: person.name ?? null,
        addedBy: actor.kind === 'account' ? actor.accountId : null,
      },
      now,
    );
    if (added)
      await tx.audit.insert({
        at: now,
        actor: actorLabel(actor),
        action: 'group.whitelist_add',
        subjectType: 'group',
        subjectId: String(group.id),
        reason: `${group.platform} user ${person.userId} may stay without a membership${how ? ` (${how})` : ''}`,
        detail: { userId: person.userId },
      });
    return added;
  });
}

/** False when the person was not whitelisted (nothing is written). */
export async function unwhitelist(deps: AppDeps, actor: Actor, group: Group, userId: string): Promise<boolean> {
  await assertOwnerOf(deps.store, actor, group);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const removed = await tx.roster.removeFromWhitelist(group.id, userId);
    if (removed)
      await tx.audit.insert({
        at: now,
        actor: actorLabel(actor),
        action: 'group.whitelist_remove',
        subjectType: 'group',
        subjectId: String(group.id),
        reason: `${group.platform} user ${userId} no longer whitelisted`,
        detail: { userId },
      });
    return removed;
  });
}

export async function listWhitelist(deps: AppDeps, actor: Actor, group: Group): Promise<WhitelistEntry[]> {
  await assertOwnerOf(deps.store, actor, group);
  return deps.store.roster.listWhitelist(group.id);
}
