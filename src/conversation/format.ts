// How times and amounts read in each locale. Times always name their zone and never use the US
// month/day order: en "6 Dec 2026, 09:08 (UTC+8)", zh-CN "2026年12月6日 09:08 (UTC+8)". Amounts in
// yuan read "¥9.90" in zh-CN; everything else keeps the unambiguous "9.90 CNY".
import { formatMinor } from '../domain/money.ts';

/** Intl options for a date and time in each catalogue locale (the playground page uses them too). */
export const DATE_TIME_FORMATS: Record<string, { locale: string; options: Intl.DateTimeFormatOptions }> = {
  en: { locale: 'en-GB', options: { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } },
  'zh-CN': { locale: 'zh-CN', options: { year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } },
};

/** The same without the year, for times next to chat messages: en "6 Dec, 09:08", zh-CN "12月6日 09:08". */
export const SHORT_DATE_TIME_FORMATS: Record<string, { locale: string; options: Intl.DateTimeFormatOptions }> = {
  en: { locale: 'en-GB', options: { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } },
  'zh-CN': { locale: 'zh-CN', options: { month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } },
};

// Building an Intl.DateTimeFormat costs far more than using one (a profile of the invite jobs showed
// zoneLabel at 4–8 % of the service's CPU): one per time zone, kept. Time zones come from the configuration
// (TZ_DISPLAY) and tests, so this stays small; bounded all the same.
const offsetFormats = new Map<string, Intl.DateTimeFormat>();
function offsetFormat(timeZone: string): Intl.DateTimeFormat {
  let f = offsetFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'shortOffset' });
    if (offsetFormats.size >= 64) offsetFormats.clear();
    offsetFormats.set(timeZone, f);
  }
  return f;
}

/** "UTC+8", "UTC+5:30", "UTC" for `timeZone` at instant `ms` (the offset, so DST shows as it is). */
export function zoneLabel(ms: number, timeZone: string): string {
  const part = offsetFormat(timeZone)
    .formatToParts(new Date(ms))
    .find((p) => p.type === 'timeZoneName');
  const gmt = part?.value ?? 'GMT';
  return /^GMT([+-]0+(:00)?)?$/.test(gmt) ? 'UTC' : gmt.replace(/^GMT/, 'UTC');
}

/** Formats instants for people in `timeZone` (validated by config), in each locale's date order, with the zone. */
export function createDateTimeFormatter(timeZone: string): (locale: string, ms: number) => string {
  const formats = new Map<string, Intl.DateTimeFormat>();
  return (locale, ms) => {
    const spec = DATE_TIME_FORMATS[locale] ?? DATE_TIME_FORMATS.en!;
    let f = formats.get(spec.locale);
    if (!f) formats.set(spec.locale, (f = new Intl.DateTimeFormat(spec.locale, { ...spec.options, timeZone })));
    return `${f.format(new Date(ms))} (${zoneLabel(ms, timeZone)})`;
  };
}

const SYMBOLS: Record<string, Record<string, string>> = { 'zh-CN': { CNY: '¥' } };

/** An amount as a reader in `locale` expects it: zh-CN "¥9.90" (yuan), otherwise "9.90 CNY". */
export function formatMoneyIn(locale: string, amountMinor: number, currency: string): string {
  const symbol = SYMBOLS[locale]?.[currency];
  const n = formatMinor(amountMinor, currency);
  if (symbol === undefined) return `${n} ${currency}`;
  return n.startsWith('-') ? `-${symbol}${n.slice(1)}` : `${symbol}${n}`;
}

/**
 * Rewrites the amounts in a parameter written by `formatMoney` ("9.90 CNY", or a list such as
 * "9.90 CNY, 5.00 USD") for `locale`, so messages built before the reader is known still read right.
 */
export function localizeAmounts(text: string, locale: string): string {
  if (!SYMBOLS[locale]) return text;
  return text.replace(/(^|[\s,(])(-?\d+(?:\.\d+)?) ([A-Z]{3})(?=$|[\s,.;)])/g, (whole, lead: string, n: string, currency: string) => {
    const symbol = SYMBOLS[locale]![currency];
    if (symbol === undefined) return whole;
    return `${lead}${n.startsWith('-') ? `-${symbol}${n.slice(1)}` : `${symbol}${n}`}`;
  });
}
