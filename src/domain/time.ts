/** Times are epoch milliseconds in UTC. Durations are integer milliseconds. */
export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 86_400 * SECOND_MS;

/** `start + days × 86 400 s`; calendar-free so SQLite and PostgreSQL agree to the millisecond. */
export function addDays(start: number, days: number): number {
  return start + days * DAY_MS;
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The only source of "now" and of waiting in the app; tests pass a fake one and move it by hand. */
export interface Clock {
  now(): number;
  /** Resolves once `now()` has advanced by `ms` (virtual time in tests). */
  sleep(ms: number): Promise<void>;
}

/** Offset of `timeZone` from UTC at instant `ms`, in ms (Asia/Shanghai → +8 h). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The UTC instant of local midnight on day `day` of `month` (1-based) in `timeZone`. */
function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day);
  const first = guess - zoneOffsetMs(guess, timeZone);
  // Re-check once: the offset can differ across a DST change between the guess and the answer.
  return guess - zoneOffsetMs(first, timeZone);
}

/** [start, end) of the calendar month containing `ms`, as people in `timeZone` read it; `label` is YYYY-MM. */
export function zonedMonth(ms: number, timeZone: string): { start: number; end: number; label: string } {
  const local = new Date(ms + zoneOffsetMs(ms, timeZone));
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth() + 1;
  const start = zonedMidnight(y, m, 1, timeZone);
  const end = m === 12 ? zonedMidnight(y + 1, 1, 1, timeZone) : zonedMidnight(y, m + 1, 1, timeZone);
  return { start, end, label: `${y}-${String(m).padStart(2, '0')}` };
}

/** [start, end) of the calendar day containing `ms`, as people in `timeZone` read it; `label` is YYYY-MM-DD. */
export function zonedDay(ms: number, timeZone: string): { start: number; end: number; label: string; hour: number } {
  const local = new Date(ms + zoneOffsetMs(ms, timeZone));
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth() + 1;
  const d = local.getUTCDate();
  const start = zonedMidnight(y, m, d, timeZone);
  const end = zonedMidnight(y, m, d + 1, timeZone);
  return { start, end, label: `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`, hour: local.getUTCHours() };
}

export interface ZonedSpan {
  start: number;
  end: number;
  /** YYYY-MM-DD for a day, YYYY-MM for a month, as people in the zone read it. */
  label: string;
}

/** The last `n` calendar days up to and including the one containing `ms`, oldest first, in `timeZone`. */
export function zonedDays(ms: number, timeZone: string, n: number): ZonedSpan[] {
  const local = new Date(ms + zoneOffsetMs(ms, timeZone));
  const out: ZonedSpan[] = [];
  for (let i = n - 1; i >= 0; i--) {
    // Date.UTC normalises a day 0 or below into the previous month (and year).
    const d = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() - i));
    const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    const next = new Date(Date.UTC(y, m - 1, day + 1));
    out.push({
      start: zonedMidnight(y, m, day, timeZone),
      end: zonedMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone),
      label: `${y}-${String(m).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    });
  }
  return out;
}

/** The last `n` calendar months up to and including the one containing `ms`, oldest first, in `timeZone`. */
export function zonedMonths(ms: number, timeZone: string, n: number): ZonedSpan[] {
  const out: ZonedSpan[] = [];
  let month = zonedMonth(ms, timeZone);
  for (let i = 0; i < n; i++) {
    out.unshift(month);
    month = zonedMonth(month.start - 1, timeZone);
  }
  return out;
}

/** The instant a calendar date "YYYY-MM-DD" begins in `timeZone`; null when the text is not such a date. */
export function zonedDateStart(text: string, timeZone: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (y < 2000 || y > 9999 || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  return zonedMidnight(y, mo, d, timeZone);
}
