/**
 * Partition leases: how several instances sharing one PostgreSQL database split projection work.
 *
 * Entities are split into N partitions (`partitionOf(stream, N)`); each partition has a row in
 * `leases` (owner, epoch, expires_at). Every `renewEveryMs` an instance, on its own connection:
 *   1. heartbeats its row in `lease_instances` (alive until now + leaseMs, by the server's clock);
 *   2. renews its unexpired leases (an expired one is lost, even if nobody took it yet);
 *   3. computes its fair share from the live instances (N / live, the remainder going to the
 *      first instances by id), releases partitions beyond it, and claims free or expired ones
 *      up to it; a claim bumps the epoch.
 * A dead instance's partitions expire after `leaseMs` and are claimed on the next round, so a
 * takeover takes at most leaseMs + renewEveryMs (6 s by default).
 *
 * Exclusivity does not rest on timing: every projection commit for partition p is FENCED (see
 * fence.ts). The commit transaction first checks, and share-locks, that the lease row still names
 * this owner and epoch and has not expired; otherwise it fails with LeaseLostError and writes
 * nothing. A takeover UPDATE waits for (or skips) a row a commit holds, so the new owner starts
 * after the old owner's last commit. An instance that stalls past its lease (GC pause, SIGSTOP,
 * lost network) can therefore never commit for a partition someone else now holds.
 *
 * Locally, an instance stops believing it holds its partitions at (time the last successful
 * renewal was sent + leaseMs - renewEveryMs), before the server can hand them to anyone else.
 *
 * A rebuild's swap (projection-store.ts, swapProjections) bumps every lease's epoch, owner kept:
 * commits under the old epoch are refused, the next renewal reads the new epoch, and `owned$`
 * emits it, so the engine restarts those partitions' runners on the rebuilt state.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { BehaviorSubject, distinctUntilChanged, map, type Observable } from 'rxjs';
import type { ProjectionCommit, ProjectionStore } from '../port.js';
import { translatePgError } from './errors.js';
import type { LeaseFence } from './fence.js';
import type { PostgresProjectionStore } from './event-store.js';
import { migrate } from './schema.js';
import { checkSchemaName, clientConfig, inTransaction } from './sql.js';
import { partitionOf } from '../shared/partition.js';

export interface PartitionLeasesOptions {
  readonly connectionString: string;
  /** The schema of the event store these leases serve (default `truto_state`). */
  readonly schema?: string;
  /** Unique per running process (e.g. hostname + pid + random). */
  readonly instanceId: string;
  /**
   * How many partitions the work is split into; every instance must use the same number. Left
   * out: the count the lease table already has, or DEFAULT_PARTITIONS for a new one.
   */
  readonly partitions?: number;
  /** How long a lease and a heartbeat last without renewal (default 5000 ms). */
  readonly leaseMs?: number;
  /** How often leases are renewed and rebalanced (default 1000 ms; must be below leaseMs / 2). */
  readonly renewEveryMs?: number;
  readonly applicationName?: string;
  /**
   * Checks the partition count against the lease table and takes part in nothing: no heartbeat,
   * no partition ever held (a `rebuild` beside running instances needs the count, not a share).
   */
  readonly observe?: boolean;
}

export interface PartitionLeases {
  readonly instanceId: string;
  readonly partitions: number;
  /**
   * The partitions held now; emits the current set on subscribe and on every change, including a
   * change of epoch alone (a rebuild's swap bumps every lease: see `fence`).
   */
  readonly owned$: Observable<ReadonlySet<number>>;
  /** The partitions held now (empty once the last renewal is too old to trust). */
  owned(): ReadonlySet<number>;
  /** The fence to commit partition `p` under, or undefined when it is not held. */
  fence(partition: number): LeaseFence | undefined;
  /** Runs one renew-and-balance round now (it also runs on its own timer). */
  tick(): Promise<void>;
  /** Gives up every partition at once (others take them on their next round) and stops. */
  close(): Promise<void>;
}

const EMPTY: ReadonlySet<number> = new Set();

/**
 * The partition count of a new lease table when none is given: one. One instance then projects
 * everything and the others ingest, serve and stand by to take over. Measured with
 * `npm run bench -- postgres` on 2 cores (instances, database and load client sharing them),
 * three instances ingested at 0.98-1.12x one instance with one partition and 0.83-0.98x with
 * eight: each partition holder wakes on every append anywhere and reads and commits on its own,
 * so spreading the projection costs more CPU in all than one holder doing it. Projecting is far
 * cheaper per event than a durable append, so one holder keeps up with the database's commit
 * rate.
 */
export const DEFAULT_PARTITIONS = 1;

/**
 * Joins the lease group of a schema (creating or migrating the schema if needed) and starts
 * renewing. Resolves after the first round, so `owned()` is already meaningful.
 *
 * @example
 * const leases = await createPartitionLeases({ connectionString, instanceId: `serve-${process.pid}`, partitions: 8 });
 * leases.owned$.subscribe((owned) => engine.runPartitions(owned));
 * // in partition p's runner:
 * const fence = leases.fence(p); // undefined: not ours any more
 * await store.projections.commit(batch, { fence }); // { ok: false, reason: 'lease_lost' } if p moved on
 */
export async function createPartitionLeases(
  options: PartitionLeasesOptions,
): Promise<PartitionLeases> {
  const schema = checkSchemaName(options.schema ?? 'truto_state');
  const s = `"${schema}"`;
  const { instanceId } = options;
  const leaseMs = options.leaseMs ?? 5000;
  const renewEveryMs = options.renewEveryMs ?? 1000;
  if (
    options.partitions !== undefined &&
    (!Number.isSafeInteger(options.partitions) || options.partitions < 1)
  )
    throw new RangeError('partitions must be a positive integer');
  if (!(renewEveryMs > 0 && renewEveryMs * 2 < leaseMs))
    throw new RangeError('renewEveryMs must be positive and below leaseMs / 2');
  if (instanceId.length === 0) throw new RangeError('instanceId must not be empty');

  // One dedicated connection: the heartbeat never queues behind projection work.
  const pool = new pg.Pool({
    ...clientConfig({
      connectionString: options.connectionString,
      applicationName: options.applicationName ?? `truto-state-leases ${instanceId}`,
    }),
    max: 1,
  });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => void client.on('error', () => undefined));

  async function q<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    return (await pool.query<R>(text, values)).rows;
  }

  let partitions: number;
  try {
    await migrate(pool, schema);
    partitions = await settleCount(pool, schema, options.partitions);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error instanceof RangeError ? error : translatePgError(error, 'joining the lease group');
  }

  if (options.observe) {
    await pool.end().catch(() => undefined);
    return {
      instanceId,
      partitions,
      owned$: new BehaviorSubject<ReadonlySet<number>>(EMPTY).asObservable(),
      owned: () => EMPTY,
      fence: () => undefined,
      tick: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  /** partition -> epoch of the leases we hold. */
  let held = new Map<number, number>();
  /** performance.now() after which `held` is no longer trusted. */
  let validUntil = 0;
  let closed = false;
  let running: Promise<void> | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  /** What is held now, and its epochs as a key: a new epoch (a rebuild's swap) is news too. */
  const subject = new BehaviorSubject<{ owned: ReadonlySet<number>; key: string }>({
    owned: EMPTY,
    key: '',
  });

  function publish(): void {
    const trusted = performance.now() < validUntil;
    const sorted = trusted ? [...held].sort(([a], [b]) => a - b) : [];
    subject.next({
      owned: sorted.length > 0 ? new Set(sorted.map(([p]) => p)) : EMPTY,
      key: sorted.map(([p, epoch]) => `${p}@${epoch}`).join(','),
    });
  }

  function setHeld(next: Map<number, number>, trustedUntil: number): void {
    held = next;
    validUntil = trustedUntil;
    publish();
    if (expiryTimer) clearTimeout(expiryTimer);
    // If no renewal succeeds in time, drop everything locally (the server will soon hand it on).
    expiryTimer = setTimeout(publish, Math.max(0, trustedUntil - performance.now()) + 1);
    expiryTimer.unref();
  }

  /**
   * This instance's lease rows matching `condition`, locked in partition order. A rebuild's swap
   * locks every lease row in that order (projection-store.ts): a statement that locked several
   * in the table's physical order (which updates reshuffle) could hold a higher partition while
   * waiting for a lower one the swap holds, and the swap wait for it in turn: a deadlock, which
   * PostgreSQL broke by failing the swap under load.
   */
  const ownRowsInOrder = (condition: string): string =>
    `partition IN (SELECT partition FROM ${s}.leases WHERE owner = $1 AND ${condition}
                    ORDER BY partition FOR UPDATE) AND owner = $1 AND ${condition}`;

  async function round(): Promise<void> {
    const sent = performance.now();
    const trustedUntil = sent + leaseMs - renewEveryMs;
    await q(
      `INSERT INTO ${s}.lease_instances (instance, expires_at) VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond')
       ON CONFLICT (instance) DO UPDATE SET expires_at = excluded.expires_at`,
      [instanceId, leaseMs],
    );
    const renewed = await q<{ partition: number; epoch: number }>(
      `UPDATE ${s}.leases SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'
        WHERE ${ownRowsInOrder('expires_at > clock_timestamp()')} RETURNING partition, epoch`,
      [instanceId, leaseMs],
    );
    const next = new Map(renewed.map((r) => [r.partition, r.epoch]));

    const live = (
      await q<{ instance: string }>(
        `SELECT instance FROM ${s}.lease_instances WHERE expires_at > clock_timestamp() ORDER BY instance COLLATE "C"`,
      )
    ).map((r) => r.instance);
    const rank = Math.max(0, live.indexOf(instanceId));
    const count = Math.max(1, live.length);
    const share = Math.floor(partitions / count) + (rank < partitions % count ? 1 : 0);

    if (next.size > share) {
      const extra = [...next.keys()].sort((a, b) => b - a).slice(0, next.size - share);
      for (const p of extra) next.delete(p);
      // Stop believing first, then release: a commit still running is fenced either way.
      setHeld(next, trustedUntil);
      await q(
        `UPDATE ${s}.leases SET owner = NULL, expires_at = '-infinity'
          WHERE ${ownRowsInOrder('partition = ANY($2::int[])')}`,
        [instanceId, extra],
      );
    } else if (next.size < share) {
      // SKIP LOCKED: a row share-locked by a commit in flight is left for a later round.
      const claimed = await q<{ partition: number; epoch: number }>(
        `UPDATE ${s}.leases SET owner = $1, epoch = epoch + 1, expires_at = clock_timestamp() + $3 * interval '1 millisecond'
          WHERE partition IN (SELECT partition FROM ${s}.leases
                               WHERE owner IS NULL OR expires_at <= clock_timestamp()
                               ORDER BY partition LIMIT $2 FOR UPDATE SKIP LOCKED)
            AND (owner IS NULL OR expires_at <= clock_timestamp())
          RETURNING partition, epoch`,
        [instanceId, share - next.size, leaseMs],
      );
      for (const r of claimed) next.set(r.partition, r.epoch);
    }
    setHeld(next, trustedUntil);
  }

  function tick(): Promise<void> {
    if (closed) return Promise.resolve();
    // Rounds never overlap; a caller arriving mid-round waits for that round.
    running ??= round()
      .catch(() => {
        // The server is unreachable or the connection was killed: keep what we hold until it
        // can no longer be trusted (the expiry timer), and try again next round.
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  await tick();
  const timer = setInterval(() => void tick(), renewEveryMs);
  timer.unref();

  return {
    instanceId,
    partitions,
    owned$: subject.pipe(
      distinctUntilChanged((a, b) => a.key === b.key),
      map((x) => x.owned),
    ),
    owned: () => (performance.now() < validUntil ? subject.getValue().owned : EMPTY),
    fence(partition) {
      if (performance.now() >= validUntil) return undefined;
      const epoch = held.get(partition);
      return epoch === undefined ? undefined : { partition, owner: instanceId, epoch };
    },
    tick,
    async close() {
      if (closed) return;
      clearInterval(timer);
      await running;
      closed = true;
      if (expiryTimer) clearTimeout(expiryTimer);
      held = new Map();
      validUntil = 0;
      publish();
      subject.complete();
      try {
        await q(
          `UPDATE ${s}.leases SET owner = NULL, expires_at = '-infinity' WHERE ${ownRowsInOrder('true')}`,
          [instanceId],
        );
        await q(`DELETE FROM ${s}.lease_instances WHERE instance = $1`, [instanceId]);
      } catch {
        // Unreachable: the leases simply expire.
      } finally {
        await pool.end().catch(() => undefined);
      }
    },
  };
}

/**
 * A ProjectionStore view whose `commit` is fenced by one partition's lease: what a partition's
 * runner is given, so every commit it makes answers `lease_lost` once the lease is gone.
 */
export function fencedProjectionStore(
  projections: PostgresProjectionStore,
  fence: LeaseFence,
): ProjectionStore {
  return {
    readCheckpoint: (name, partition) => projections.readCheckpoint(name, partition),
    listCheckpoints: () => projections.listCheckpoints(),
    readStates: (projection, keys) => projections.readStates(projection, keys),
    listStates: (projection, options) => projections.listStates(projection, options),
    countStates: (projection, where) => projections.countStates(projection, where),
    countGroups: (projection) => projections.countGroups(projection),
    countDeadLetters: (projection) => projections.countDeadLetters(projection),
    commit: (batch: ProjectionCommit) => projections.commit(batch, { fence }),
    clearProjection: (name) => projections.clearProjection(name),
    swapProjections: (swaps, resets) => projections.swapProjections(swaps, resets),
    readDeadLetters: (projection) => projections.readDeadLetters(projection),
    readChanges: (after, limit) => projections.readChanges(after, limit),
    pruneChanges: (upTo) => projections.pruneChanges(upTo),
    lastChangeSeq: () => projections.lastChangeSeq(),
  };
}

/**
 * The partition count of the lease table: made with `wanted` (or DEFAULT_PARTITIONS) when the
 * table is empty, else the one it has. A given count that differs from the table's is refused:
 * two counts would map one entity to two partitions, each applying its events. The table is
 * locked meanwhile, so two instances starting on a new database agree.
 */
async function settleCount(
  pool: pg.Pool,
  schema: string,
  wanted: number | undefined,
): Promise<number> {
  const s = `"${schema}"`;
  return inTransaction(pool, async (client) => {
    // Conflicts with itself and with row updates: one instance at a time reads and fills it.
    await client.query(`LOCK TABLE ${s}.leases IN SHARE ROW EXCLUSIVE MODE`);
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${s}.leases`,
    );
    const stored = rows[0]?.n ?? 0;
    if (stored > 0 && wanted !== undefined && wanted !== stored) {
      throw new RangeError(
        `the lease table of schema ${schema} has ${stored} partitions but this instance was started with ${wanted}; ` +
          "every instance must use the same count (leave the count out to use the table's; to change it, stop them all and empty the leases table)",
      );
    }
    if (stored > 0) return stored;
    const count = wanted ?? DEFAULT_PARTITIONS;
    await client.query(
      `INSERT INTO ${s}.leases (partition) SELECT generate_series(0, $1::int - 1)`,
      [count],
    );
    return count;
  });
}

/**
 * What an engine needs to project the partitions `leases` holds (the engine's PartitionSource):
 * one fenced store per lease (partition and epoch), so a new epoch (a rebuild's swap) is a new
 * store and restarts the partition's runner.
 *
 * @example
 * const engine = await createEngine({ store, projections, partitions: leasedPartitions(store.projections, leases) });
 */
export function leasedPartitions(projections: PostgresProjectionStore, leases: PartitionLeases) {
  const count = leases.partitions;
  const fenced = new Map<number, { epoch: number; store: ProjectionStore }>();
  return {
    count,
    partitionOf: (stream: string) => partitionOf(stream, count),
    // partitionOf is the stored stream hash modulo count: the store can filter reads on it.
    readFilter: (partition: number) => ({ modulo: count, remainder: partition }),
    owned$: leases.owned$,
    storeFor: (partition: number): ProjectionStore | undefined => {
      const fence = leases.fence(partition);
      if (!fence) return undefined;
      const kept = fenced.get(partition);
      if (kept?.epoch === fence.epoch) return kept.store;
      const store = fencedProjectionStore(projections, fence);
      fenced.set(partition, { epoch: fence.epoch, store });
      return store;
    },
  };
}
