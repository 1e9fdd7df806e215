// Owner statistics: active members, this month's revenue per currency (the month as people in
// TZ_DISPLAY read it), renewals and churn this month.
import { zonedMonth } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';

export interface Stats {
  month: string;
  activeMembers: number;
  revenue: Array<{ currency: string; chargesMinor: number; refundsMinor: number; netMinor: number }>;
  renewals: number;
  churn: number;
}

export async function computeStats(deps: AppDeps): Promise<Stats> {
  const { start, end, label } = zonedMonth(deps.clock.now(), deps.settings.tzDisplay);
  const s = deps.store.stats;
  const [activeMembers, revenue, renewals, churn] = await Promise.all([s.activeMembers(), s.revenueByCurrency(start, end), s.renewals(start, end), s.churn(start, end)]);
  return { month: label, activeMembers, revenue, renewals, churn };
}
