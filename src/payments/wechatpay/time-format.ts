// WeChat Pay speaks RFC 3339 with an explicit offset (2026-11-21T10:34:56+08:00); we store epoch ms.
const CHINA_OFFSET_MS = 8 * 3_600_000;

/** Epoch ms → `YYYY-MM-DDTHH:mm:ss+08:00` (China has no DST, so the offset is fixed). Seconds are floored. */
export function toChinaRfc3339(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000 + CHINA_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}+08:00`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 with a `Z` or `±HH:MM` offset → epoch ms; null for anything else. */
export function parseRfc3339(s: string): number | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : null;
}
