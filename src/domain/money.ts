import { invalid } from './errors.ts';
import { countOf } from './text.ts';

/** ISO 4217 minor-unit exponents for the currencies we sell in; `XTR` is Telegram Stars (whole units). */
const EXPONENTS: Record<string, number> = {
  CNY: 2,
  USD: 2,
  EUR: 2,
  GBP: 2,
  HKD: 2,
  TWD: 2,
  SGD: 2,
  AUD: 2,
  CAD: 2,
  CHF: 2,
  MYR: 2,
  THB: 2,
  RUB: 2,
  INR: 2,
  BRL: 2,
  MXN: 2,
  NZD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  TRY: 2,
  AED: 2,
  PHP: 2,
  IDR: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  XTR: 0,
  KWD: 3,
  BHD: 3,
  JOD: 3,
  OMR: 3,
  TND: 3,
};

/** Every currency code we sell in, in the table's order. */
export const CURRENCIES: readonly string[] = Object.keys(EXPONENTS);

/** Quotes user input for an error message: escaped, so the message stays one line. */
const quote = (s: string) => JSON.stringify(s);

export function isCurrency(code: string): boolean {
  return Object.hasOwn(EXPONENTS, code);
}

export function currencyExponent(code: string): number {
  // Own keys only: "toString", "constructor", "__proto__" are on every object and are not currencies.
  const e = isCurrency(code) ? EXPONENTS[code] : undefined;
  if (e === undefined) throw invalid(`unknown currency ${quote(code)}`);
  return e;
}

export function normalizeCurrency(input: string): string {
  const code = input.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code) || !isCurrency(code)) throw invalid(`unknown currency ${quote(input)}`);
  return code;
}

/** Largest amount we accept, in minor units: far above any plan price and well inside 2^53. */
export const MAX_AMOUNT_MINOR = 10_000_000_000;

/**
 * Parses a decimal price typed by a person ("9.90", "9.9", "10") into integer minor units.
 * Refuses negatives, non-numbers, exponents and more decimals than the currency has.
 */
export function parsePrice(text: string, currency: string): number {
  const exp = currencyExponent(currency);
  const s = text.trim();
  const m = /^(\d{1,12})(?:\.(\d+))?$/.exec(s);
  if (!m) {
    if (/^-/.test(s)) throw invalid(`price must not be negative: ${quote(text)}`);
    throw invalid(`price must be a decimal number like 9.90: ${quote(text)}`);
  }
  const whole = m[1]!;
  const frac = m[2] ?? '';
  if (frac.length > exp) {
    throw invalid(`price ${quote(text)} has more than ${countOf(exp, 'decimal place', 'decimal places')} for ${currency}`);
  }
  const minor = Number(whole) * 10 ** exp + Number(frac.padEnd(exp, '0') || '0');
  if (!Number.isSafeInteger(minor) || minor > MAX_AMOUNT_MINOR) throw invalid(`price ${quote(text)} is too large`);
  return minor;
}

/** "9.90" for 990 CNY, "100" for 100 JPY. No currency symbol: catalogues decide presentation. */
export function formatMinor(amountMinor: number, currency: string): string {
  const exp = currencyExponent(currency);
  const sign = amountMinor < 0 ? '-' : '';
  const abs = Math.abs(amountMinor);
  if (exp === 0) return `${sign}${abs}`;
  const unit = 10 ** exp;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(exp, '0')}`;
}

export function formatMoney(amountMinor: number, currency: string): string {
  return `${formatMinor(amountMinor, currency)} ${currency}`;
}
