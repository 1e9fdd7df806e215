// The group-roster rules, once for every platform: who may stay in a group without being an intruder,
// the whitelist, dry-run reports and the intruder policy (`report` → a dry run the owner has seen →
// `remove`, or `ignore`). The adapters report facts (who is in a chat, who joined) and carry out removals;
// they never decide who may stay.
import { groupAudit } from './audit-entries.ts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError, PlatformNotRunningError, ProviderRejectedError } from '../domain/errors.ts';
import { DAY_MS } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf, ownsGroup } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { JobEffects } from './job-handlers.ts';
import { alertOwnersJob, inviteJob, notifyJob } from './job-kinds.ts';
import { defineJobKind } from './job-registry.ts';
import type { Account, Group, IntruderPolicy, Job } from './model.ts';
import type { ChatGateway, MembershipView, NewJob, ReportedIntruder, Repos, RosterPerson, RosterReport, WhitelistEntry } from './ports.ts';

export type { RosterPerson };

/** A dry run the owner asked for confirms `remove` for this long. */
export const DRY_RUN_VALID_MS = DAY_MS;

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
  return m && hasAccess(m.status) ? 'paid' : null;
}

/** A roster snapshot sorted by the rules. */
export interface RosterClassification {
  /** In the chat without a right to stay. */
  intruders: RosterPerson[];
  /** In the chat and allowed to be, with the reason (`paid`: paid and present; `whitelisted`…). */
  staying: Array<{ person: RosterPerson; reason: StayReason }>;
  /** Memberships of this group that give access now (active or grace). */
  paid: MembershipView[];
  /** Of those, the ones whose person is not in the chat (paid and absent). */
  paidAbsent: MembershipView[];
}

/** Sorts who is in a chat (an adapter's snapshot) into intruders, people who may stay and why, and paid members not in it. */
export async function classifyRoster(tx: Repos, group: Group, people: readonly RosterPerson[]): Promise<RosterClassification> {
  const whitelist = await tx.roster.listWhitelist(group.id);
  const paid = (await tx.memberships.list({ groupId: group.id })).filter((m) => m.platform === group.platform && hasAccess(m.status));
  const present = new Set<number>();
  const out: RosterClassification = { intruders: [], staying: [], paid, paidAbsent: [] };
  for (const p of people) {
    const accountId = p.accountId ?? (await tx.accounts.find(group.platform, p.userId))?.id ?? null;
    if (accountId !== null) present.add(accountId);
    const reason = await mayStay(tx, group, { ...p, accountId }, whitelist);
    if (reason === null) out.intruders.push(p);
    else out.staying.push({ person: p, reason });
  }
  out.paidAbsent = paid.filter((m) => !present.has(m.accountId));
  return out;
}

/**
 * Many paid members look absent at once while as many strangers are in: the platform has most likely
 * given people new ids (a WeChat re-login). Acting on such a roster could remove paying members, the
 * worst mistake there is, so nobody is removed and the owners are told instead.
 */
export function idsLookChanged(c: RosterClassification): boolean {
  return c.paidAbsent.length >= 3 && c.paidAbsent.length * 2 >= c.paid.length && c.intruders.length >= 3;
}

const hasAccess = (status: string) => status === 'active' || status === 'grace';

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
 * Whom "Remove" on an owner's latest check would remove: the people on the owner's own dry run of the last
 * DRY_RUN_VALID_MS (the one confirmRemove acts on), less those whitelisted since. Null without such a check.
 * One answer for the page that offers the button and the request that presses it.
 */
export async function removalCandidates(
  deps: AppDeps,
  actor: Actor,
  group: Group,
): Promise<{ report: RosterReport; people: RosterReport['intruders'] } | null> {
  const report = await recentDryRun(deps, actor, group);
  if (!report) return null;
  const staying = new Set((await deps.store.roster.listWhitelist(group.id)).map((w) => w.userId));
  return { report, people: report.intruders.filter((p) => !staying.has(p.userId)) };
}

/**
 * The rule for choosing an intruder policy, for every way of setting it (`/intruders`, `group set`,
 * `PATCH /api/groups/:id`): `remove` only after this owner has seen a dry run of this group within
 * DRY_RUN_VALID_MS (an admin has no dry run of their own, so an admin cannot set it); that report is
 * returned so the caller can act on the people the owner saw.
 */
export async function intruderPolicyGate(
  deps: AppDeps,
  actor: Actor,
  group: Group,
  policy: IntruderPolicy,
): Promise<{ allowed: true; report: RosterReport | null } | { allowed: false }> {
  if (policy !== 'remove') return { allowed: true, report: null };
  const report = await recentDryRun(deps, actor, group);
  return report ? { allowed: true, report } : { allowed: false };
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
  const gate = await intruderPolicyGate(deps, actor, group, policy);
  if (!gate.allowed) return { set: false, reason: 'needs_dry_run' };
  const { report } = gate;
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    await tx.roster.setIntruderPolicy(group.id, policy);
    await tx.audit.insert(
      groupAudit(
        now,
        actorLabel(actor),
        group,
        'group.intruder_policy',
        report ? `intruder policy set to ${policy} after dry-run report #${report.id}` : `intruder policy set to ${policy}`,
        { from: group.intruderPolicy, to: policy, reportId: report?.id ?? null },
      ),
    );
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
      await tx.audit.insert(
        groupAudit(
          now,
          actorLabel(actor),
          group,
          'group.whitelist_add',
          `${group.platform} user ${person.userId} may stay without a membership${how ? ` (${how})` : ''}`,
          { userId: person.userId },
        ),
      );
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
      await tx.audit.insert(
        groupAudit(now, actorLabel(actor), group, 'group.whitelist_remove', `${group.platform} user ${userId} no longer whitelisted`, { userId }),
      );
    return removed;
  });
}

/** A person an owner names for the whitelist: `#n` on the group's latest dry-run report, or a platform user id. */
export type PersonRef = { n: number } | { userId: string };

/** The words an owner names a person with (`#3`, or a platform user id); null when they name nobody. */
export const parsePersonRef = (s: string | undefined): PersonRef | null => {
  if (!s) return null;
  const n = /^#(\d{1,4})$/.exec(s);
  if (n) return Number(n[1]) > 0 ? { n: Number(n[1]) } : null;
  return /^[\w@.:-]{1,100}$/.test(s) ? { userId: s } : null;
};

/**
 * The person behind a reference, for /whitelist, /unwhitelist and the console: `#n` is the n-th person on the
 * group's latest report (their name and handle come along; a clear error when there is no such line), a user
 * id is taken as given, with the name the whitelist already knows for it.
 */
export async function resolvePerson(deps: AppDeps, actor: Actor, group: Group, who: PersonRef): Promise<ReportedIntruder> {
  await assertOwnerOf(deps.store, actor, group);
  if ('userId' in who) {
    const listed = (await deps.store.roster.listWhitelist(group.id)).find((w) => w.userId === who.userId);
    return { userId: who.userId, name: listed?.name ?? who.userId, handle: listed?.handle ?? null };
  }
  const report = await deps.store.roster.latestReport(group.id);
  const p = report?.intruders[who.n - 1];
  if (!p) throw new DomainError('not_found', `no person #${who.n} on the latest report of group ${group.id}; send /intruders ${group.id} for a fresh one`);
  return p;
}

export async function listWhitelist(deps: AppDeps, actor: Actor, group: Group): Promise<WhitelistEntry[]> {
  await assertOwnerOf(deps.store, actor, group);
  return deps.store.roster.listWhitelist(group.id);
}

// ------------------------------------------------------------ dry run, `remove`, the removal job

function gatewayOf(deps: AppDeps, group: Group): ChatGateway {
  const g = deps.gateways.get(group.platform);
  // Transient from a job's point of view: the adapter may be configured or reconnect later.
  if (!g) throw new PlatformNotRunningError(group.platform);
  return g;
}

/**
 * A dry run: who is in the group now without a right to stay, as the platform reports the chat, recorded
 * as a report the owner sees (numbered from 1). Changes nobody's standing.
 */
export async function dryRun(deps: AppDeps, actor: Actor, group: Group): Promise<RosterReport> {
  await assertOwnerOf(deps.store, actor, group);
  const gateway = gatewayOf(deps, group);
  if (!gateway.rosterSnapshot) throw new DomainError('invalid_input', `${group.platform} cannot list who is in a chat, so there is nothing to check`);
  const { intruders } = await classifyRoster(deps.store, group, await gateway.rosterSnapshot(group.platformChatId));
  return recordDryRun(deps, actor, group, intruders.map(asReported));
}

/** One intruder removal, whichever way it was decided (an owner's `remove`, a join, the roster audit). */
export const REMOVE_INTRUDER = defineJobKind(
  'roster_remove_intruder',
  z.object({ groupId: z.number().int(), userId: z.string(), name: z.string().optional() }),
);
export type RemoveIntruderPayload = z.output<typeof REMOVE_INTRUDER.schema>;

/** The kinds the adapters queued before 0009-roster; jobs still queued under them run the same handler. */
export const LEGACY_TELEGRAM_INTRUDER = defineJobKind('telegram_intruder', z.object({ groupId: z.number().int(), userId: z.string(), joinedAt: z.number() }));
export const LEGACY_WECHAT_REMOVE_INTRUDER = defineJobKind(
  'wechat_remove_intruder',
  z.object({ groupId: z.number().int(), contactId: z.string(), reportId: z.number().int().optional() }),
);

/** `occasion` tells apart removals of the same person (a join time, an hour, a report). */
export const removeIntruderJob = (groupId: number, person: { userId: string; name?: string | null }, occasion: string): NewJob =>
  REMOVE_INTRUDER.job(
    { groupId, userId: person.userId, ...(person.name ? { name: person.name } : {}) },
    { lane: 'removal', about: { groupId }, dedupeKey: `roster-remove:${groupId}:${person.userId}:${occasion}` },
  );

/**
 * `/intruders <group> remove`: sets `remove` (only after this owner's own dry run within 24 h) and queues
 * the removal of the people on that dry run; each removal checks again when it runs.
 */
export async function confirmRemove(
  deps: AppDeps,
  actor: Actor,
  group: Group,
): Promise<{ set: true; report: RosterReport; queued: number } | { set: false; reason: 'needs_dry_run' }> {
  const r = await setIntruderPolicy(deps, actor, group, 'remove');
  if (!r.set || !r.report) return { set: false, reason: 'needs_dry_run' };
  const report = r.report;
  const jobs = report.intruders.map((i) => removeIntruderJob(group.id, i, `report-${report.id}`));
  if (jobs.length > 0) {
    await deps.store.jobs.enqueue(jobs, deps.clock.now());
    deps.onJobsEnqueued?.();
  }
  return { set: true, report, queued: jobs.length };
}

/** The group's own owner when it has one (each removal told, never coalesced), else every owner of it. */
const tellOwner = (group: Group, message: { key: string; params: Record<string, string | number> }, key: string): NewJob =>
  group.ownerAccountId !== null ? notifyJob({ accountId: group.ownerAccountId, message }, key) : alertOwnersJob({ groupIds: [group.id], message }, key);

/**
 * The removal job: re-checks everything when it runs (the policy, the person still in, still no right to
 * stay) and asks again right before each step through `stillDue`; the owner is told when it is done, or
 * why the platform refused.
 */
export async function removeIntruder(deps: AppDeps, p: RemoveIntruderPayload, job: Job): Promise<JobEffects | void> {
  const { store, clock } = deps;
  const group = await store.groups.get(p.groupId);
  if (!group || group.intruderPolicy !== 'remove') return;
  const gateway = gatewayOf(deps, group);
  const status = await gateway.memberStatus(group.platformChatId, p.userId);
  if (status === 'absent' || status === 'banned') return; // gone already
  const person: RosterPerson = { userId: p.userId, name: p.name ?? null, role: status === 'admin' ? 'admin' : 'member' };
  const stillDue = async () => {
    const g = await store.groups.get(p.groupId);
    return g?.intruderPolicy === 'remove' && (await mayStay(store, g, person)) === null;
  };
  if (!(await stillDue())) return;
  const name = p.name ?? p.userId;
  let result;
  try {
    result = await gateway.remove(group.platformChatId, p.userId, { ban: false, stillDue });
  } catch (err) {
    if (!(err instanceof ProviderRejectedError)) throw err;
    // An admin, or the bot lacks rights: nothing a retry fixes. Tell this group's owners.
    const message = { key: 'roster.intruder_remove_failed', params: { name, userId: p.userId, group: group.title, reason: err.message } };
    return { jobs: [tellOwner(group, message, `roster-remove-failed:${job.id}`)] };
  }
  if (result !== 'removed') return;
  const message = { key: 'roster.intruder_removed', params: { name, userId: p.userId, group: group.title } };
  return {
    jobs: [tellOwner(group, message, `roster-removed:${job.id}`)],
    audit: [
      {
        at: clock.now(),
        actor: 'system',
        action: 'group.intruder_removed',
        subjectType: 'group',
        subjectId: String(group.id),
        reason: `removed ${group.platform} user ${p.userId} from ${group.title}: in the group without a membership (policy remove)`,
        detail: { userId: p.userId },
      },
    ],
  };
}

// ------------------------------------------------------------ re-invites

/** A member may ask to be added again at most once per this window (the job's dedupe key). */
export const REINVITE_WINDOW_MS = 10 * 60_000;

/**
 * A member asks to be added again (after leaving, a timeout, or becoming a friend again): an invite job for
 * each of their active memberships on their platform whose chat they are not in. Returns the titles queued
 * and those they are already in.
 */
export async function reinvite(deps: AppDeps, account: Account): Promise<{ queued: string[]; alreadyIn: string[] }> {
  const { store, clock } = deps;
  const now = clock.now();
  const queued: string[] = [];
  const alreadyIn: string[] = [];
  const jobs: NewJob[] = [];
  for (const m of await store.memberships.list({ accountId: account.id, status: 'active' })) {
    const group = await store.groups.get(m.groupId);
    if (!group || group.platform !== account.platform) continue;
    const gateway = deps.gateways.get(group.platform);
    const status = gateway ? await gateway.memberStatus(group.platformChatId, account.platformUserId) : 'unknown';
    if (status === 'member' || status === 'admin') {
      alreadyIn.push(group.title);
      continue;
    }
    jobs.push(inviteJob({ membershipId: m.id, expiresAt: m.expiresAt }, `reinvite:${Math.floor(now / REINVITE_WINDOW_MS)}`));
    queued.push(group.title);
  }
  if (jobs.length > 0) {
    await store.jobs.enqueue(jobs, now);
    deps.onJobsEnqueued?.();
  }
  return { queued, alreadyIn };
}
