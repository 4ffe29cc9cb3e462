/**
 * Source time: when Truto generated an event (the envelope's `created_at`).
 *
 * Truto sends ISO-8601 (`2023-06-16T09:21:22.369Z`) and also `2024-09-10 12:00:00`, which is UTC
 * without a zone. Both become milliseconds since the epoch; state carries ISO-8601 UTC strings with
 * milliseconds, which sort lexicographically in time order.
 */

const SPACE_FORMAT = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;
const ISO_WITH_ZONE =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Reads a source time, returning epoch milliseconds or `null` when the value is not a time.
 *
 * @example
 * parseSourceTime('2024-09-10 12:00:00') === Date.UTC(2024, 8, 10, 12) // true
 */
export function parseSourceTime(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  const zoneless = SPACE_FORMAT.exec(text);
  if (zoneless) {
    // A zoneless time is UTC by Truto's convention, never the machine's local zone.
    const [, y, mo, d, h, mi, s, frac] = zoneless;
    const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
    const time = Date.UTC(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h),
      Number(mi),
      Number(s),
      ms,
    );
    return checkedTime(time, Number(mo), Number(d));
  }
  if (!ISO_WITH_ZONE.test(text)) return null;
  const time = Date.parse(text);
  return Number.isFinite(time) ? time : null;
}

function checkedTime(time: number, month: number, day: number): number | null {
  if (!Number.isFinite(time)) return null;
  // Date.UTC rolls 2024-02-31 over into March; a real calendar date round-trips.
  const date = new Date(time);
  return date.getUTCMonth() + 1 === month && date.getUTCDate() === day ? time : null;
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
