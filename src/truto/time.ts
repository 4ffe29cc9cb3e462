/**
 * Source time: when Truto generated an event (the envelope's `created_at`).
 *
 * Truto sends ISO-8601 (`2023-06-16T09:21:22.369Z`) and also `2024-09-10 12:00:00`, which is UTC
 * without a zone. One grammar reads both, so every accepted form behaves the same way:
 *
 *   YYYY-MM-DD(T| )HH:MM[:SS[.fraction]][zone]
 *
 * - the date and time separator is `T` (either case) or one space;
 * - seconds are optional, the fraction has 1 to 9 digits (kept to the millisecond, truncated);
 * - the zone is `Z`, `±HH:MM` or `±HHMM`; without one the time is UTC (Truto's convention, never
 *   the machine's local zone);
 * - years are 0000-9999 as written (`0024` is the year 24, not 1924);
 * - a date or time that does not exist (`2024-02-31`, `24:00`, `12:60`, a leap second `:60`) is
 *   refused with the reason, never rolled over into another day.
 *
 * Times become milliseconds since the epoch; state carries ISO-8601 UTC strings with
 * milliseconds, which sort lexicographically in time order.
 */

const FORMAT =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

export const ACCEPTED_TIME_FORMS =
  'YYYY-MM-DDTHH:MM[:SS[.fff]] with Z, ±HH:MM or no zone (UTC); a space may replace the T';

/** A source time read from text: epoch milliseconds, or why it is not a time. */
export type SourceTimeResult =
  { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string };

/**
 * Reads a source time with the reason when it is not one.
 *
 * @example
 * readSourceTime('2024-02-31T00:00:00Z'); // { ok: false, reason: 'day 31 does not exist in 2024-02' }
 */
export function readSourceTime(value: unknown): SourceTimeResult {
  if (typeof value !== 'string') return { ok: false, reason: 'not a string' };
  const match = FORMAT.exec(value.trim());
  if (!match) return { ok: false, reason: `not of the form ${ACCEPTED_TIME_FORMS}` };
  const [, y, mo, d, h, mi, s, frac, zulu, sign, zh, zm] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12) return { ok: false, reason: `month ${mo} does not exist` };
  if (day < 1 || day > daysIn(year, month)) {
    return { ok: false, reason: `day ${d} does not exist in ${y}-${mo}` };
  }
  if (hour > 23) return { ok: false, reason: `hour ${h} does not exist (00-23)` };
  if (minute > 59) return { ok: false, reason: `minute ${mi} does not exist (00-59)` };
  if (second > 59) return { ok: false, reason: `second ${s} does not exist (00-59)` };
  let offsetMinutes = 0;
  if (zulu === undefined && sign !== undefined) {
    const offsetHours = Number(zh);
    const offsetMins = Number(zm);
    if (offsetHours > 23 || offsetMins > 59) {
      return { ok: false, reason: `zone offset ${sign}${zh}:${zm} does not exist` };
    }
    offsetMinutes = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  // Date.UTC maps years 0-99 onto 1900-1999; setUTCFullYear takes the year as written.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year, month - 1, day);
  return { ok: true, ms: date.getTime() - offsetMinutes * 60_000 };
}

function daysIn(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Reads a source time, returning epoch milliseconds or `null` when the value is not a time.
 *
 * @example
 * parseSourceTime('2024-09-10 12:00:00') === Date.UTC(2024, 8, 10, 12) // true
 */
export function parseSourceTime(value: unknown): number | null {
  const result = readSourceTime(value);
  return result.ok ? result.ms : null;
}

/** Epoch milliseconds as the ISO-8601 UTC string (with milliseconds) used throughout state. */
export function toIsoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A payload time normalised to ISO-8601 UTC, or `undefined` when absent or unreadable. */
export function normaliseTime(value: unknown): string | undefined {
  const ms = parseSourceTime(value);
  return ms === null ? undefined : toIsoTime(ms);
}
