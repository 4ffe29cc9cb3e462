/**
 * The idempotent append, once for every adapter whose transaction can run synchronously
 * (memory, better-sqlite3): look the id up; insert when new, otherwise compare bytes with the
 * stored event to tell a duplicate from a conflict. Looking up before inserting (rather than an
 * insert that ignores conflicts) keeps positions dense: SQLite's AUTOINCREMENT burns a number on
 * every ignored insert. Each insert is visible to the next lookup in the same transaction, so an
 * id repeated inside one batch (or across batches sharing a group commit) resolves against its
 * first occurrence with no extra bookkeeping.
 */
import type { AppendOutcome } from '../port.js';
import type { EventRow } from './rows.js';
import { sameBytes } from './rows.js';

/** What one transaction changed in the counters that `stats()` reports. */
export interface CountDelta {
  stored: number;
  duplicates: number;
  conflicts: number;
  byType: Map<string, number>;
  skipped: Map<string, number>;
}

export function emptyDelta(): CountDelta {
  return { stored: 0, duplicates: 0, conflicts: 0, byType: new Map(), skipped: new Map() };
}

/** The storage operations the append needs, run inside one transaction. */
export interface AppendOps {
  /** Inserts a row whose id `find` did not know; returns its position. */
  insert(row: EventRow): number;
  /** The stored event with this id. */
  find(id: string): { readonly position: number; readonly body: Uint8Array } | undefined;
  /** Keeps a conflicting body aside. */
  keepConflict(row: EventRow, originalPosition: number): void;
}

/** Appends rows in order, returning one outcome per row and the counter changes. */
export function applyAppend(
  rows: readonly EventRow[],
  ops: AppendOps,
  delta: CountDelta,
): AppendOutcome[] {
  return rows.map((row) => {
    const existing = ops.find(row.id);
    if (existing === undefined) {
      const position = ops.insert(row);
      delta.stored += 1;
      bump(delta.byType, row.type);
      if (row.skipped !== null) bump(delta.skipped, row.skipped);
      return { status: 'stored', id: row.id, position };
    }
    if (sameBytes(existing.body, row.body)) {
      delta.duplicates += 1;
      return { status: 'duplicate', id: row.id, position: existing.position };
    }
    delta.conflicts += 1;
    ops.keepConflict(row, existing.position);
    return { status: 'conflict', id: row.id, position: existing.position };
  });
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** Adds one transaction's delta into running totals. */
export function addDelta(into: CountDelta, delta: CountDelta): void {
  into.stored += delta.stored;
  into.duplicates += delta.duplicates;
  into.conflicts += delta.conflicts;
  for (const [k, v] of delta.byType) bump(into.byType, k, v);
  for (const [k, v] of delta.skipped) bump(into.skipped, k, v);
}
