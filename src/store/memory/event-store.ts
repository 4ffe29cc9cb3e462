/**
 * The in-memory event log: the reference adapter the contract suite runs first, and the store for
 * tests and embedding without a database. Not durable. It keeps the same rows a database would
 * (JSON text for `data`, copied bytes) so it behaves like the durable adapters.
 */
import { StoreError } from '../errors.js';
import type {
  AppendOutcome,
  EventStoreStats,
  EventStoreWithProjections,
  EventToAppend,
  RejectToRecord,
} from '../port.js';
import { addDelta, applyAppend, emptyDelta } from '../shared/append.js';
import { createAppendNotifier } from '../shared/notifier.js';
import { pageThrough } from '../shared/paging.js';
import { rejectDigest } from '../shared/rejects.js';
import { fromEventRow, toEventRow, type EventRow } from '../shared/rows.js';
import { createMemoryProjectionStore } from './projection-store.js';

interface MemoryRow extends EventRow {
  readonly position: number;
}

export interface MemoryEventStore extends EventStoreWithProjections {
  readonly kind: 'memory';
}

/**
 * Creates an empty in-memory store (log and projection state).
 *
 * @example
 * const store = createMemoryEventStore();
 * await store.append([event]);
 * for await (const batch of store.readAll(0)) console.log(batch.length);
 */
export function createMemoryEventStore(): MemoryEventStore {
  // Positions start at 1 and are dense here: rows[i].position === i + 1.
  const rows: MemoryRow[] = [];
  const byId = new Map<string, MemoryRow>();
  const byStream = new Map<string, MemoryRow[]>();
  const conflicts: { id: string; position: number; body: Buffer }[] = [];
  const rejects = new Map<string, RejectToRecord>();
  const totals = emptyDelta();
  const notifier = createAppendNotifier();
  let closed = false;

  function open(): void {
    if (closed) throw new StoreError('store_closed', 'the memory store is closed');
  }

  function appendNow(events: readonly EventToAppend[]): AppendOutcome[] {
    const input = events.map(toEventRow);
    const delta = emptyDelta();
    const outcomes = applyAppend(
      input,
      {
        insert(row) {
          const stored: MemoryRow = { ...row, position: rows.length + 1 };
          rows.push(stored);
          byId.set(row.id, stored);
          if (row.stream !== null) {
            const list = byStream.get(row.stream) ?? [];
            list.push(stored);
            byStream.set(row.stream, list);
          }
          return stored.position;
        },
        find: (id) => byId.get(id),
        keepConflict(row, position) {
          conflicts.push({ id: row.id, position, body: row.body });
        },
      },
      delta,
    );
    addDelta(totals, delta);
    return outcomes;
  }

  const toEvent = (withBody: boolean) => (row: MemoryRow) => fromEventRow(row, withBody);

  return {
    kind: 'memory',
    projections: createMemoryProjectionStore(),

    async append(events) {
      open();
      const outcomes = appendNow(events);
      notifier.notify(rows.length);
      return outcomes;
    },

    readAll(after, options) {
      const withBody = options?.withBody === true;
      // Dense positions: the page after position p starts at index p.
      return pageThrough(after, options, (from, upTo, limit) => {
        open();
        return rows.slice(from, Math.min(from + limit, upTo)).map(toEvent(withBody));
      });
    },

    readStream(stream, options) {
      const withBody = options?.withBody === true;
      return pageThrough(0, options, (from, upTo, limit) => {
        open();
        const list = byStream.get(stream) ?? [];
        const start = firstAfter(list, from);
        return list
          .slice(start, start + limit)
          .filter((row) => row.position <= upTo)
          .map(toEvent(withBody));
      });
    },

    async readEvent(id) {
      open();
      const row = byId.get(id);
      return row ? fromEventRow(row, true) : undefined;
    },

    async head() {
      open();
      return rows.length;
    },

    onAppend: (listener) => notifier.subscribe(listener),

    async recordReject(reject) {
      open();
      const key = `${reject.source}\u0000${reject.reason}\u0000${rejectDigest(reject)}`;
      if (!rejects.has(key)) rejects.set(key, { ...reject, body: Buffer.from(reject.body) });
    },

    async check() {
      open();
    },

    async stats(): Promise<EventStoreStats> {
      open();
      return {
        events: rows.length,
        byType: Object.fromEntries(totals.byType),
        duplicates: totals.duplicates,
        conflicts: conflicts.length,
        rejects: rejects.size,
        skipped: Object.fromEntries(totals.skipped),
        headPosition: rows.length,
      };
    },

    async close() {
      closed = true;
    },
  };
}

/** Index of the first row with a position above `after` (rows are in position order). */
function firstAfter(list: readonly MemoryRow[], after: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as MemoryRow).position <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
