// The days and months the console's revenue chart is bucketed by, read in TZ_DISPLAY (issue 15).
import { describe, expect, it } from 'vitest';
import { HOUR_MS, zonedDateStart, zonedDays, zonedMonth, zonedMonths } from '../../src/domain/time.ts';

describe('zoned days and months', () => {
  // 2026-03-01 01:30 in Shanghai is still 2026-02-28 17:30 UTC.
  const now = Date.UTC(2026, 1, 28, 17, 30);

  it('the last 30 days end with today as Shanghai reads it, each from local midnight to the next, back across the month', () => {
    const days = zonedDays(now, 'Asia/Shanghai', 30);
    expect(days).toHaveLength(30);
    expect(days.at(-1)).toEqual({ start: Date.UTC(2026, 1, 28, 16), end: Date.UTC(2026, 2, 1, 16), label: '2026-03-01' });
    expect(days[0]!.label).toBe('2026-01-31');
    for (let i = 1; i < days.length; i++) expect(days[i]!.start).toBe(days[i - 1]!.end);
    expect(zonedDays(now, 'UTC', 1)[0]!.label).toBe('2026-02-28');
  });

  it('a day across a DST change is 23 or 25 hours long', () => {
    const days = zonedDays(Date.UTC(2026, 2, 9, 12), 'America/New_York', 2);
    expect(days.map((d) => d.label)).toEqual(['2026-03-08', '2026-03-09']);
    expect(days[0]!.end - days[0]!.start).toBe(23 * HOUR_MS);
  });

  it('the last 12 months end with this month and tile without gaps; the last one is zonedMonth', () => {
    const months = zonedMonths(now, 'Asia/Shanghai', 12);
    expect(months.map((m) => m.label)).toEqual([
      '2025-04',
      '2025-05',
      '2025-06',
      '2025-07',
      '2025-08',
      '2025-09',
      '2025-10',
      '2025-11',
      '2025-12',
      '2026-01',
      '2026-02',
      '2026-03',
    ]);
    expect(months.at(-1)).toEqual(zonedMonth(now, 'Asia/Shanghai'));
    for (let i = 1; i < months.length; i++) expect(months[i]!.start).toBe(months[i - 1]!.end);
  });

  it('zonedDateStart reads YYYY-MM-DD as local midnight and refuses anything else', () => {
    expect(zonedDateStart('2026-03-01', 'Asia/Shanghai')).toBe(Date.UTC(2026, 1, 28, 16));
    for (const bad of ['2026-02-30', '2026-13-01', '1/3/2026', '2026-3-1', '', 'tomorrow']) expect(zonedDateStart(bad, 'Asia/Shanghai'), bad).toBeNull();
  });
});
