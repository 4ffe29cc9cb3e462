/**
 * The PostgreSQL event store (`truto-state/postgres`): the log, conflicts, rejects and counters,
 * plus projected state (projection-store.ts) in the same schema.
 *
 * Appends run in parallel, from any number of processes, with no global lock; readers are fenced
 * on the transaction horizon so that "everything after my position" never skips a late commit.
 *
 * Positions are transaction-ordered. Each append transaction first takes its `xid8`
 * (`pg_current_xact_id()`), then numbers its new rows
 *
 *     position = base + (xid - xid0) * 4096 + ordinal        (ordinal 0…4095, input order)
 *
 * where `xid0` (the migrating transaction's xid) and `base` (above every position written before
 * migration 6) are fixed in `position_space` and read once at open. Positions therefore stay plain
 * increasing numbers, unique without a sequence (xids are unique), with gaps (ids that turned out
 * to be duplicates, rolled-back transactions, and every other write transaction in the cluster,
 * which consumes an xid and so 4096 positions).
 *
 * The fence: every read of the log (pages of readAll / readStream, `head`) sees only
 *
 *     position < base + (pg_snapshot_xmin(pg_current_snapshot()) - xid0) * 4096
 *
 * computed in the same statement (one snapshot). Every transaction whose xid is below the
 * snapshot's xmin has ended, so below the fence the log is final: its committed rows are all
 * visible and nothing can be added there later. Any transaction still to commit has an xid >=
 * xmin, hence positions >= the fence. xmin only grows, so the fence only moves forward, and a
 * reader following "position > my cursor" sees every committed row exactly once, in position
 * order. A rolled-back transaction leaves a gap nobody waits for. `readEvent` (by id) is not fenced.
 *
 * Read your own writes: a read (head, readAll, readStream) made after one of this process's
 * appends resolved waits until the fence has passed that append (at most OWN_WRITES_WAIT_MS), so
 * a process sees what it wrote, as with the other adapters. Another process's fresh commit is
 * seen once the fence passes it (its NOTIFY wakes listeners, who re-read until it has).
 *
 * Budget: positions stay below Number.MAX_SAFE_INTEGER for 2^53 / 4096 ≈ 2.2e12 write
 * transactions in the whole cluster after migration 6 (at 10 000 per second, about 7 years);
 * past that, appends fail with `store_failed` rather than return an inexact position.
 *
 * Limits of the design:
 * - The fence stalls behind the oldest write transaction running anywhere in the cluster (any
 *   database; read-only transactions take no xid and do not count). Appends keep committing, but
 *   readers (projections, the live tail) see nothing past it until it ends. Our own transactions
 *   are short; a stalled process's is ended by `idle_in_transaction_session_timeout` (5 s by
 *   default). `fenceLag()` reports how many transactions the fence trails the newest xid by;
 *   `pg_stat_activity.backend_xid` / `xact_start` name the transaction holding it.
 * - One transaction holds at most 4096 rows: the group commit takes at most 4096 events, and an
 *   `append` call with more commits them 4096 rows per transaction, in order. Such a call is then
 *   not atomic: if it fails part-way, a prefix may be stored; sending it again is safe
 *   (idempotent by id). Calls of up to 4096 events (every caller here: HTTP, `import` batches of
 *   1000 by default) store their new events in one statement, all or nothing; when some ids were
 *   already stored, their duplicates and conflicts are kept aside (with their counters) by a
 *   second statement (commitTransaction).
 * - Idempotency is by the unique id, as before: `INSERT … ON CONFLICT (id) DO NOTHING` waits for
 *   a concurrent transaction inserting the same id, then compares bytes with the row it committed.
 *   Rows are inserted in id order so two appends sharing ids lock them in the same order and never
 *   deadlock; `busyTimeoutMs` is the `lock_timeout` for that wait (store_busy past it).
 * - Counters (`stats()`) are sharded by xid (16 rows per name, summed on read), so concurrent
 *   appends rarely touch the same counter row; the change journal is still serialised by its own
 *   lock (projection-store.ts), which only projection commits take.
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
import { translatePgError } from './errors.js';
import { createPgListener } from './listener.js';
import type { LeaseFence } from './fence.js';
import { createPostgresProjectionStore } from './projection-store.js';
import { fnv1a32 } from '../shared/partition.js';
import { migrate } from './schema.js';
import {
  channelName,
  checkSchemaName,
  clientConfig,
  preparer,
  queryConfig,
  type ConnectionSettings,
  type Statement,
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
  /** Events per append transaction (default 1000, at most 4096: see the header). */
  readonly maxBatchEvents?: number;
  /** Events waiting for a transaction before appends are refused with store_overloaded (default 50 000). */
  readonly maxPending?: number;
  /**
   * How long an append waits for a row lock (another transaction inserting the same id, a
   * counter row) before failing with store_busy (default 10 000 ms): the `lock_timeout`.
   */
  readonly busyTimeoutMs?: number;
  /** See ConnectionSettings: a stalled process's open transaction is ended after this (default 5000 ms). */
  readonly idleInTransactionTimeoutMs?: number;
  readonly applicationName?: string;
  /**
   * Run the frequent statements as named prepared statements, parsed and planned once per
   * connection (default true). Turn off behind a pooler in transaction mode that does not track
   * them (PgBouncer before 1.21, or without `max_prepared_statements`).
   */
  readonly preparedStatements?: boolean;
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
  /**
   * How many transactions the readers' fence trails the newest one by: 0 to a few under normal
   * load; a figure that keeps growing means an old write transaction somewhere in the cluster is
   * holding readers back (see `pg_stat_activity.backend_xid`).
   */
  fenceLag(): Promise<number>;
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

/** Positions one transaction may number (ordinals 0…4095): the most rows per transaction. */
export const ROWS_PER_TRANSACTION = 4096;

/** Counter rows per name: appends write the shard of their xid, `stats()` sums them. */
const COUNTER_SHARDS = 16n;

/** How long a read waits for the fence to pass this process's own appends (see ownWritesFenced). */
const OWN_WRITES_WAIT_MS = 5000;

/**
 * The first pause before re-reading the head while the fence trails a commit we know of. Under
 * load the next NOTIFY re-reads sooner anyway (with three instances under the bench's load, a
 * 2 ms first pause made about 270 re-reads per instance per 10 000 requests, 10 ms about 150);
 * when the log goes quiet, a commit another process made is seen within this much of the fence
 * passing it.
 */
const CHASE_MIN_DELAY_MS = 10;

/** The longest pause between re-reads of the head while the fence trails a commit we know of. */
const CHASE_MAX_DELAY_MS = 200;

/** Where transaction-ordered positions start (migration 6): see the header. */
interface PositionSpace {
  readonly xid0: bigint;
  readonly base: bigint;
}

/**
 * The readers' fence as a SQL expression: positions below it belong to transactions that have all
 * ended. Evaluated once per statement (the snapshot functions are stable), so it is an index bound;
 * never below `base`, since every row under `base` predates migration 6 and is final.
 */
function fenceSql({ xid0, base }: PositionSpace): string {
  return `greatest(${base}, ${base} + (pg_snapshot_xmin(pg_current_snapshot())::text::bigint - ${xid0}) * ${ROWS_PER_TRANSACTION})`;
}

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
  // The backends of this store's own connections: a NOTIFY one of them sent announced an append
  // this process has already announced to its listeners (see announce).
  const ownBackends = new Set<number>();
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    // Set from the server's BackendKeyData during connect (untyped in @types/pg).
    const backend = (client as unknown as { processID?: number | null }).processID;
    if (typeof backend === 'number') {
      ownBackends.add(backend);
      client.once('end', () => ownBackends.delete(backend));
    }
  });
  try {
    await migrate(pool, schema);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw translatePgError(error, `migrating schema ${schema}`);
  }

  let space: PositionSpace;
  try {
    const { rows } = await pool.query<{ xid0: string; base: string }>(
      `SELECT xid0::text AS xid0, base::text AS base FROM ${s}.position_space`,
    );
    const row = rows[0];
    if (rows.length !== 1 || row === undefined) {
      throw new Error(`${schema}.position_space must hold exactly one row`);
    }
    space = { xid0: BigInt(row.xid0), base: BigInt(row.base) };
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw translatePgError(error, `opening schema ${schema}`);
  }
  const fence = fenceSql(space);
  const prepare = preparer(options.preparedStatements ?? true);

  const maxBatchEvents = Math.min(
    ROWS_PER_TRANSACTION,
    Math.max(1, options.maxBatchEvents ?? 1000),
  );
  const busyTimeoutMs = Math.max(1, Math.floor(options.busyTimeoutMs ?? 10_000));
  const appendChannel = channelName('append', schema);
  const changesChannel = channelName('changes', schema);
  let closed = false;

  function open(): void {
    if (closed) throw new StoreError('store_closed', 'the postgres store is closed');
  }

  async function query<R extends pg.QueryResultRow>(
    doing: string,
    statement: Statement,
    values: unknown[] = [],
  ): Promise<R[]> {
    open();
    try {
      return (await pool.query<R>(queryConfig(statement, values))).rows;
    } catch (error) {
      throw translatePgError(error, doing);
    }
  }

  // Read your own writes: a read in this process after one of its appends resolved must include
  // it, as with every other adapter, but the fence only passes that append once every older write
  // transaction in the cluster has ended too. So a read first waits (briefly, backing off) for
  // the fence to pass the newest xid this process committed, for at most OWN_WRITES_WAIT_MS:
  // past that (an old transaction stalled somewhere) it reads what is final, which is still
  // correct, only not yet up to its own append. Other processes' appends are not waited for.
  let ownXid = 0n;
  let passedXmin = 0n;
  const xminStatement = prepare('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
  async function ownWritesFenced(): Promise<void> {
    if (ownXid < passedXmin) return;
    const deadline = Date.now() + OWN_WRITES_WAIT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const [row] = await query<{ xmin: string }>('reading the transaction horizon', xminStatement);
      const xmin = BigInt((row as { xmin: string }).xmin);
      if (xmin > passedXmin) passedXmin = xmin;
      if (ownXid < passedXmin || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Whether every position up to `position` is below a fence some read has already seen. */
  function belowSeenFence(position: number): boolean {
    const seen = space.base + (passedXmin - space.xid0) * BigInt(ROWS_PER_TRANSACTION);
    return passedXmin > 0n && BigInt(position) < seen;
  }

  /** The highest position below the fence: one backward step of the primary key index. */
  const headStatement = prepare(
    `SELECT max(position) AS head FROM ${s}.events WHERE position < ${fence}`,
  );
  async function readHead(): Promise<number> {
    await ownWritesFenced();
    const rows = await query<{ head: number | null }>('reading the head', headStatement);
    return rows[0]?.head ?? 0;
  }

  /** The fenced head and the snapshot it was read in (xmin sets the fence), in one statement. */
  const horizonStatement = prepare(
    `SELECT (SELECT max(position) FROM ${s}.events WHERE position < ${fence}) AS head,
            pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
            pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`,
  );
  async function readHorizon(): Promise<{ head: number; xmin: bigint; xmax: bigint }> {
    const rows = await query<{ head: number | null; xmin: string; xmax: string }>(
      'reading the head',
      horizonStatement,
    );
    const row = rows[0] as { head: number | null; xmin: string; xmax: string };
    const xmin = BigInt(row.xmin);
    if (xmin > passedXmin) passedXmin = xmin;
    return { head: row.head ?? 0, xmin, xmax: BigInt(row.xmax) };
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
  //
  // The head read is fenced, so right after a commit it can still lag that commit: an older
  // write transaction elsewhere in the cluster is still open (and sends no NOTIFY when it ends).
  // So a wake-up also sets a horizon to reach, in xids, and the head is re-read, backing off,
  // until the fence has passed it: for our own commit, our xid + 1; for a NOTIFY, the snapshot
  // xmax of the first read after it (every transaction that had committed when the NOTIFY came is
  // below it). Both are the database's own figures, and every open transaction ends (the idle
  // timeout ends stalled ones), so the chase always stops.
  let horizon = 0n;
  let nextReadSetsHorizon = false;
  let chaseDelay = 0;
  let chaseTimer: NodeJS.Timeout | undefined;
  const refreshHead = coalesce(async () => {
    const setsHorizon = nextReadSetsHorizon;
    nextReadSetsHorizon = false;
    const read = await readHorizon();
    appendNotifier.notify(read.head);
    if (setsHorizon && read.xmax > horizon) horizon = read.xmax;
    if (read.xmin >= horizon || closed || appendNotifier.size === 0) {
      chaseDelay = 0;
    } else if (chaseTimer === undefined) {
      chaseDelay = Math.min(Math.max(CHASE_MIN_DELAY_MS, chaseDelay * 2), CHASE_MAX_DELAY_MS);
      chaseTimer = setTimeout(() => {
        chaseTimer = undefined;
        refreshHead();
      }, chaseDelay);
      chaseTimer.unref();
    }
  });
  /** Our own commit (transaction `xid`) reaches this process's listeners once it is fenced in. */
  function announce(xid: bigint): void {
    if (appendNotifier.size === 0) return;
    if (xid + 1n > horizon) horizon = xid + 1n;
    refreshHead();
  }
  // Other processes learn of an append from a NOTIFY sent after its COMMIT, in a statement of its
  // own. Sent inside the append's transaction, it would take PostgreSQL's one lock serialising
  // every NOTIFYing commit of the cluster and hold it through the commit's WAL flush: three
  // instances' appends then queued on it (0.26 backends waiting on average, bench postgres).
  // This statement writes nothing, so its commit flushes nothing. One in flight at a time; a
  // process that dies before sending it leaves the others' poll to find the append.
  const wakeStatement = prepare('SELECT pg_notify($1, $2)');
  let wakePosition = 0;
  const wake = coalesce(() =>
    query('waking other processes', wakeStatement, [appendChannel, String(wakePosition)]).then(
      () => undefined,
    ),
  );
  function wakeOthers(position: number): void {
    if (position > wakePosition) wakePosition = position;
    wake();
  }
  const refreshSeq = coalesce(() => readLastSeq().then((seq) => changesNotifier.notify(seq)));
  const listener = createPgListener({
    settings,
    channels: [appendChannel, changesChannel],
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    onNotify(channel, _payload, sender) {
      if (closed) return;
      if (channel === appendChannel) {
        if (appendNotifier.size === 0 || ownBackends.has(sender)) return;
        nextReadSetsHorizon = true;
        refreshHead();
      } else if (channel === changesChannel && changesNotifier.size > 0) refreshSeq();
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
    prepare,
    onJournalled: (last) => changesNotifier.notify(last),
  });

  /**
   * Appends rows (ids may repeat across and within requests): one transaction per
   * ROWS_PER_TRANSACTION rows, in order, so no transaction numbers more positions than it has.
   */
  async function commitRows(rows: readonly EventRow[]): Promise<AppendOutcome[]> {
    if (rows.length <= ROWS_PER_TRANSACTION) return commitTransaction(rows);
    const outcomes: AppendOutcome[] = [];
    for (let from = 0; from < rows.length; from += ROWS_PER_TRANSACTION) {
      outcomes.push(...(await commitTransaction(rows.slice(from, from + ROWS_PER_TRANSACTION))));
    }
    return outcomes;
  }

  /**
   * One append (at most ROWS_PER_TRANSACTION rows) in as few round trips as the rows allow. The
   * new rows go in with ONE statement, its own transaction: it takes the xid that numbers them,
   * inserts them in id order (two appends sharing ids then wait for each other's rows in the
   * same order, never a deadlock) and bumps their counters, all or nothing; other processes are
   * woken after it committed (wakeOthers).
   * Only when some id was already stored (a re-delivery, a conflict) does a second statement
   * read those rows back and keep duplicates and conflicts aside with their counters: the
   * stored rows are then committed before that second statement, and an interruption between
   * them loses only a duplicate's count (the delivery is retried and counted then).
   */
  async function commitTransaction(rows: readonly EventRow[]): Promise<AppendOutcome[]> {
    // The first occurrence of each id is the one inserted; later ones compare against it.
    const firstOf = new Map<string, number>();
    const fresh: EventRow[] = [];
    rows.forEach((row, i) => {
      if (!firstOf.has(row.id)) {
        firstOf.set(row.id, i);
        fresh.push(row);
      }
    });

    const { xid, inserted } = await insertNew(fresh);
    if (inserted.size > 0) {
      if (xid > ownXid) ownXid = xid;
      announce(xid);
      wakeOthers(Math.max(...inserted.values()));
    }
    if (inserted.size === rows.length) {
      return rows.map((row) => ({
        status: 'stored',
        id: row.id,
        position: inserted.get(row.id) as number,
      }));
    }

    // Ids already in the log (committed before this statement, or by a transaction it waited
    // for): position and bytes tell duplicates from conflicts.
    const known = new Map<string, { position: number; body: Uint8Array }>();
    const missing = fresh.filter((row) => !inserted.has(row.id)).map((row) => row.id);
    if (missing.length > 0) {
      for (const r of await query<{ id: string; position: number; body: Buffer }>(
        'appending (reading stored ids)',
        storedIdsStatement,
        [missing],
      ))
        known.set(r.id, { position: r.position, body: r.body });
    }
    if (missing.some((id) => !known.has(id)) && xid > positionLimit) {
      throw new StoreError(
        'store_failed',
        `postgres: positions of transaction ${xid} would pass 2^53 (${schema}.position_space starts at xid ${space.xid0}): the position space is spent`,
      );
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

    // Conflicts kept aside and their counters, in one statement. Counter names in one order, so
    // two appends meeting on a shard never deadlock.
    const names = [...counts.keys()].sort();
    await query('appending (keeping duplicates and conflicts aside)', keepAsideStatement, [
      conflicts.map((c) => c.id),
      conflicts.map((c) => c.position),
      conflicts.map((c) => c.body),
      names,
      names.map((name) => counts.get(name)),
      Number(xid % COUNTER_SHARDS),
    ]);
    return outcomes;
  }

  /** The last xid whose 4096 positions all stay below 2^53 (see the header's budget). */
  const positionLimit =
    space.xid0 + (BigInt(Number.MAX_SAFE_INTEGER) - space.base) / BigInt(ROWS_PER_TRANSACTION) - 1n;

  /** The ids of an append that were stored already: their positions and bytes. */
  const storedIdsStatement = prepare(
    `SELECT id, position, body FROM ${s}.events WHERE id = ANY($1::text[])`,
  );

  /** An append's conflicts kept aside, and its duplicate and conflict counters. */
  const keepAsideStatement = prepare(
    `WITH kept AS (
         INSERT INTO ${s}.conflicts (event_id, original_position, body)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) RETURNING 1)
       INSERT INTO ${s}.counters (name, shard, value)
       SELECT name, $6, value FROM unnest($4::text[], $5::bigint[]) AS x(name, value) ORDER BY name
       ON CONFLICT (name, shard) DO UPDATE SET value = ${s}.counters.value + excluded.value`,
  );

  /** An append's new rows and their counters (see insertNew). */
  const insertStatement = prepare(
    `WITH tx AS (
         SELECT pg_current_xact_id()::text::bigint AS xid,
                -- This statement's transaction only: durable commit even if the server default
                -- says otherwise, and a bounded wait for another transaction's row (store_busy).
                set_config('synchronous_commit', 'on', true) AS sync,
                set_config('lock_timeout', $9, true) AS wait),
       input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                              $6::text[], $7::text[], $8::bytea[], $13::bigint[])
           WITH ORDINALITY AS t(id, type, stream, source_time, data, skipped, skip_issues, body, stream_hash, ord)),
       ins AS (
         INSERT INTO ${s}.events (position, id, type, stream, source_time, data, skipped, skip_issues, body, stream_hash)
         SELECT ${space.base} + (tx.xid - ${space.xid0}) * ${ROWS_PER_TRANSACTION} + input.ord - 1,
                input.id, input.type, input.stream, input.source_time, input.data::json,
                input.skipped, input.skip_issues::json, input.body, input.stream_hash
           FROM input CROSS JOIN tx
          WHERE tx.xid <= ${positionLimit}
          ORDER BY input.id
         ON CONFLICT (id) DO NOTHING
         RETURNING id, position, type, skipped),
       counted AS (
         INSERT INTO ${s}.counters (name, shard, value)
         SELECT name, (SELECT xid FROM tx) % ${COUNTER_SHARDS}, count(*) FROM (
           SELECT $10::text AS name FROM ins
           UNION ALL SELECT $11::text || type FROM ins
           UNION ALL SELECT $12::text || skipped FROM ins WHERE skipped IS NOT NULL) AS c
         GROUP BY name ORDER BY name
         ON CONFLICT (name, shard) DO UPDATE SET value = ${s}.counters.value + excluded.value
         RETURNING 1)
       SELECT (SELECT xid FROM tx)::text AS xid, ins.id, ins.position,
              (SELECT count(*) FROM counted) AS done
         FROM (SELECT 1) AS one LEFT JOIN ins ON true`,
  );

  /** One event by id, with its body (readEvent). */
  const readEventStatement = prepare(
    `SELECT position, id, type, stream, source_time AS "sourceTime", data::text AS data, body FROM ${s}.events WHERE id = $1`,
  );

  /**
   * The new rows of `fresh` in one statement (see commitTransaction): answers this statement's
   * xid and the positions of the rows it inserted (ids already stored are left out). Positions
   * follow the input order; a transaction past the position budget inserts nothing.
   */
  async function insertNew(
    fresh: readonly EventRow[],
  ): Promise<{ xid: bigint; inserted: Map<string, number> }> {
    const rows = await query<{ xid: string; id: string | null; position: number | null }>(
      'appending',
      insertStatement,
      [
        fresh.map((row) => row.id),
        fresh.map((row) => row.type),
        fresh.map((row) => row.stream),
        fresh.map((row) => row.sourceTime),
        fresh.map((row) => row.data),
        fresh.map((row) => row.skipped),
        fresh.map((row) => row.skipIssues),
        fresh.map((row) => asBuffer(row.body)),
        `${busyTimeoutMs}ms`,
        COUNTER.events,
        COUNTER.ofType(''),
        COUNTER.skipped(''),
        fresh.map((row) => (row.stream === null ? null : fnv1a32(row.stream))),
      ],
    );
    const inserted = new Map<string, number>();
    for (const row of rows) if (row.id !== null) inserted.set(row.id, row.position as number);
    return { xid: BigInt((rows[0] as { xid: string }).xid), inserted };
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

  /** A page fetcher for one read (it waits for this process's own appends before its first page). */
  function readPage(where: string, args: unknown[], withBody: boolean) {
    const n = args.length;
    // Six texts per store (all events, one stream or one partition, with or without bodies):
    // prepared.
    const statement = prepare(
      `SELECT position, id, type, stream, source_time AS "sourceTime", data::text AS data${withBody ? ', body' : ''}
         FROM ${s}.events WHERE ${where} position > $${n + 1} AND position <= $${n + 2} AND position < ${fence}
        ORDER BY position LIMIT $${n + 3}`,
    );
    let first = true;
    return async (after: number, upTo: number, limit: number): Promise<StoredEvent[]> => {
      // A read that stops below a fence already seen (a projection reading up to the head it
      // was told) has all it asked for, whatever this process appended since.
      if (first && !belowSeenFence(upTo)) await ownWritesFenced();
      first = false;
      const rows = await query<{
        position: number;
        id: string;
        type: string;
        stream: string | null;
        sourceTime: number;
        data: string;
        body?: Buffer;
      }>('reading events', statement, [...args, after, upTo, limit]);
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
      const withBody = options?.withBody === true;
      const partition = options?.partition;
      if (partition === undefined) return pageThrough(after, options, readPage('', [], withBody));
      const { modulo, remainder } = partition;
      if (!Number.isSafeInteger(modulo) || modulo < 1 || !Number.isSafeInteger(remainder)) {
        throw new RangeError('partition: modulo must be a positive integer, remainder an integer');
      }
      return pageThrough(
        after,
        options,
        readPage(
          '(stream_hash IS NULL OR stream_hash % $1 = $2) AND',
          [modulo, remainder],
          withBody,
        ),
      );
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
      }>('reading an event', readEventStatement, [id]);
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
         INSERT INTO ${s}.counters (name, shard, value)
           SELECT $6, pg_backend_pid() % ${COUNTER_SHARDS}, count(*) FROM kept HAVING count(*) > 0
         ON CONFLICT (name, shard) DO UPDATE SET value = ${s}.counters.value + excluded.value`,
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

    async fenceLag() {
      const rows = await query<{ lag: number }>(
        'reading the fence lag',
        `SELECT pg_snapshot_xmax(s)::text::bigint - pg_snapshot_xmin(s)::text::bigint AS lag
           FROM pg_current_snapshot() AS s`,
      );
      return rows[0]?.lag ?? 0;
    },

    async check() {
      await query('checking the store', 'SELECT 1');
    },

    async stats(): Promise<EventStoreStats> {
      const counters = await query<{ name: string; value: number }>(
        'reading stats',
        `SELECT name, sum(value)::bigint AS value FROM ${s}.counters GROUP BY name`,
      );
      return statsFromCounters(counters, { headPosition: await readHead() });
    },

    async close() {
      if (closed) return;
      // Let queued appends finish (their callers are waiting for an answer), then refuse new work.
      await writer.drain();
      await wake.idle();
      closed = true;
      clearTimeout(chaseTimer);
      await listener.stop();
      await pool.end();
    },
  };
}

/**
 * Runs `read` now, or once more after the run in progress when called during one: a burst of
 * wake-ups costs at most two reads, and the last read starts after the last wake-up. `idle()`
 * resolves once no read runs or is due.
 */
function coalesce(read: () => Promise<void>): (() => void) & { idle(): Promise<void> } {
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): void => {
    again = false;
    running = read()
      .catch(() => undefined) // A failed read is retried by the next wake-up or poll.
      .finally(() => {
        running = undefined;
        if (again) run();
      });
  };
  const trigger = (): void => {
    if (running) again = true;
    else run();
  };
  return Object.assign(trigger, {
    async idle() {
      while (running) await running;
    },
  });
}
