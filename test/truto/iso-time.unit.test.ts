/**
 * `toIsoTime` writes state times itself (src/truto/time.ts): its text must be exactly what
 * `Date.prototype.toISOString` writes, for any millisecond, in any order of calls (it keeps the
 * last day's date part), and for values it leaves to `Date` (before 1970, from year 10000 on,
 * fractions, NaN).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toIsoTime } from '../../src/truto/time.js';

const YEAR_10000 = Date.UTC(10000, 0, 1);
const asDate = (ms: number) => new Date(ms).toISOString();

describe('toIsoTime', () => {
  it('writes what toISOString writes, for any millisecond from 1970 to 9999 and in any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: YEAR_10000 - 1 }), { maxLength: 50 }),
        (times) => {
          for (const ms of times) expect(toIsoTime(ms)).toBe(asDate(ms));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes what toISOString writes around day, month, year and leap-day edges', () => {
    const edges = [
      0,
      Date.UTC(1970, 0, 1, 23, 59, 59, 999),
      Date.UTC(2000, 1, 29, 12),
      Date.UTC(2000, 2, 1) - 1,
      Date.UTC(2100, 1, 28, 23, 59, 59, 999),
      Date.UTC(2100, 2, 1),
      Date.UTC(2024, 1, 29, 0, 0, 0, 1),
      Date.UTC(2024, 11, 31, 23, 59, 59, 999),
      Date.UTC(2025, 0, 1),
      YEAR_10000 - 1,
    ];
    // Each edge after a time of another day, and twice in a row (the kept date part).
    for (const ms of edges) {
      expect(toIsoTime(ms - 86_400_000 * 40)).toBe(asDate(ms - 86_400_000 * 40));
      expect(toIsoTime(ms)).toBe(asDate(ms));
      expect(toIsoTime(ms)).toBe(asDate(ms));
    }
  });

  it('leaves times before 1970, from year 10000 on and fractions to Date, and throws as it does', () => {
    for (const ms of [-1, -86_400_001, Date.UTC(-1, 5, 1), YEAR_10000, YEAR_10000 + 123, 1.5]) {
      expect(toIsoTime(ms)).toBe(asDate(ms));
    }
    expect(() => toIsoTime(Number.NaN)).toThrow(RangeError);
  });
});
