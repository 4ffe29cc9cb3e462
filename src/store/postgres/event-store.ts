/**
 * The PostgreSQL event store (`truto-state/postgres`): the log, conflicts, rejects and counters,
 * plus projected state (projection-store.ts) in the same schema.
 *
 * Gap safety: positions come from a sequence, which hands out values at insert time while rows
 * become visible at COMMIT, so with concurrent writers position 7 could become visible before 6
 * and a reader following "after my position" would skip 6 for ever. We SERIALISE appends: each
 * append transaction takes `pg_advisory_xact_lock(append, schema)` before drawing positions and
 * holds it through COMMIT (locks are released after the commit is visible), so positions become
 * visible strictly in order, across every process sharing the database. A rolled-back append
 * leaves a gap, which readers simply pass over: nothing waits on it.
 *
 * Cost: one append transaction at a time per database. Each process batches concurrent appends
 * into one transaction (group commit, up to `maxBatchEvents`), so the limit is about
 * batch size / (insert + commit fsync) per database rather than per request; several instances
 * queue on the lock instead of committing in parallel. The alternative, fencing reads on the
 * transaction horizon (`pg_snapshot_xmin`), lets writers run in parallel but needs a reader
 * cursor of (xid, position) to be exact, and stalls every reader behind any long transaction in
 * the cluster; serialising keeps plain numeric positions exact.
 */
import pg from 'pg';
import { StoreError } from '../errors.js';
import type {
  AppendOutcome,
  Checkpoint,
  CommitResult,
  EventStoreStats,
  EventStoreWithProjections,
  EventToAppend,
  ProjectionCommit,
  ProjectionStore,
  RejectToRecord,
  StoredEvent,
} from '../port.js';
import { COUNTER, statsFromCounters } from '../shared/counters.js';
import { createGroupCommit } from '../shared/group-commit.js';
import { createAppendNotifier } from '../shared/notifier.js';
import { pageThrough } from '../shared/paging.js';
import { rejectDigest } from '../shared/rejects.js';
import { asBuffer, fromEventRow, sameBytes, toEventRow, type EventRow } from '../shared/rows.js';
import { isConnectionFault, translatePgError } from './errors.js';
import { createPgListener } from './listener.js';
import type { LeaseFence } from './fence.js';
import { createPostgresProjectionStore } from './projection-store.js';
import { migrate } from './schema.js';
import {
  LockPurpose,
  channelName,
  checkSchemaName,
  clientConfig,
  lockArgs,
  type ConnectionSettings,
} from './sql.js';

export interface PostgresStoreOptions {
  /** e.g. `postgres://user:pass@host:5432/db`. */
  readonly connectionString: string;
  /** The PostgreSQL schema holding every table (default `truto_state`); created if missing. */
  readonly schema?: string;
  /** Pooled connections (default 10). */
  readonly poolSize?: number;
  /** How often listeners poll for commits from other processes besides LISTEN (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** Events per append transaction (default 1000). */
  readonly maxBatchEvents?: number;
  /** Events waiting for a transaction before appends are refused with store_overloaded (default 50 000). */
  readonly maxPending?: number;
  /** How long an append waits for the append lock before failing with store_busy (default 10 000 ms). */
  readonly busyTimeoutMs?: number;
  /** See ConnectionSettings: a stalled process's open transaction is ended after this (default 5000 ms). */
  readonly idleInTransactionTimeoutMs?: number;
  readonly applicationName?: string;
}

export interface PostgresEventStore extends EventStoreWithProjections {
  readonly kind: 'postgres';
  readonly projections: PostgresProjectionStore;
  readonly schema: string;
  /**
   * Calls `listener` with the last journalled change seq after projection commits, from this
   * process at once and from others via LISTEN/NOTIFY or a poll. Returns an unsubscribe function.
   */
  onChanges(listener: (lastSeq: number) => void): () => void;
}

// The projection store's public types live here, not beside its implementation, so that the
// public declarations never reach a module typed with pg's own types: TypeScript users of
// `truto-state/postgres` need no @types/pg. (For the same reason the store does not expose its
// `pg.Pool`.)
export interface CommitOptions {
  /** Refuse the commit (`lease_lost`, nothing written) unless this lease is still held. */
  readonly fence?: LeaseFence;
}

export interface PostgresProjectionStore extends ProjectionStore {
  /** As the port's `commit`, optionally fenced by a partition lease. */
  commit(batch: ProjectionCommit, options?: CommitOptions): Promise<CommitResult>;
  listCheckpoints(): Promise<Checkpoint[]>;
  countGroups(projection: string): Promise<number>;
  countDeadLetters(projection: string): Promise<{ letters: number; entities: number }>;
}

/** Rows per INSERT statement (8 parameters each, far below the 65 535 limit). */
const INSERT_CHUNK = 500;

/**
 * Opens (creating or migrating its schema) a PostgreSQL event store.
 *
 * @example
 * const store = await createPostgresEventStore({ connectionString: 'postgres://localhost/truto' });
 * const [outcome] = await store.append([event]);
 * await store.close();
 */
export async function createPostgresEventStore(
  options: PostgresStoreOptions,
): Promise<PostgresEventStore> {
  const schema = checkSchemaName(options.schema ?? 'truto_state');
  const s = `"${schema}"`;
  const settings: ConnectionSettings = {
    connectionString: options.connectionString,
    ...(options.applicationName ? { applicationName: options.applicationName } : {}),
    ...(options.idleInTransactionTimeoutMs
      ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }
      : {}),
  };
  const pool = new pg.Pool({ ...clientConfig(settings), max: options.poolSize ?? 10 });
  // A connection killed by the server (pg_terminate_backend, restart) must not crash the process:
  // idle ones are reported on the pool, which drops them; a checked-out one emits 'error' on the
  // client while its query fails, and that failure is what we translate and report.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => void client.on('error', () => undefined));
  try {
    await migrate(pool, schema);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw translatePgError(error, `migrating schema ${schema}`);
  }

  const maxBatchEvents = Math.max(1, options.maxBatchEvents ?? 1000);
  const busyTimeoutMs = Math.max(1, Math.floor(options.busyTimeoutMs ?? 10_000));
  const appendChannel = channelName('append', schema);
  const changesChannel = channelName('changes', schema);
  let closed = false;

  function open(): void {
    if (closed) throw new StoreError('store_closed', 'the postgres store is closed');
  }

  async function query<R extends pg.QueryResultRow>(
    doing: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    open();
    try {
      return (await pool.query<R>(text, values)).rows;
    } catch (error) {
      throw translatePgError(error, doing);
    }
  }

  async function readHead(): Promise<number> {
    const rows = await query<{ head: number | null }>(
      'reading the head',
      `SELECT max(position) AS head FROM ${s}.events`,
    );
    return rows[0]?.head ?? 0;
  }

  async function readLastSeq(): Promise<number> {
    return projections.lastChangeSeq();
  }

  // Live tail: one LISTEN connection and one poll serve both notifiers, while either has listeners.
  const appendNotifier = createAppendNotifier({
    onFirst: () => listenerUsers(+1),
    onLast: () => listenerUsers(-1),
  });
  const changesNotifier = createAppendNotifier({
    onFirst: () => listenerUsers(+1),
    onLast: () => listenerUsers(-1),
  });
  // A NOTIFY is only a wake-up: its payload is never believed. Any role that may NOTIFY on the
  // channel could announce position 2^53-1, and the notifiers only ever move forward, so a
  // believed payload would silence every later head. Each wake-up re-reads the head (or the last
  // journalled seq) from the tables; wake-ups arriving during a read share the next one.
  const refreshHead = coalesce(() => readHead().then((head) => appendNotifier.notify(head)));
  const refreshSeq = coalesce(() => readLastSeq().then((seq) => changesNotifier.notify(seq)));
  const listener = createPgListener({
    settings,
    channels: [appendChannel, changesChannel],
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    onNotify(channel) {
      if (closed) return;
      if (channel === appendChannel) refreshHead();
      else if (channel === changesChannel) refreshSeq();
    },
    onPoll() {
      if (closed) return;
      if (appendNotifier.size > 0) refreshHead();
      if (changesNotifier.size > 0) refreshSeq();
    },
  });
  let listenerCount = 0;
  function listenerUsers(delta: number): void {
    listenerCount += delta;
    if (listenerCount > 0 && !closed) listener.start();
    if (listenerCount === 0) void listener.stop();
  }

  const projections = createPostgresProjectionStore({
    pool,
    schema,
    open,
    changesChannel,
    onJournalled: (last) => changesNotifier.notify(last),
  });

  /** One append transaction for every row of a group (ids may repeat across and within requests). */
  async function commitRows(rows: readonly EventRow[]): Promise<AppendOutcome[]> {
    // The first occurrence of each id is the one inserted; later ones compare against it.
    const firstOf = new Map<string, number>();
    const fresh: EventRow[] = [];
    rows.forEach((row, i) => {
      if (!firstOf.has(row.id)) {
        firstOf.set(row.id, i);
        fresh.push(row);
      }
    });

    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translatePgError(error, 'connecting to append');
    }
    try {
      // One round trip: durable commit even if the server default says otherwise, a bounded wait
      // for the append lock (store_busy past it), and the lock itself (see the header).
      await client.query(
        `BEGIN; SET LOCAL synchronous_commit TO on; SET LOCAL lock_timeout = ${busyTimeoutMs};
         SELECT pg_advisory_xact_lock(${lockArgs(LockPurpose.append, schema)})`,
      );
      const inserted = new Map<string, number>();
      for (let from = 0; from < fresh.length; from += INSERT_CHUNK) {
        const chunk = fresh.slice(from, from + INSERT_CHUNK);
        const values: unknown[] = [];
        const tuples = chunk.map((row) => {
          const n = values.length;
          values.push(
            row.id,
            row.type,
            row.stream,
            row.sourceTime,
            row.data,
            row.skipped,
            row.skipIssues,
            asBuffer(row.body),
          );
          return `(nextval('${s}.events_position_seq'), $${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}::json, $${n + 6}, $${n + 7}::json, $${n + 8})`;
        });
        // VALUES rows are evaluated in order, so positions follow the input order.
        const result = await client.query<{ id: string; position: number }>(
          `INSERT INTO ${s}.events (position, id, type, stream, source_time, data, skipped, skip_issues, body)
           VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id, position`,
          values,
        );
        for (const r of result.rows) inserted.set(r.id, r.position);
      }

      // Ids already in the log: fetch position and bytes to tell duplicates from conflicts.
      const known = new Map<string, { position: number; body: Uint8Array }>();
      const missing = fresh.filter((row) => !inserted.has(row.id)).map((row) => row.id);
      if (missing.length > 0) {
        const found = await client.query<{ id: string; position: number; body: Buffer }>(
          `SELECT id, position, body FROM ${s}.events WHERE id = ANY($1::text[])`,
          [missing],
        );
        for (const r of found.rows) known.set(r.id, { position: r.position, body: r.body });
      }
      for (const [id, position] of inserted) {
        known.set(id, { position, body: (rows[firstOf.get(id) as number] as EventRow).body });
      }

      const counts = new Map<string, number>();
      const bump = (name: string): void => void counts.set(name, (counts.get(name) ?? 0) + 1);
      const conflicts: { id: string; position: number; body: Buffer }[] = [];
      const outcomes = rows.map((row, i): AppendOutcome => {
        const original = known.get(row.id);
        if (original === undefined) throw new Error(`event ${row.id} is neither new nor stored`);
        if (firstOf.get(row.id) === i && inserted.has(row.id)) {
          bump(COUNTER.events);
          bump(COUNTER.ofType(row.type));
          if (row.skipped !== null) bump(COUNTER.skipped(row.skipped));
          return { status: 'stored', id: row.id, position: original.position };
        }
        if (sameBytes(original.body, row.body)) {
          bump(COUNTER.duplicates);
          return { status: 'duplicate', id: row.id, position: original.position };
        }
        conflicts.push({ id: row.id, position: original.position, body: row.body });
        bump(COUNTER.conflicts);
        return { status: 'conflict', id: row.id, position: original.position };
      });

      if (conflicts.length > 0) {
        await client.query(
          `INSERT INTO ${s}.conflicts (event_id, original_position, body)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])`,
          [
            conflicts.map((c) => c.id),
            conflicts.map((c) => c.position),
            conflicts.map((c) => c.body),
          ],
        );
      }
      if (counts.size > 0) {
        await client.query(
          `INSERT INTO ${s}.counters (name, value) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (name) DO UPDATE SET value = ${s}.counters.value + excluded.value`,
          [[...counts.keys()], [...counts.values()]],
        );
      }
      const head = Math.max(0, ...inserted.values());
      // Delivered to listeners only if, and when, this transaction commits.
      if (head > 0) await client.query('SELECT pg_notify($1, $2)', [appendChannel, String(head)]);
      await client.query('COMMIT');
      client.release();
      if (head > 0) appendNotifier.notify(head);
      return outcomes;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(isConnectionFault(error) ? true : undefined);
      throw translatePgError(error, 'appending');
    }
  }

  const writer = createGroupCommit<EventRow[], AppendOutcome[]>({
    maxPending: options.maxPending ?? 50_000,
    // One transaction per group (all or nothing): a deterministic failure is then retried
    // request by request by the group commit, and nothing of the group was committed before.
    maxBatch: maxBatchEvents,
    sizeOf: (rows) => rows.length,
    async commit(requests) {
      const outcomes = await commitRows(requests.flat());
      const results: AppendOutcome[][] = [];
      let offset = 0;
      for (const request of requests) {
        results.push(outcomes.slice(offset, offset + request.length));
        offset += request.length;
      }
      return results;
    },
  });

  function readPage(where: string, args: unknown[], withBody: boolean) {
    return async (after: number, upTo: number, limit: number): Promise<StoredEvent[]> => {
      const n = args.length;
      const rows = await query<{
        position: number;
        id: string;
        type: string;
        stream: string | null;
        sourceTime: number;
        data: string;
        body?: Buffer;
      }>(
        'reading events',
        `SELECT position, id, type, stream, source_time AS "sourceTime", data::text AS data${withBody ? ', body' : ''}
           FROM ${s}.events WHERE ${where} position > $${n + 1} AND position <= $${n + 2} ORDER BY position LIMIT $${n + 3}`,
        [...args, after, upTo, limit],
      );
      return rows.map((row) => fromEventRow(row, withBody));
    };
  }

  return {
    kind: 'postgres',
    schema,
    projections,

    async append(events: readonly EventToAppend[]) {
      open();
      if (events.length === 0) return [];
      // Serialised before queueing: a bad event fails its own call, not the whole group.
      const rows = events.map(toEventRow);
      return writer.submit(rows);
    },

    readAll(after, options) {
      return pageThrough(after, options, readPage('', [], options?.withBody === true));
    },

    readStream(stream, options) {
      return pageThrough(
        0,
        options,
        readPage('stream = $1 AND', [stream], options?.withBody === true),
      );
    },

    async readEvent(id) {
      const rows = await query<{
        position: number;
        id: string;
        type: string;
        stream: string | null;
        sourceTime: number;
        data: string;
        body: Buffer;
      }>(
        'reading an event',
        `SELECT position, id, type, stream, source_time AS "sourceTime", data::text AS data, body FROM ${s}.events WHERE id = $1`,
        [id],
      );
      return rows[0] ? fromEventRow(rows[0], true) : undefined;
    },

    head: readHead,

    onAppend: (listener) => appendNotifier.subscribe(listener),

    onChanges: (listener) => changesNotifier.subscribe(listener),

    async recordReject(reject: RejectToRecord) {
      // One statement: the reject and its counter, counted only when kept (not a repeat).
      await query(
        'recording a reject',
        `WITH kept AS (
           INSERT INTO ${s}.rejects (source, reason, message, digest, body) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (source, reason, digest) DO NOTHING RETURNING 1)
         INSERT INTO ${s}.counters (name, value) SELECT $6, count(*) FROM kept HAVING count(*) > 0
         ON CONFLICT (name) DO UPDATE SET value = ${s}.counters.value + excluded.value`,
        [
          reject.source,
          reject.reason,
          reject.message,
          rejectDigest(reject),
          asBuffer(reject.body),
          COUNTER.rejects,
        ],
      );
    },

    async check() {
      await query('checking the store', 'SELECT 1');
    },

    async stats(): Promise<EventStoreStats> {
      const counters = await query<{ name: string; value: number }>(
        'reading stats',
        `SELECT name, value FROM ${s}.counters`,
      );
      return statsFromCounters(counters, { headPosition: await readHead() });
    },

    async close() {
      if (closed) return;
      // Let queued appends finish (their callers are waiting for an answer), then refuse new work.
      await writer.drain();
      closed = true;
      await listener.stop();
      await pool.end();
    },
  };
}

/**
 * Runs `read` now, or once more after the run in progress when called during one: a burst of
 * wake-ups costs at most two reads, and the last read starts after the last wake-up.
 */
function coalesce(read: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    again = false;
    read()
      .catch(() => undefined) // A failed read is retried by the next wake-up or poll.
      .finally(() => {
        running = false;
        if (again) run();
      });
  };
  return () => {
    if (running) again = true;
    else run();
  };
}
