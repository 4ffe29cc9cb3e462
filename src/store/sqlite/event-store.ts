/**
 * The SQLite event log (the embedded default), through better-sqlite3.
 *
 * Appends are group-committed: calls arriving in the same tick or while a commit runs share the
 * next `BEGIN IMMEDIATE` transaction, and each caller's promise resolves after that commit. The
 * driver is synchronous, so a transaction never interleaves with another statement of this
 * process; other processes on the same file wait on the busy timeout, then get `store_busy`.
 */
import { StoreError } from '../errors.js';
import type {
  AppendOutcome,
  EventStoreStats,
  EventStoreWithProjections,
  EventToAppend,
  ProjectionStore,
  StoredEvent,
} from '../port.js';
import { COUNTER, statsFromCounters } from '../shared/counters.js';
import { applyAppend, emptyDelta, type CountDelta } from '../shared/append.js';
import { createGroupCommit } from '../shared/group-commit.js';
import { createAppendNotifier } from '../shared/notifier.js';
import { pageThrough } from '../shared/paging.js';
import { rejectDigest } from '../shared/rejects.js';
import { asBuffer, fromEventRow, toTransientEventRow, type EventRow } from '../shared/rows.js';
import { openSqlite } from './connection.js';
import { createSqliteProjectionStore } from './projection-store.js';

export interface SqliteEventStoreOptions {
  /** The database file (created with its schema when missing). */
  readonly path: string;
  /** How long a write waits for another process's lock before `store_busy` (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /** Events queued for the next transaction before appends are refused (default 10 000). */
  readonly maxPendingAppends?: number;
  /** How often `onAppend` checks for commits by other processes, while listened to (default 100 ms). */
  readonly pollIntervalMs?: number;
  /** The clock stamping `received_at` (default `Date.now`). */
  readonly now?: () => number;
  /** Page size of a new file (a power of two, 512..65536; default 64 KiB); ignored for existing files. */
  readonly pageSize?: number;
}

export interface SqliteEventStore extends EventStoreWithProjections {
  readonly kind: 'sqlite';
  readonly path: string;
  readonly projections: SqliteProjectionStore;
  /** `PRAGMA integrity_check`: `['ok']` when the file is sound. */
  checkIntegrity(): Promise<string[]>;
  /** The connection's durability settings as SQLite reports them (diagnostics, tests). */
  readSettings(): Promise<SqliteSettings>;
}

// Declared here, not beside its implementation, so that the public declarations never reach
// connection.ts and its better-sqlite3 types: TypeScript users need no @types/better-sqlite3.
export type SqliteProjectionStore = ProjectionStore &
  Required<Pick<ProjectionStore, 'listCheckpoints'>>;

export interface SqliteSettings {
  readonly journalMode: string;
  /**
   * 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA: the durability of every durable commit. On a file, FULL's
   * fsync of the WAL is run by the store once per event-loop turn for all the commits of that turn,
   * before any of them is answered (see `walSyncs`).
   */
  readonly synchronous: number;
  readonly busyTimeoutMs: number;
  readonly schemaVersion: number;
  /** The fsyncs of the WAL durable commits have shared so far (0 for an in-memory database). */
  readonly walSyncs: number;
  /**
   * The WAL size in pages at which the store's own connection checkpoints (SQLite's
   * `wal_autocheckpoint`): a backstop, since a worker thread checkpoints a file database.
   */
  readonly walAutocheckpoint: number;
  /** The connection's page cache in KiB (64 MiB: projection commits write all over the states). */
  readonly pageCacheKib: number;
}

interface EventRowOut {
  position: number;
  id: string;
  type: string;
  stream: string | null;
  sourceTime: number;
  data: string;
  body?: Buffer;
}

const COLUMNS = 'position, id, type, stream, source_time AS sourceTime, data';
/** A row of COLUMNS read as an array. */
type FactsRow = [number, string, string, string | null, number, string];

/**
 * Opens (creating if needed) a SQLite event store.
 *
 * @example
 * const store = createSqliteEventStore({ path: './data/truto-state.db' });
 * const [outcome] = await store.append([event]); // { status: 'stored', position: 1, … }
 * await store.close();
 */
export function createSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  const connection = openSqlite(options.path, options.busyTimeoutMs ?? 5000, options.pageSize);
  const { db } = connection;
  const now = options.now ?? Date.now;
  const pollIntervalMs = options.pollIntervalMs ?? 100;

  const sql = {
    insert: db.prepare(
      `INSERT INTO events (id, type, stream, source_time, data, skipped, skip_issues, received_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // The id index alone answers a miss (the common case); the body is read only on a hit.
    find: db.prepare('SELECT position FROM events WHERE id = ?').pluck(),
    bodyAt: db.prepare('SELECT body FROM events WHERE position = ?').pluck(),
    conflict: db.prepare(
      'INSERT INTO conflicts (event_id, original_position, received_at, body) VALUES (?, ?, ?, ?)',
    ),
    bump: db.prepare(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value',
    ),
    head: db.prepare('SELECT COALESCE(MAX(position), 0) AS head FROM events').pluck(),
    // Facts without bodies come from the covering index (schema.ts, migration 3), never from
    // the table rows that carry the bodies.
    // Rows as arrays (`raw`): the hot reads of the projector build no object per row to take
    // apart at once (rebuild of 100k events: about 9% faster).
    readAll: db
      .prepare(
        `SELECT ${COLUMNS} FROM events INDEXED BY events_facts WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`,
      )
      .raw(true),
    readAllBodies: db.prepare(
      `SELECT ${COLUMNS}, body FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`,
    ),
    // The stream index finds the positions; the covering index gives their facts.
    readStream: db
      .prepare(
        `SELECT ${COLUMNS} FROM events INDEXED BY events_facts WHERE position IN (
         SELECT position FROM events INDEXED BY events_by_stream
         WHERE stream = ? AND position > ? AND position <= ? ORDER BY position LIMIT ?)
       ORDER BY position`,
      )
      .raw(true),
    readStreamBodies: db.prepare(
      `SELECT ${COLUMNS}, body FROM events WHERE stream = ? AND position > ? AND position <= ? ORDER BY position LIMIT ?`,
    ),
    readEvent: db.prepare(`SELECT ${COLUMNS}, body FROM events WHERE id = ?`),
    reject: db.prepare(
      `INSERT INTO rejects (source, reason, message, digest, received_at, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, reason, digest) DO NOTHING`,
    ),
    counters: db.prepare('SELECT name, value FROM counters'),
  };

  const readHead = (): number => sql.head.get() as number;

  /** One transaction for every queued append; runs synchronously inside BEGIN IMMEDIATE. */
  async function commitGroup(
    requests: readonly (readonly EventRow[])[],
  ): Promise<AppendOutcome[][]> {
    const receivedAt = now();
    const result = await connection.write(
      'appending events',
      () => {
        const delta = emptyDelta();
        const ops = {
          insert: (row: EventRow) =>
            Number(
              sql.insert.run(
                row.id,
                row.type,
                row.stream,
                row.sourceTime,
                row.data,
                row.skipped,
                row.skipIssues,
                receivedAt,
                row.body,
              ).lastInsertRowid,
            ),
          find: (id: string) => {
            const position = sql.find.get(id) as number | undefined;
            return position === undefined
              ? undefined
              : { position, body: sql.bodyAt.get(position) as Buffer };
          },
          keepConflict(row: EventRow, originalPosition: number) {
            sql.conflict.run(row.id, originalPosition, receivedAt, row.body);
          },
        };
        const outcomes = requests.map((rows) => applyAppend(rows, ops, delta));
        saveCounters(delta);
        return { outcomes, stored: delta.stored };
      },
      // Announced before the disk sync, which the group commit waits for before answering: the
      // live projection of these events then commits in this turn too, and one sync covers
      // both (wal-sync.ts).
      'deferred',
    );
    if (result.stored > 0) notifier.notify(connection.run('reading the head', readHead));
    return result.outcomes;
  }

  function saveCounters(delta: CountDelta): void {
    if (delta.stored > 0) sql.bump.run(COUNTER.events, delta.stored);
    if (delta.duplicates > 0) sql.bump.run(COUNTER.duplicates, delta.duplicates);
    if (delta.conflicts > 0) sql.bump.run(COUNTER.conflicts, delta.conflicts);
    for (const [type, n] of delta.byType) sql.bump.run(COUNTER.ofType(type), n);
    for (const [reason, n] of delta.skipped) sql.bump.run(COUNTER.skipped(reason), n);
  }

  const group = createGroupCommit<readonly EventRow[], AppendOutcome[]>({
    maxPending: options.maxPendingAppends ?? 10_000,
    sizeOf: (rows) => rows.length,
    commit: commitGroup,
    durable: connection.sync,
  });

  // Commits by other processes are seen through PRAGMA data_version, which changes whenever
  // another connection commits. Polled only while someone listens; the timer never keeps the
  // process alive.
  let timer: NodeJS.Timeout | undefined;
  let dataVersion = 0;
  const notifier = createAppendNotifier({
    onFirst() {
      dataVersion = db.pragma('data_version', { simple: true }) as number;
      timer = setInterval(poll, pollIntervalMs);
      timer.unref();
    },
    onLast() {
      clearInterval(timer);
      timer = undefined;
    },
  });

  function poll(): void {
    if (connection.closed) return;
    try {
      const version = db.pragma('data_version', { simple: true }) as number;
      if (version === dataVersion) return;
      dataVersion = version;
      notifier.notify(readHead());
    } catch {
      // A busy or failing poll is retried on the next tick; appends report their own errors.
    }
  }

  const readFacts = (rows: unknown[]): StoredEvent[] =>
    (rows as FactsRow[]).map(([position, id, type, stream, sourceTime, data]) => ({
      position,
      id,
      type,
      stream,
      sourceTime,
      data: JSON.parse(data) as unknown,
    }));

  const readWithBodies = (rows: unknown[]): StoredEvent[] =>
    (rows as EventRowOut[]).map((row) => fromEventRow(row, true));

  let closing = false;

  return {
    kind: 'sqlite',
    path: options.path,
    projections: createSqliteProjectionStore(connection),

    append(events: readonly EventToAppend[]) {
      if (closing)
        return Promise.reject(
          new StoreError('store_closed', 'appending events: the store is closed'),
        );
      if (events.length === 0) return Promise.resolve([]);
      let rows: EventRow[];
      try {
        // Serialised before queueing: a caller's bad event fails that caller, not its group.
        // Bodies are viewed, not copied: they are written by the commit this call awaits.
        rows = events.map(toTransientEventRow);
      } catch (error) {
        return Promise.reject(error);
      }
      return group.submit(rows);
    },

    readAll(after, readOptions) {
      const withBody = readOptions?.withBody === true;
      return pageThrough(after, readOptions, (from, upTo, limit) =>
        connection.run('reading events', () =>
          withBody
            ? readWithBodies(sql.readAllBodies.all(from, upTo, limit))
            : readFacts(sql.readAll.all(from, upTo, limit)),
        ),
      );
    },

    readStream(stream, readOptions) {
      const withBody = readOptions?.withBody === true;
      return pageThrough(0, readOptions, (from, upTo, limit) =>
        connection.run('reading a stream', () =>
          withBody
            ? readWithBodies(sql.readStreamBodies.all(stream, from, upTo, limit))
            : readFacts(sql.readStream.all(stream, from, upTo, limit)),
        ),
      );
    },

    async readEvent(id) {
      const row = connection.run('reading an event', () => sql.readEvent.get(id)) as
        EventRowOut | undefined;
      return row ? fromEventRow(row, true) : undefined;
    },

    async head() {
      return connection.run('reading the head', readHead);
    },

    onAppend: (listener) => notifier.subscribe(listener),

    async recordReject(reject) {
      await connection.write('recording a reject', () => {
        const kept = sql.reject.run(
          reject.source,
          reject.reason,
          reject.message,
          rejectDigest(reject),
          now(),
          asBuffer(reject.body),
        );
        // Counted only when kept: a repeat of a kept reject is not kept again.
        if (kept.changes > 0) sql.bump.run(COUNTER.rejects, 1);
      });
    },

    async check() {
      // One indexed read of the open file (max position), and the file is still the path's.
      connection.run('checking the store', () => {
        connection.checkFile();
        readHead();
      });
    },

    async stats(): Promise<EventStoreStats> {
      return connection.run('reading stats', () => {
        const counters = sql.counters.all() as { name: string; value: number }[];
        return statsFromCounters(counters, { headPosition: readHead() });
      });
    },

    async checkIntegrity() {
      return connection.run('checking integrity', () =>
        (db.pragma('integrity_check') as { integrity_check: string }[]).map(
          (row) => row.integrity_check,
        ),
      );
    },

    async readSettings() {
      return connection.run('reading settings', () => ({
        journalMode: db.pragma('journal_mode', { simple: true }) as string,
        synchronous: db.pragma('synchronous', { simple: true }) as number,
        // The wait for another process's lock (on timers; the driver's own timeout is 0).
        busyTimeoutMs: connection.busyTimeoutMs,
        walSyncs: connection.syncs,
        walAutocheckpoint: db.pragma('wal_autocheckpoint', { simple: true }) as number,
        // Negative: KiB (positive would be pages; the store always sets KiB).
        pageCacheKib: -(db.pragma('cache_size', { simple: true }) as number),
        schemaVersion: db.pragma('user_version', { simple: true }) as number,
      }));
    },

    async close() {
      if (closing) return;
      closing = true;
      // Queued appends were promised a commit: let them finish first.
      await group.drain();
      clearInterval(timer);
      await connection.close();
    },
  };
}
