// What a plan costs on a given rail. A plan has one list price (currency + minor units); a plan that opens
// Telegram groups also has a price in Telegram Stars (XTR), because Telegram requires digital goods sold in a
// bot to be purchasable with Stars (telegram.org/tos/bot-developers; PROTOCOLS.md "Telegram"). The Stars price
// is the owner's (`plan add --stars`), or derived from STARS_PER_UNIT (stars per one unit of the plan's
// currency), rounded up to a whole star. Pure integer arithmetic: a rate such as 7.5 is kept as 75/10.
import { invalid } from './errors.ts';
import { currencyExponent, normalizeCurrency } from './money.ts';

export const STARS = 'XTR';
/** Highest Stars price we accept (a sane bound far above any membership; Telegram's own checkout refuses absurd totals). */
export const MAX_STARS_PRICE = 100_000;

/** Stars per one unit of a currency, as an exact fraction. */
export interface StarsRate {
  num: number;
  den: number;
}
export type StarsRates = ReadonlyMap<string, StarsRate>;

/**
 * Parses STARS_PER_UNIT, e.g. `CNY=7.5,USD=55`: a currency code, `=`, a positive decimal with at most 4 places.
 * Throws a one-line error naming the bad part.
 */
export function parseStarsRates(text: string): Map<string, StarsRate> {
  const rates = new Map<string, StarsRate>();
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z]{3})\s*=\s*(\d{1,6})(?:\.(\d{1,4}))?$/.exec(part);
    if (!m) throw invalid('each entry must be CURRENCY=stars-per-unit with at most 4 decimals, like CNY=7.5');
    const currency = normalizeCurrency(m[1]!);
    if (currency === STARS) throw invalid('XTR is Stars already: it needs no rate');
    if (rates.has(currency)) throw invalid(`${currency} is given twice`);
    const frac = m[3] ?? '';
    const den = 10 ** frac.length;
    const num = Number(m[2]) * den + Number(frac || '0');
    if (num === 0) throw invalid(`the rate for ${currency} must be more than zero`);
    rates.set(currency, { num, den });
  }
  return rates;
}

/** Validates an owner's Stars price: a whole number of stars from 1 to MAX_STARS_PRICE. */
export function parseStarsPrice(input: string | number): number {
  const s = String(input).trim();
  if (!/^\d{1,9}$/.test(s)) throw invalid(`a Stars price must be a whole number of stars, got "${s.slice(0, 40)}"`);
  const n = Number(s);
  if (n < 1 || n > MAX_STARS_PRICE) throw invalid(`a Stars price must be from 1 to ${MAX_STARS_PRICE} stars`);
  return n;
}

/**
 * The plan's price in whole Stars: its own Stars price; its list price when it is priced in XTR; else the list
 * price converted at the currency's rate, rounded up (never below 1). Null when none of these exists.
 */
export function starsPriceOf(plan: { priceMinor: number; currency: string; starsPrice: number | null }, rates: StarsRates): number | null {
  if (plan.starsPrice !== null) return plan.starsPrice;
  if (plan.currency === STARS) return plan.priceMinor;
  const rate = rates.get(plan.currency);
  if (!rate) return null;
  // stars = priceMinor / 10^exp × num / den, rounded up; BigInt keeps the product exact.
  const numerator = BigInt(plan.priceMinor) * BigInt(rate.num);
  const denominator = BigInt(10 ** currencyExponent(plan.currency)) * BigInt(rate.den);
  const stars = Number((numerator + denominator - 1n) / denominator);
  return Math.max(1, stars);
}

/** What one payment of the plan costs in a currency a rail takes: the list price, or the Stars price for XTR. */
export function priceIn(
  plan: { priceMinor: number; currency: string; starsPrice: number | null },
  currency: string,
  rates: StarsRates,
): { amountMinor: number; currency: string } | null {
  if (currency === plan.currency) return { amountMinor: plan.priceMinor, currency };
  if (currency === STARS) {
    const stars = starsPriceOf(plan, rates);
    return stars === null ? null : { amountMinor: stars, currency: STARS };
  }
  return null;
}
