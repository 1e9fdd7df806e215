// Referral rewards, one level only (issue 16 part 3; seed 004 warns against multi-level chains). We reward
// days, never cash. The rules:
//   - Every person has a personal code (newReferralCode in domain/ids.ts says why 8 characters are enough),
//     made the first time they ask (`/invite-friends`, 邀请好友). Telegram shares it as a deep link
//     `t.me/<bot>?start=ref-<code>`; WeChat (no deep links) as a code to type: `邀请码 <code>`.
//   - The referred person's account records referred_by once: the first referral wins, and only before their
//     first paid order. Refused, changing nothing: an unknown code, the code of someone banned (from any
//     group), one's own code, a code that would close a cycle (A invited B, B's code for A), a second referral.
//   - When the referred person's first paid order in a group has passed that group's refund window (0 h: at
//     once, that is at the next scheduler tick), the sweep below books the referrer the group's
//     `referralRewardDays` (REFERRAL_REWARD_DAYS unless the group sets its own; 0: off) as a `comp` period of
//     their membership of that group, once per referred person and group, and tells them (en/zh-CN).
//   - Nothing is booked (a `skipped` row records why) when the referred person was an existing member of that
//     group (a membership, a trial or comp period, or the first paid order from before the referral), for a
//     self-referral or a cycle, or when the referrer is not a member of that group. A real owner rewards the
//     members who bring members: only an active (or grace) membership gets the days. A referrer who is not a
//     member there (never was, lapsed, removed, banned) gets nothing for that group — granting from now would
//     hand out free access to people who do not pay, which is not what "invite a friend" is for.
//   - A refund of the referred order before the reward is booked cancels it (`canceled`); one that is
//     pending or an order held for review waits. After booking, a full refund claws the reward back only as far
//     as it is still unused: the same arithmetic as a refund (withdrawPeriod in refunds.ts), days already used
//     stay used.
//   - Exactly once: the unique (referrer, referred, group) of referral_rewards, inserted before the days are
//     granted, in the same transaction; several instances and repeated ticks race on that row only.
//   - Referrals recorded before migration 0021 (sequential `ref-<account id>` links, no referred_at) are never
//     rewarded: that would hand out a year of rewards at once on upgrade.
import { conflict } from '../domain/errors.ts';
import { newReferralCode, REFERRAL_ALPHABET, REFERRAL_CODE_LENGTH } from '../domain/ids.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { DAY_MS, HOUR_MS, toIso } from '../domain/time.ts';
import { countOf } from '../domain/text.ts';
import { type Actor, groupScope, notAllowed, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { inviteJob, notifyJob } from './job-kinds.ts';
import type { Account, Group } from './model.ts';
import type { NewJob, ReferralCounts, Repos, Store, TopReferrer } from './ports.ts';
import { withdrawPeriod } from './refunds.ts';

export const DEFAULT_REFERRAL_REWARD_DAYS = 7;
export const MAX_REFERRAL_REWARD_DAYS = 365;
/** Referrals decided per sweep; the rest wait for the next tick. */
const SWEEP_BATCH = 100;
/** How far up a chain of referrals a cycle is looked for (one level is rewarded; chains are short). */
const MAX_CHAIN = 100;

/** The days a referral earns in this group: its own setting, else REFERRAL_REWARD_DAYS (7). */
export const rewardDaysOf = (deps: Pick<AppDeps, 'settings'>, group: Group): number =>
  group.referralRewardDays ?? deps.settings.referralRewardDays ?? DEFAULT_REFERRAL_REWARD_DAYS;

const CODE_RE = new RegExp(`^[${REFERRAL_ALPHABET}]{${REFERRAL_CODE_LENGTH}}$`);

/** A code as typed (any case, full-width, spaces, a `ref-` prefix) → the stored form, or null when it cannot be one. */
export function normalizeReferralCode(text: string): string | null {
  const s = text.normalize('NFKC').replace(/\s+/g, '').toUpperCase().replace(/^REF-/, '');
  return CODE_RE.test(s) ? s : null;
}

/** The person's own code, made the first time they ask (a concurrent first ask gets the same one). */
export async function referralCodeFor(deps: AppDeps, account: Account): Promise<string> {
  if (account.referralCode) return account.referralCode;
  for (let i = 0; i < 5; i++) {
    const code = newReferralCode();
    if (await deps.store.referrals.setCode(account.id, code)) return code;
    const fresh = await deps.store.accounts.get(account.id);
    if (fresh?.referralCode) return fresh.referralCode;
  }
  throw conflict('could not make an invite code; please try again');
}

export type ReferralRefusal = 'invalid' | 'unknown' | 'self' | 'already' | 'existing' | 'cycle';
export type ReferralResult = { kind: 'recorded'; referrer: Account } | { kind: 'refused'; refusal: ReferralRefusal };

/**
 * Records that `account` was referred by the owner of `codeText`, in one transaction with its audit line.
 * Every refusal changes nothing. A banned person's code is refused as `unknown`: the newcomer learns nothing
 * about who is banned.
 */
export async function recordReferral(deps: AppDeps, account: Account, codeText: string): Promise<ReferralResult> {
  const code = normalizeReferralCode(codeText);
  if (code === null) return { kind: 'refused', refusal: 'invalid' };
  const now = deps.clock.now();
  return deps.store.transaction(async (tx): Promise<ReferralResult> => {
    const refused = (refusal: ReferralRefusal): ReferralResult => ({ kind: 'refused', refusal });
    const referrer = await tx.referrals.findByCode(code);
    if (!referrer || (await tx.referrals.isBannedAnywhere(referrer.id))) return refused('unknown');
    if (referrer.id === account.id) return refused('self');
    const fresh = await tx.accounts.get(account.id);
    if (!fresh) return refused('unknown');
    if (fresh.referredBy !== null) return refused('already');
    if (await tx.referrals.hasPaidOrder(fresh.id)) return refused('existing');
    // A cycle: this person is up the referrer's own chain (they referred the referrer, or someone who did).
    let up = referrer;
    for (let i = 0; i < MAX_CHAIN && up.referredBy !== null; i++) {
      if (up.referredBy === fresh.id) return refused('cycle');
      const next = await tx.accounts.get(up.referredBy);
      if (!next) break;
      up = next;
    }
    if (!(await tx.referrals.setReferrer(fresh.id, referrer.id, now))) return refused('already');
    await tx.audit.insert({
      at: now,
      actor: `account:${fresh.id}`,
      action: 'referral.recorded',
      subjectType: 'account',
      subjectId: String(fresh.id),
      reason: `referred by account ${referrer.id} (code ${code})`,
      detail: { referrerId: referrer.id },
    });
    return { kind: 'recorded', referrer };
  });
}

export type RewardDecision = 'booked' | 'canceled' | 'skipped' | 'waiting' | 'duplicate';

/**
 * Books (or cancels, or skips) the rewards whose referred order has passed its group's refund window. Safe on
 * several instances at once and on every tick: each decision is one conditional insert of its unique row.
 */
export async function sweepReferralRewards(deps: AppDeps, batch = SWEEP_BATCH): Promise<Record<RewardDecision, number>> {
  const now = deps.clock.now();
  const out: Record<RewardDecision, number> = { booked: 0, canceled: 0, skipped: 0, waiting: 0, duplicate: 0 };
  // Pages on past the rows that stay due without a decision (an order held for review or a refund on its way
  // writes nothing), so a full page of those never holds up the rewards behind them.
  let after: { referredId: number; groupId: number } | undefined;
  for (;;) {
    const due = await deps.store.referrals.due(now, batch, after);
    for (const d of due) out[await deps.store.transaction((tx) => decideReward(deps, tx, d, now))]++;
    if (due.length < batch) break;
    after = due[due.length - 1]!;
  }
  if (out.booked > 0) deps.onJobsEnqueued?.();
  return out;
}

async function decideReward(deps: AppDeps, tx: Repos, d: { referredId: number; referrerId: number; groupId: number }, now: number): Promise<RewardDecision> {
  const referred = await tx.accounts.get(d.referredId);
  const group = await tx.groups.get(d.groupId);
  const m = await tx.memberships.getForUpdate(d.referredId, d.groupId);
  if (!referred || !group || !m) return 'waiting';
  // The membership's periods in the order they were written: the first paid one is the referred order's.
  const periods = (await tx.periods.listForMembership(m.id)).sort((a, b) => a.id - b.id);
  const firstPaid = periods.find((p) => p.kind === 'paid' && p.orderId !== null);
  if (!firstPaid) return 'waiting';
  const order = await tx.orders.get(firstPaid.orderId!);
  if (!order) return 'waiting';
  const row = { referrerId: d.referrerId, referredId: d.referredId, groupId: d.groupId, orderId: order.id };
  const close = async (status: 'skipped' | 'canceled', reason: string): Promise<RewardDecision> =>
    (await tx.referrals.insertReward({ ...row, status, reason, days: 0 }, now)) === null ? 'duplicate' : status;

  const referrer = await tx.accounts.get(d.referrerId);
  const referredAt = referred.referredAt;
  if (!referrer) return close('skipped', 'unknown_referrer');
  if (referrer.id === referred.id) return close('skipped', 'self');
  if (referrer.referredBy === referred.id) return close('skipped', 'cycle');
  if (referredAt === null) return close('skipped', 'before_referral_rewards');
  // An existing member of this group: a membership, an earlier period (a trial, a comp) or the first paid order
  // from before the referral was recorded. A period that began after it (a free trial the friend started once
  // referred) makes nobody an existing member: the trial is never the paid period, the order paid after it is.
  const earlier = periods.filter((p) => p.id < firstPaid.id);
  if (m.createdAt < referredAt || order.createdAt < referredAt || earlier.some((p) => p.startsAt < referredAt)) return close('skipped', 'existing_member');
  // Refunded before the reward was booked: no reward for this person in this group, ever.
  if (firstPaid.revokedAt !== null || order.status === 'refunded') return close('canceled', 'refunded_before_booking');
  // A refund on its way, or the order held for review: decided when that is settled.
  if (order.status !== 'paid') return 'waiting';
  if (firstPaid.startsAt + group.refundWindowHours * HOUR_MS > now) return 'waiting';
  const days = rewardDaysOf(deps, group);
  if (days === 0) return close('skipped', 'off');
  const theirs = await tx.memberships.getForUpdate(referrer.id, group.id);
  if (theirs?.status === 'banned') return close('skipped', 'referrer_banned');
  if (!theirs || (theirs.status !== 'active' && theirs.status !== 'grace')) return close('skipped', 'referrer_not_member');

  // The exactly-once guard first: only the call that wrote the row grants the days.
  const id = await tx.referrals.insertReward({ ...row, status: 'booked', reason: null, days }, now);
  if (id === null) return 'duplicate';
  const next = applyMembershipEvent(theirs, { type: 'extend', days, now });
  await tx.memberships.update(theirs.id, { status: next.status, expiresAt: next.expiresAt, graceUntil: null }, now);
  const periodId = await tx.periods.insert(
    { membershipId: theirs.id, groupId: group.id, orderId: null, kind: 'comp', startsAt: Math.max(theirs.expiresAt, now), endsAt: next.expiresAt, days },
    now,
  );
  await tx.referrals.updateReward(id, { periodId }, now);
  const name = referred.displayName ?? referred.platformUserId;
  await tx.audit.insert({
    at: now,
    actor: 'system',
    action: 'referral.reward',
    subjectType: 'membership',
    subjectId: String(theirs.id),
    reason: `referral reward: ${countOf(days, 'day', 'days')} for referring account ${referred.id} (order ${order.id}), now until ${toIso(next.expiresAt)}`,
    detail: { rewardId: id, referredId: referred.id, orderId: order.id, groupId: group.id, days, periodId },
  });
  const jobs: NewJob[] = [
    notifyJob(
      { accountId: referrer.id, message: { key: 'referral.rewarded', params: { name, days, group: group.title, expiresAt: next.expiresAt } } },
      `referral:${id}`,
    ),
  ];
  if (next.invite) jobs.push(inviteJob({ membershipId: theirs.id, expiresAt: next.expiresAt }));
  await tx.jobs.enqueue(jobs, now);
  return 'booked';
}

/**
 * Inside a full refund's transaction (refunds.ts confirmRefund): every reward booked for this order gives back
 * its unused part. A reward already used up stays (it was used), with the refund noted on its row.
 */
export async function clawBackReferralRewards(tx: Repos, orderId: string, actor: string, now: number): Promise<NewJob[]> {
  const jobs: NewJob[] = [];
  for (const r of await tx.referrals.bookedForOrder(orderId)) {
    const m = await tx.memberships.getForUpdate(r.referrerId, r.groupId);
    const period = m ? (await tx.periods.listForMembership(m.id)).find((p) => p.id === r.periodId) : undefined;
    const unused = period && period.revokedAt === null ? Math.max(0, period.endsAt - Math.max(period.startsAt, now)) : 0;
    if (!m || !period || unused === 0) {
      await tx.referrals.updateReward(r.id, { reason: 'order refunded after the reward was used' }, now);
      continue;
    }
    const w = await withdrawPeriod(tx, period, now, `referral-clawback:${r.id}`);
    const taken = w?.unused ?? 0;
    await tx.referrals.updateReward(r.id, { status: 'clawed_back', clawedBackMs: taken, reason: 'referred order refunded' }, now);
    if (w?.job) jobs.push(w.job);
    const group = await tx.groups.get(r.groupId);
    const referred = await tx.accounts.get(r.referredId);
    await tx.audit.insert({
      at: now,
      actor,
      action: 'referral.clawback',
      subjectType: 'membership',
      subjectId: String(m.id),
      reason: `referral reward ${r.id} clawed back: order ${orderId} refunded, ${countOf(Math.round(taken / HOUR_MS), 'unused hour', 'unused hours')} taken back${w?.nothingLeft ? ', nothing left: access revoked' : ''}`,
      detail: { rewardId: r.id, orderId, removedMs: taken },
    });
    jobs.push(
      notifyJob(
        {
          accountId: r.referrerId,
          message: {
            key: 'referral.clawed_back',
            params: { name: referred?.displayName ?? referred?.platformUserId ?? '?', group: group?.title ?? '?', days: Math.ceil(taken / DAY_MS) },
          },
        },
        `referral-clawback:${r.id}`,
      ),
    );
  }
  return jobs;
}

/** A member's own figures (`/referrals`): their code, people they referred, rewards booked and the days those gave. */
export async function memberReferrals(deps: AppDeps, account: Account): Promise<{ referred: number; rewarded: number; daysEarned: number }> {
  return deps.store.referrals.summary(account.id);
}

/** Top referrers of the actor's groups (an owner's `/referrals`, GET /api/referrals). */
export async function topReferrers(deps: AppDeps, actor: Actor, limit = 10): Promise<TopReferrer[]> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  return deps.store.referrals.top(scopeFilter(scope), limit);
}

/** The one definition of the referral counts, for GET /api/stats (an owner's groups) and /metrics (every group). */
export const referralFigures = (store: Store, groups?: number[]): Promise<ReferralCounts> => store.referrals.stats(groups);
