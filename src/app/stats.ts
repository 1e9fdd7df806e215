// Owner statistics for the caller's groups: active members, this month's revenue per currency (the
// month as people in TZ_DISPLAY read it), renewals and churn this month, and the refunds members asked for
// within a refund window this month (how many and how much, per currency), and auto-renewal (issue 18 part 4).
import { zonedMonth } from '../domain/time.ts';
import { type Actor, groupScope, notAllowed, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { ReviewCounts } from './ports.ts';

export interface Stats {
  month: string;
  activeMembers: number;
  revenue: Array<{ currency: string; chargesMinor: number; refundsMinor: number; netMinor: number }>;
  renewals: number;
  churn: number;
  refundsOnRequest: Array<{ currency: string; count: number; amountMinor: number }>;
  /** Join review (issue 17), all time: applications by outcome and the mean time to a decision. */
  reviews: ReviewCounts;
  /** People with access whose access renews itself, their share of activeMembers (0–1), and failed renewals counted. */
  autoRenew: AutoRenewFigures;
  /** Issue 16, this month: free trials started, how many of those people then paid for the plan, and coupon redemptions booked. */
  growth: GrowthFigures;
}

export interface GrowthFigures {
  trialsStarted: number;
  trialsConverted: number;
  /** trialsConverted / trialsStarted (0–1, four decimals); 0 when none started. */
  trialConversion: number;
  couponsRedeemed: number;
}

/**
 * The one definition of the growth figures for [from, to) in these groups (undefined: every group), for
 * /api/stats, /metrics and the owner's digest: trials started (store.trials.counts) and coupon redemptions
 * booked (store.coupons.redeemed, counted when the order is paid, access codes included).
 */
export async function growthFigures(store: AppDeps['store'], from?: number, to?: number, groups?: number[]): Promise<GrowthFigures> {
  const [trials, couponsRedeemed] = await Promise.all([store.trials.counts(from, to, groups), store.coupons.redeemed(from, to, groups)]);
  return {
    trialsStarted: trials.started,
    trialsConverted: trials.converted,
    trialConversion: trials.started === 0 ? 0 : Math.round((trials.converted / trials.started) * 10_000) / 10_000,
    couponsRedeemed,
  };
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
  const [activeMembers, revenue, renewals, churn, refundsOnRequest, reviews] = await Promise.all([
    s.activeMembers(groups),
    s.revenueByCurrency(start, end, groups),
    s.renewals(start, end, groups),
    s.churn(start, end, groups),
    s.refundsOnRequest(start, end, groups),
    deps.store.review.counts(groups),
  ]);
  const autoRenew = await autoRenewFigures(deps.store, groups, activeMembers);
  const growth = await growthFigures(deps.store, start, end, groups);
  return { month: label, activeMembers, revenue, renewals, churn, refundsOnRequest, reviews, autoRenew, growth };
}
