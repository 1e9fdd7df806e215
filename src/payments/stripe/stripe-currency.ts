// Which of our currencies Stripe can charge, and how amounts go on the wire.
//
// Stripe wants amounts in the currency's smallest unit — the same integer minor units we store — and
// the ISO code in lower case. Zero-decimal currencies (JPY, KRW, VND, CLP) are whole units on both
// sides; three-decimal ones (BHD, JOD, KWD, OMR, TND) are in thousandths and Stripe requires the last
// digit to be 0. Left out on purpose:
//   - XTR (Telegram Stars) is not money Stripe knows;
//   - ISK: Stripe still takes it as a two-decimal amount (100 ISK is sent as 10000) while ISO 4217 —
//     and our table — gives it no decimals; rather than convert in one direction and risk a 100× error
//     in the other, plans in ISK are simply not offered through Stripe.
import { isCurrency } from '../../domain/money.ts';

/** Stripe presentment currencies that also appear in our currency table (docs.stripe.com/currencies). */
const STRIPE_CURRENCIES = new Set([
  'AED',
  'AUD',
  'BHD',
  'BRL',
  'CAD',
  'CHF',
  'CLP',
  'CNY',
  'DKK',
  'EUR',
  'GBP',
  'HKD',
  'IDR',
  'INR',
  'JOD',
  'JPY',
  'KRW',
  'KWD',
  'MXN',
  'MYR',
  'NOK',
  'NZD',
  'OMR',
  'PHP',
  'PLN',
  'RUB',
  'SEK',
  'SGD',
  'THB',
  'TND',
  'TRY',
  'TWD',
  'USD',
  'VND',
]);

const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

export function stripeSupportsCurrency(currency: string): boolean {
  return isCurrency(currency) && STRIPE_CURRENCIES.has(currency);
}

/** `USD` → `usd`. */
export const toStripeCurrency = (currency: string) => currency.toLowerCase();

/** `usd` → `USD` (what the ledger and the order hold). */
export const fromStripeCurrency = (currency: string) => currency.toUpperCase();

/** Why Stripe would refuse this amount, or null when it is fine to send. */
export function stripeAmountProblem(amountMinor: number, currency: string): string | null {
  if (!stripeSupportsCurrency(currency)) return `Stripe cannot take payments in ${currency}`;
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) return `amount must be a positive whole number of minor units`;
  if (THREE_DECIMAL.has(currency) && amountMinor % 10 !== 0) return `${currency} amounts must end in 0 at Stripe (got ${amountMinor} minor units)`;
  return null;
}
