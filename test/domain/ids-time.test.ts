import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newOutTradeNo, unguessableId } from '../../src/domain/ids.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, addDays, toIso } from '../../src/domain/time.ts';

const DRAWS = 10_000;

/** Counts, for each of the 128 bit positions, how many ids had that bit set. */
function bitCounts(ids: Buffer[]): number[] {
  const counts = new Array<number>(128).fill(0);
  for (const b of ids) {
    for (let i = 0; i < 128; i++) {
      if ((b[i >> 3]! >> (7 - (i & 7))) & 1) counts[i]! += 1;
    }
  }
  return counts;
}

/**
 * With 10 000 fair draws a bit is set 5 000 ± 50 (1 sd) times; 4 000–6 000 is ±20 sd, so a genuine
 * random source never fails this, while a constant, counter or half-random id (e.g. only 64 random bits) does.
 */
function expectEveryBitRandom(counts: number[]) {
  for (const [i, c] of counts.entries()) {
    expect(c, `bit ${i}`).toBeGreaterThan(DRAWS * 0.4);
    expect(c, `bit ${i}`).toBeLessThan(DRAWS * 0.6);
  }
}

describe('unguessableId', () => {
  const ids = Array.from({ length: DRAWS }, () => unguessableId());

  it('is 22 URL-safe characters', () => {
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('decodes to exactly 16 bytes (128 bits) and re-encodes to itself', () => {
    for (const id of ids) {
      const bytes = Buffer.from(id, 'base64url');
      expect(bytes).toHaveLength(16);
      expect(bytes.toString('base64url')).toBe(id);
    }
  });

  it('is unique across 10k draws', () => {
    expect(new Set(ids).size).toBe(DRAWS);
  });

  it('has all 128 bits random', () => {
    expectEveryBitRandom(bitCounts(ids.map((id) => Buffer.from(id, 'base64url'))));
  });

  it('needs no escaping in a URL path', () => {
    for (const id of ids.slice(0, 1000)) expect(encodeURIComponent(id)).toBe(id);
  });
});

describe('newOutTradeNo', () => {
  const nos = Array.from({ length: DRAWS }, () => newOutTradeNo());

  it('is 32 lowercase hex chars', () => {
    for (const n of nos) expect(n).toMatch(/^[0-9a-f]{32}$/);
  });

  it("fits WeChat Pay's out_trade_no rule (6–32 of [0-9A-Za-z_-]) and Alipay's 64", () => {
    for (const n of nos) {
      expect(n).toMatch(/^[0-9A-Za-z_-]{6,32}$/);
      expect(n.length).toBeLessThanOrEqual(64);
    }
  });

  it('is unique across 10k draws', () => {
    expect(new Set(nos).size).toBe(DRAWS);
  });

  it('carries 128 random bits', () => {
    expectEveryBitRandom(bitCounts(nos.map((n) => Buffer.from(n, 'hex'))));
  });
});

describe('time constants', () => {
  it('are integer milliseconds', () => {
    expect(SECOND_MS).toBe(1000);
    expect(MINUTE_MS).toBe(60_000);
    expect(HOUR_MS).toBe(3_600_000);
    expect(DAY_MS).toBe(86_400_000);
  });
});

describe('addDays', () => {
  it.each([
    [0, 0, 0],
    [0, 1, 86_400_000],
    [0, 30, 2_592_000_000],
    [0, 365, 31_536_000_000],
    [1000, 1, 86_401_000],
    [86_400_000, -1, 0],
    [0, -1, -86_400_000],
    [123, 0, 123],
  ])('addDays(%d, %d) = %d', (start, days, want) => {
    expect(addDays(start, days)).toBe(want);
  });

  it('is calendar-free: 30 days after 2026-01-31 is 2026-03-02, in UTC', () => {
    expect(toIso(addDays(Date.UTC(2026, 0, 31), 30))).toBe('2026-03-02T00:00:00.000Z');
  });

  it('counts 24 h days across a leap day and across local DST changes', () => {
    expect(toIso(addDays(Date.UTC(2028, 1, 28, 12), 1))).toBe('2028-02-29T12:00:00.000Z');
    expect(toIso(addDays(Date.UTC(2028, 1, 28, 12), 2))).toBe('2028-03-01T12:00:00.000Z');
    // US DST starts 2026-03-08, EU on 2026-03-29: a UTC day is still 86 400 000 ms.
    expect(addDays(Date.UTC(2026, 2, 7, 12), 1) - Date.UTC(2026, 2, 7, 12)).toBe(DAY_MS);
    expect(toIso(addDays(Date.UTC(2026, 2, 28, 1, 30), 1))).toBe('2026-03-29T01:30:00.000Z');
  });

  it('a 30-day plan bought at noon ends at noon', () => {
    const paid = Date.UTC(2026, 4, 10, 12, 34, 56, 789);
    expect(toIso(addDays(paid, 30))).toBe('2026-06-09T12:34:56.789Z');
  });

  it('property: addDays(t, d) - t === d × 86 400 000, exactly, for integer ms and days', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: -36_500, max: 36_500 }), (t, d) => {
        const r = addDays(t, d);
        expect(Number.isSafeInteger(r)).toBe(true);
        expect(r - t).toBe(d * 86_400_000);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: adding a then b days equals adding a + b days; 0 days is the identity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: -5000, max: 5000 }), (t, a, b) => {
        expect(addDays(addDays(t, a), b)).toBe(addDays(t, a + b));
        expect(addDays(t, 0)).toBe(t);
        if (a > 0) expect(addDays(t, a)).toBeGreaterThan(t);
        if (a < 0) expect(addDays(t, a)).toBeLessThan(t);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the time of day in UTC', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 0, max: 3650 }), (t, d) => {
        const a = new Date(t);
        const b = new Date(addDays(t, d));
        expect([b.getUTCHours(), b.getUTCMinutes(), b.getUTCSeconds(), b.getUTCMilliseconds()]).toEqual([
          a.getUTCHours(),
          a.getUTCMinutes(),
          a.getUTCSeconds(),
          a.getUTCMilliseconds(),
        ]);
      }),
    );
  });
});

describe('toIso', () => {
  it('prints UTC ISO-8601 with milliseconds', () => {
    expect(toIso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(toIso(Date.UTC(2026, 0, 1, 8, 0, 0, 5))).toBe('2026-01-01T08:00:00.005Z');
  });

  it('round-trips through Date.parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (t) => {
        expect(Date.parse(toIso(t))).toBe(t);
      }),
    );
  });
});
