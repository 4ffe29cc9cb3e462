/**
 * Small helpers shared by the Truto projections. Pure: no I/O, no clock.
 */

/** The action of an `entity:action` event type (`'integrated_account:active'` → `'active'`). */
export function actionOf(type: string): string {
  const colon = type.indexOf(':');
  return colon === -1 ? type : type.slice(colon + 1);
}

/** Narrows a string to one of a list of literals. */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}

/** `b − a` in milliseconds for two ISO-8601 times, or `null` when either is missing. */
export function millisBetween(a: string | null, b: string | null): number | null {
  if (a === null || b === null) return null;
  const diff = Date.parse(b) - Date.parse(a);
  return Number.isFinite(diff) ? diff : null;
}
