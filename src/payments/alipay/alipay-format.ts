// The small wire formats Alipay uses: Beijing-time timestamps, yuan strings, form bodies.
// Alipay amounts are yuan strings with two decimals; ours are integer fen. Nothing here uses a float.
import { formatMinor, parsePrice } from '../../domain/money.ts';
import { HOUR_MS } from '../../domain/time.ts';

/** China has had no daylight saving time since 1991: Asia/Shanghai is UTC+8 all year. */
const SHANGHAI_OFFSET_MS = 8 * HOUR_MS;

/** "yyyy-MM-dd HH:mm:ss" in Asia/Shanghai, the only time format gateway.do accepts. */
export function formatAlipayTime(ms: number): string {
  const iso = new Date(Math.floor(ms / 1000) * 1000 + SHANGHAI_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/**
 * The instant an Alipay "yyyy-MM-dd HH:mm:ss" (Beijing time) names, or null when it is not one.
 * A fraction of a second is accepted (`gmt_refund` carries milliseconds: "2026-01-01 08:00:00.123").
 */
export function parseAlipayTime(text: string | undefined): number | null {
  if (!text) return null;
  const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return null;
  const whole = m[1]!;
  const [y, mo, d, h, mi, s] = whole.split(/[- :]/).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 2026-02-30 over to March: refuse anything that does not read back the same.
  if (formatAlipayTime(utc - SHANGHAI_OFFSET_MS) !== whole) return null;
  return utc - SHANGHAI_OFFSET_MS + Number((m[2] ?? '0').padEnd(3, '0'));
}

/** 990 → "9.90". */
export function toYuan(amountFen: number): string {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw new RangeError(`not an amount in fen: ${amountFen}`);
  return formatMinor(amountFen, 'CNY');
}

/** "9.90" → 990; "20" and "9.9" are read too (Alipay drops zeros in some fields); anything else is null. */
export function fromYuan(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,12}(\.\d{1,2})?$/.test(text)) return null;
  try {
    return parsePrice(text, 'CNY');
  } catch {
    return null;
  }
}

/** Whole minutes for `timeout_express` ("15m"), rounded up so the QR lives as long as our order; 1m–15d. */
export function timeoutExpress(fromMs: number, untilMs: number): string {
  const minutes = Math.ceil((untilMs - fromMs) / 60_000);
  return `${Math.min(Math.max(minutes, 1), 15 * 24 * 60)}m`;
}

export class FormDecodeError extends Error {}

/**
 * Strict application/x-www-form-urlencoded: every pair has a key, every escape is valid UTF-8, no key
 * twice (a repeated key is how a forged field would hide next to a signed one).
 */
export function decodeForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (body.length === 0) return out;
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
      value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    } catch {
      throw new FormDecodeError('body is not form-urlencoded (bad % escape)');
    }
    if (key === '' || eq === -1) throw new FormDecodeError('body is not form-urlencoded (a field without "=")');
    if (Object.hasOwn(out, key)) throw new FormDecodeError(`field ${JSON.stringify(key.slice(0, 40))} appears twice`);
    out[key] = value;
  }
  return out;
}

export function encodeForm(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}
