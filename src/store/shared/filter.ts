/**
 * State filters and key order, shared so every adapter answers `listStates` the same way:
 * `where` is equality on top-level fields with JSON types respected (`1` never equals `'1'` or
 * `true`; `null` matches null or absent), and keys sort by code point, which is the byte order
 * of UTF-8 that SQLite (BINARY) and PostgreSQL (COLLATE "C") use.
 */
import type { StateFilter } from '../port.js';

export function matchesFilter(state: unknown, where: StateFilter | undefined): boolean {
  if (where === undefined) return true;
  const record =
    state !== null && typeof state === 'object' && !Array.isArray(state)
      ? (state as Record<string, unknown>)
      : {};
  for (const [field, expected] of Object.entries(where)) {
    const actual = Object.hasOwn(record, field) ? record[field] : undefined;
    if (expected === null ? actual !== null && actual !== undefined : actual !== expected)
      return false;
  }
  return true;
}

/** Field names usable in a filter (SQL adapters quote them into a JSON path). */
export function checkFilterField(field: string): string {
  if (field.length === 0 || field.includes('"') || field.includes('\\')) {
    throw new TypeError(`unsupported filter field ${JSON.stringify(field)}`);
  }
  return field;
}

/** Compares strings by Unicode code point (= UTF-8 byte order), unlike `<` on UTF-16 units. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i += 1;
  }
  return a.length - b.length;
}
