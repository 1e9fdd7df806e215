// Owner statistics for the caller's groups: active members, this month's revenue per currency (the
// month as people in TZ_DISPLAY read it), renewals and churn this month, and the refunds members asked for
// within a refund window this month (how many and how much, per currency), auto-renewal (issue 18 part 4), new
// members and referral rewards (issue 16). periodFigures is shared with the owners' daily digest (src/app/digest.ts).
import { zonedMonth } from '../domain/time.ts';
import { type Actor, groupScope, notAllowed, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { ReferralCounts, ReviewCounts } from './ports.ts';
import { referralFigures } from './referrals.ts';

/** What happened in a span of time [from, to) in some groups: this month for /stats, yesterday for the digest. */
export interface PeriodFigures {
  revenue: Array<{ currency: string; chargesMinor: number; refundsMinor: number; netMinor: number }>;
  /** Paid orders that opened a first period of their membership (new members + renewals = paid orders). */
  newMembers: number;
  renewals: number;
  /** Memberships that lapsed (expired after grace). */
  churn: number;
}

/** The one definition of the figures over a span, for GET /api/stats, /stats and the owners' daily digest. */
export async function periodFigures(store: AppDeps['store'], from: number, to: number, groups?: number[]): Promise<PeriodFigures> {
  const s = store.stats;
  const [revenue, newMembers, renewals, churn] = await Promise.all([
    s.revenueByCurrency(from, to, groups),
    s.newMembers(from, to, groups),
    s.renewals(from, to, groups),
    s.churn(from, to, groups),
  ]);
  return { revenue, newMembers, renewals, churn };
}

export interface Stats extends PeriodFigures {
  month: string;
  activeMembers: number;
  refundsOnRequest: Array<{ currency: string; count: number; amountMinor: number }>;
  /** Join review (issue 17), all time: applications by outcome and the mean time to a decision. */
  reviews: ReviewCounts;
  /** People with access whose access renews itself, their share of activeMembers (0–1), and failed renewals counted. */
  autoRenew: AutoRenewFigures;
  /** Referral rewards (issue 16), all time: booked (and the days they gave), canceled, skipped, clawed back. */
  referrals: ReferralCounts;
}

export interface AutoRenewFigures {
  members: number;
  share: number;
  failedRenewals: number;
}

/** The one definition of the auto-renew figures, for /api/stats (an owner's groups) and /metrics (every group). */
export async function autoRenewFigures(store: AppDeps['store'], groups?: number[], activeMembers?: number): Promise<AutoRenewFigures> {
  const [active, s] = await Promise.all([activeMembers ?? store.stats.activeMembers(groups), store.subscriptions.stats(groups)]);
  return { members: s.autoRenewing, share: active === 0 ? 0 : Math.round((s.autoRenewing / active) * 10_000) / 10_000, failedRenewals: s.failedRenewals };
}

/** The figures of the actor's groups only: an operator and an admin see every group's. */
export async function computeStats(deps: AppDeps, actor: Actor): Promise<Stats> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  const groups = scopeFilter(scope);
  const { start, end, label } = zonedMonth(deps.clock.now(), deps.settings.tzDisplay);
  const s = deps.store.stats;
  const [activeMembers, figures, refundsOnRequest, reviews, referrals] = await Promise.all([
    s.activeMembers(groups),
    periodFigures(deps.store, start, end, groups),
    s.refundsOnRequest(start, end, groups),
    deps.store.review.counts(groups),
    referralFigures(deps.store, groups),
  ]);
  const autoRenew = await autoRenewFigures(deps.store, groups, activeMembers);
  return { month: label, activeMembers, ...figures, refundsOnRequest, reviews, autoRenew, referrals };
}
