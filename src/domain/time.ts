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
