// Owner statistics for the caller's groups: active members, this month's revenue per currency (the
// month as people in TZ_DISPLAY read it), renewals and churn this month, and the refunds members asked for
// within a refund window this month (how many and how much, per currency).
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
  return { month: label, activeMembers, revenue, renewals, churn, refundsOnRequest, reviews };
}
