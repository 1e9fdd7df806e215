// Owner statistics for the caller's groups: active members, this month's revenue per currency (the
// month as people in TZ_DISPLAY read it), renewals and churn this month, and the refunds members asked for
// within a refund window this month (how many and how much, per currency), auto-renewal (issue 18 part 4), new
// members and referral rewards (issue 16), and the console's series and badges (issue 15). periodFigures is shared
// with the owners' daily digest (src/app/digest.ts).
import { DAY_MS, zonedDays, zonedMonth, zonedMonths } from '../domain/time.ts';
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
  /** Active memberships whose paid time ends within the next 7 days. */
  expiringSoon: number;
  /** The review queue: orders held for review plus join-review applications pending. */
  reviewQueue: number;
  /** Jobs given up on (dead letters); null for an owner of some groups (jobs are not per group). */
  deadLetters: number | null;
  /** Net revenue per currency per day over the last 30 days, and per month over the last 12, in TZ_DISPLAY. */
  daily: RevenueSeries;
  monthly: RevenueSeries;
  /** TZ_DISPLAY, the zone every day and month above is read in. */
  timeZone: string;
  /** Issue 16, this month: free trials started, how many of those people then paid for the plan, and coupon redemptions booked. */
  growth: GrowthFigures;
}

/** Buckets (oldest first) and, per currency, the net revenue (minor units) of each bucket. */
export interface RevenueSeries {
  labels: string[];
  netMinor: Record<string, number[]>;
}

export const EXPIRING_SOON_DAYS = 7;

/**
 * Net revenue per bucket from the one revenue definition (store.stats.revenueByCurrency), so the chart's
 * days of this month add up to the month's figure exactly.
 */
async function revenueSeries(deps: AppDeps, spans: Array<{ start: number; end: number; label: string }>, groups?: number[]): Promise<RevenueSeries> {
  const per = await Promise.all(spans.map((s) => deps.store.stats.revenueByCurrency(s.start, s.end, groups)));
  const currencies = [...new Set(per.flat().map((r) => r.currency))].sort();
  const netMinor: Record<string, number[]> = {};
  for (const c of currencies) netMinor[c] = per.map((rows) => rows.find((r) => r.currency === c)?.netMinor ?? 0);
  return { labels: spans.map((s) => s.label), netMinor };
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

/** Jobs given up on (dead letters): the operator's figure (null for an owner of some groups: jobs are not per group). */
async function deadLetterCount(deps: AppDeps, all: boolean): Promise<number | null> {
  if (!all) return null;
  return (await deps.store.jobs.countByStatus()).filter((j) => j.status === 'dead').reduce((n, j) => n + j.count, 0);
}

/** The console's badges on every page: the review queue (held orders + pending applications) and the dead letters, as in computeStats. */
export async function badgeFigures(deps: AppDeps, actor: Actor): Promise<{ reviewQueue: number; deadLetters: number | null }> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  const groups = scopeFilter(scope);
  const [held, reviews, deadLetters] = await Promise.all([
    deps.store.stats.heldOrders(groups),
    deps.store.review.counts(groups),
    deadLetterCount(deps, scope.all),
  ]);
  return { reviewQueue: held + reviews.pending, deadLetters };
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
  const now = deps.clock.now();
  const tz = deps.settings.tzDisplay;
  const [autoRenew, growth, expiringSoon, heldOrders, deadLetters, daily, monthly] = await Promise.all([
    autoRenewFigures(deps.store, groups, activeMembers),
    growthFigures(deps.store, start, end, groups),
    s.expiring(now, now + EXPIRING_SOON_DAYS * DAY_MS, groups),
    s.heldOrders(groups),
    deadLetterCount(deps, scope.all),
    revenueSeries(deps, zonedDays(now, tz, 30), groups),
    revenueSeries(deps, zonedMonths(now, tz, 12), groups),
  ]);
  return {
    month: label,
    activeMembers,
    ...figures,
    refundsOnRequest,
    reviews,
    autoRenew,
    referrals,
    growth,
    expiringSoon,
    reviewQueue: heldOrders + reviews.pending,
    deadLetters,
    daily,
    monthly,
    timeZone: tz,
  };
}
