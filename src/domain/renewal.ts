// Which plan lengths a payment rail can renew by itself (issue 18 parts 2 and 3).
//   - Telegram Stars subscriptions renew every 30 days and only that: createInvoiceLink's
//     `subscription_period` "must always be 2592000 (30 days) if specified" (core.telegram.org/bots/api#createinvoicelink).
//   - Stripe subscriptions (part 3) map 7 → week, 30 → month, 365 → year; other lengths stay one-off.
// A plan may be marked recurring only for a length some rail can renew; a rail that cannot renew a
// recurring plan's length sells it as a one-off payment.
import { invalid } from './errors.ts';

export const STARS_SUBSCRIPTION_DAYS = 30;
/** Telegram's only allowed subscription period, in seconds (30 days). */
export const STARS_SUBSCRIPTION_PERIOD_S = 2_592_000;
/** Plan lengths some rail can renew: Stripe's week, month and year (Stars: the month). */
export const RENEWABLE_DAYS: readonly number[] = [7, 30, 365];

/** Throws a clear error when `recurring` is asked for a length no rail can renew. */
export function assertRenewable(days: number): void {
  if (!RENEWABLE_DAYS.includes(days))
    throw invalid(`a recurring plan must last ${RENEWABLE_DAYS.join(', ')} days (no payment rail renews ${days}-day plans; Telegram Stars renews only 30)`);
}

/** Telegram Stars renews this plan (a recurring 30-day plan). */
export const starsRenews = (plan: { recurring: boolean; durationDays: number }): boolean => plan.recurring && plan.durationDays === STARS_SUBSCRIPTION_DAYS;
