// Free trials (issue 16 part 1). A plan with `trialDays` > 0 offers "start free trial" on its menu: the person gets
// a `trial` period of that many days in every group of the plan, without paying — never revenue (no order, no
// ledger row) and never touched by a refund (refunds take back only their own order's `paid` periods). Once per
// person per plan, ever (the unique trials(account_id, plan_id) is the guard, so two taps racing grant one), never
// for someone banned, and not for someone who has access already (they would only gain free days). Paying during a
// trial is an ordinary renewal: grantOrder extends an active membership from its expiry, i.e. the trial's end.
import { conflict, forbidden, invalid, notFound } from '../domain/errors.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { addDays, toIso } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { inviteJob } from './job-kinds.ts';
import { blacklistMatches } from './review.ts';
import type { Account, Plan, Trial } from './model.ts';

/** A trial the person had already: when it started (the refusal says so). */
export class TrialUsed extends Error {
  constructor(readonly trial: Trial) {
    super(`you used the free trial of this plan on ${toIso(trial.startedAt)}`);
    this.name = 'TrialUsed';
  }
}

/** A plan with a group in `review` or `door` join mode offers no trial: a trial would skip the check on who joins. */
export class TrialNeedsReview extends Error {
  constructor(
    readonly plan: Plan,
    readonly groupTitle: string,
  ) {
    super(`plan "${plan.name}" has no free trial: its group "${groupTitle}" checks who joins`);
    this.name = 'TrialNeedsReview';
  }
}

/** The longest trial a plan may offer. */
export const MAX_TRIAL_DAYS = 90;

/** Checks a plan's trial length (`plan add --trial-days`, admin API `trialDays`): 0 (none) to MAX_TRIAL_DAYS. */
export function checkTrialDays(input: unknown): number {
  if (input === undefined || input === null) return 0;
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > MAX_TRIAL_DAYS)
    throw invalid(`trial days must be a whole number from 0 to ${MAX_TRIAL_DAYS} (got ${JSON.stringify(input)})`);
  return input;
}

/**
 * Starts the person's free trial of a plan in one transaction: the trial row (the once-only guard), a `trial`
 * period and the membership in each group, the invites and an audit entry (the caller answers the person). Throws `invalid` for a plan
 * without trials, TrialNeedsReview for a plan whose group reviews who joins, `forbidden` for someone banned or blacklisted, `conflict` for someone with access already, TrialUsed for a
 * second trial.
 */
export async function startTrial(deps: AppDeps, account: Account, planId: number): Promise<{ trial: Trial; plan: Plan }> {
  const { store, clock } = deps;
  const now = clock.now();
  const plan = Number.isSafeInteger(planId) ? await store.plans.get(planId) : null;
  if (!plan || !plan.active) throw notFound(`no plan on sale with id ${String(planId)}`);
  if (plan.trialDays <= 0) throw invalid(`plan "${plan.name}" has no free trial`);
  const started = await store.transaction(async (tx) => {
    const groups = [];
    for (const id of plan.groupIds) {
      const g = await tx.groups.get(id);
      if (!g) continue;
      if (g.platform !== account.platform) throw invalid(`plan "${plan.name}" opens ${g.platform} groups, not ${account.platform}`);
      groups.push(g);
    }
    // A group that decides who joins (`review`: an owner approves each person; `door`: the join request is
    // checked) would be bypassed by a trial, which invites at once with no application. The simplest safe rule:
    // no trial for such a plan (issue 16 review); the person may still buy it and go through the review.
    const gated = groups.find((g) => g.joinMode === 'review' || g.joinMode === 'door');
    if (gated) throw new TrialNeedsReview(plan, gated.title);
    // The blacklist (this plan's groups' entries and the every-group ones) refuses free access as it refuses a
    // join review; told like a ban, without saying which entry matched.
    const entries = await tx.review.listBlacklist({ groupIds: groups.map((g) => g.id), global: true });
    if (entries.some((e) => blacklistMatches(e, account))) throw forbidden('you cannot start a trial of this plan');
    // Banned first (before the once-only guard takes the slot), then access already, then the guard.
    const memberships = await Promise.all(groups.map((g) => tx.memberships.getForUpdate(account.id, g.id)));
    if (memberships.some((m) => m?.status === 'banned')) throw forbidden('you cannot start a trial of this plan');
    if (memberships.some((m) => m?.status === 'active' || m?.status === 'grace' || m?.status === 'awaiting_review'))
      throw conflict(`you have access to a group of "${plan.name}" already`);
    const trial = await tx.trials.insertIfAbsent({ accountId: account.id, planId: plan.id, startedAt: now, endsAt: addDays(now, plan.trialDays) });
    if (!trial) throw new TrialUsed((await tx.trials.find(account.id, plan.id))!);
    const jobs = [];
    for (const g of groups) {
      const step = applyMembershipEvent(null, { type: 'period', days: plan.trialDays, startAt: now });
      const created = await tx.memberships.insertIfAbsent({ accountId: account.id, groupId: g.id, status: step.status, expiresAt: step.expiresAt }, now);
      const m = created ?? (await tx.memberships.getForUpdate(account.id, g.id))!;
      if (!created) await tx.memberships.update(m.id, { status: step.status, expiresAt: step.expiresAt, graceUntil: null }, now);
      await tx.periods.insertIfAbsent(
        { membershipId: m.id, groupId: g.id, orderId: null, kind: 'trial', startsAt: now, endsAt: step.expiresAt, days: plan.trialDays },
        now,
      );
      jobs.push(inviteJob({ membershipId: m.id, expiresAt: step.expiresAt, ...(created ? { first: true } : {}) }));
    }
    await tx.jobs.enqueue(jobs, now);
    await tx.audit.insert({
      at: now,
      actor: `account:${account.id}`,
      action: 'trial.start',
      subjectType: 'trial',
      subjectId: String(trial.id),
      reason: `free trial of plan ${plan.id} "${plan.name}": ${plan.trialDays} days until ${toIso(trial.endsAt)}`,
      detail: { planId: plan.id, groupIds: groups.map((g) => g.id), endsAt: trial.endsAt },
    });
    return { trial, plan };
  });
  deps.onJobsEnqueued?.();
  return started;
}

/** The trial whose end is this membership's expiry (a reminder about it carries the pay option), or null. */
export async function trialEndingAt(
  deps: Pick<AppDeps, 'store'>,
  accountId: number,
  groupId: number,
  expiresAt: number,
): Promise<{ trial: Trial; plan: Plan } | null> {
  for (const trial of await deps.store.trials.listForAccount(accountId)) {
    if (trial.endsAt !== expiresAt) continue;
    const plan = await deps.store.plans.get(trial.planId);
    if (plan?.groupIds.includes(groupId)) return { trial, plan };
  }
  return null;
}
