/**
 * The PostgreSQL ProjectionStore: states, checkpoints, dead letters and the change journal in the
 * same database (and schema) as the log. `commit` is one transaction.
 *
 * Gap safety of the journal: `seq` comes from a sequence, and several instances commit, so a
 * lower seq could become visible after a higher one and a reader following "after my seq" would
 * skip it. Journal inserts are therefore serialised by a transaction-scoped advisory lock taken
 * as the LAST step of the commit (states and checkpoints are written before it, concurrently
 * across instances), so the lock covers only the journal insert and the COMMIT itself.
 */
import type pg from 'pg';
import type {
  ChangeRecord,
  Checkpoint,
  DeadLetter,
  DerivedRead,
  ListOptions,
  StateFilter,
  StateRow,
} from '../port.js';
import { checkpointMoved, commitResult } from '../errors.js';
import { checkFilterField } from '../shared/filter.js';
import {
  checkCommitText,
  decodeOptional,
  journalled,
  encodeChangeStates,
  rememberText,
  encodeState,
  storableLetter,
} from '../shared/json.js';
import { translatePgError } from './errors.js';
import { LeaseLostError, fenceSql } from './fence.js';
import { inTransaction, LockPurpose, lockArgs, queryConfig, type Statement } from './sql.js';
import { fnv1a32 } from '../shared/partition.js';
import { derivedChanges, inLockOrder } from '../shared/derived.js';
import type { CommitOptions, PostgresProjectionStore } from './event-store.js';

export interface ProjectionStoreContext {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** Throws store_closed once the store is closed. */
  readonly open: () => void;
  /** Called after a commit that journalled changes, with the last seq. */
  readonly onJournalled: (lastSeq: number) => void;
  readonly changesChannel: string;
  /** Marks a fixed statement text as prepared (see sql.ts). */
  readonly prepare: (text: string) => Statement;
}

interface StateDbRow {
  key: string;
  state: string;
  last_time: number;
  last_id: string;
  position: number;
  poisoned: string | null;
  grp: string | null;
}

interface ChangeDbRow {
  seq: number;
  projection: string;
  key: string;
  before: string | null;
  after: string | null;
  event_id: string;
  position: number;
}

export function createPostgresProjectionStore(
  ctx: ProjectionStoreContext,
): PostgresProjectionStore {
  const { pool, prepare } = ctx;
  const s = `"${ctx.schema}"`;
  // The statements of every projection commit and of the live path's reads, prepared once. A
  // commit is as few round trips as its locks allow (6, or 7 with derived groups; it was 13):
  // with the database across a network, every round trip is waiting, with the locks held.
  const sql = {
    // Every lock a commit takes before it writes, in one statement and in the one order every
    // commit uses: its lease row (fence.ts; the swap's UPDATE waits for it), its own partition's
    // checkpoint rows (compare-and-set), then each derived group's advisory lock (unnest yields
    // the keys in array order; two groups sharing a key lock it twice, which a transaction may).
    // Select-list subqueries run left to right, once each.
    claim: prepare(
      `SELECT (SELECT count(*) FROM (${fenceSql(s)}) AS lease)::int AS held,
              (SELECT coalesce(json_agg(json_build_array(name, part, position)), '[]')::text FROM (
                 SELECT name, part, position FROM ${s}.checkpoints
                  WHERE (name, part) IN (SELECT * FROM unnest($4::text[], $5::int[]))
                  ORDER BY name, part FOR UPDATE) AS moved) AS positions,
              (SELECT count(pg_advisory_xact_lock(${LockPurpose.group | 0}, k))
                 FROM unnest($6::int[]) AS t(k))::int AS groups`,
    ),
    // A statement of its own, after the locks: read committed takes its snapshot per statement.
    groupMembers: prepare(
      `SELECT projection, ${STATE_COLUMNS} FROM ${s}.states
        WHERE (projection, grp) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        ORDER BY projection, grp, key`,
    ),
    // States, checkpoints and dead letters in one statement (each CTE runs once, to completion).
    write: prepare(
      `WITH st AS (
         INSERT INTO ${s}.states (projection, key, state, last_time, last_id, position, poisoned, grp)
         SELECT projection, key, state::json, last_time, last_id, position, poisoned, grp
           FROM jsonb_to_recordset($1::jsonb)
             AS x(projection text, key text, state text, last_time bigint, last_id text, position bigint, poisoned text, grp text)
         ON CONFLICT (projection, key) DO UPDATE SET state = excluded.state, last_time = excluded.last_time,
           last_id = excluded.last_id, position = excluded.position, poisoned = excluded.poisoned, grp = excluded.grp
         RETURNING 1),
       cp AS (
         INSERT INTO ${s}.checkpoints (name, part, position, version)
         SELECT name, part, position, version
           FROM jsonb_to_recordset($2::jsonb) AS x(name text, part integer, position bigint, version integer)
         ON CONFLICT (name, part) DO UPDATE SET position = excluded.position, version = excluded.version
         RETURNING 1),
       dl AS (
         INSERT INTO ${s}.dead_letters (projection, event_id, key, position, error)
         SELECT projection, event_id, key, position, error
           FROM jsonb_to_recordset($3::jsonb) AS x(projection text, event_id text, key text, position bigint, error text)
         ON CONFLICT (projection, event_id) DO UPDATE SET key = excluded.key, position = excluded.position, error = excluded.error
         RETURNING 1)
       SELECT (SELECT count(*) FROM st) + (SELECT count(*) FROM cp) + (SELECT count(*) FROM dl) AS written`,
    ),
    journalLock: prepare(
      `SELECT pg_advisory_xact_lock(${lockArgs(LockPurpose.journal, ctx.schema)})`,
    ),
    // Under the journal lock: the rows (nextval over rows sorted by i), `changes_head` and the
    // NOTIFY, in one statement. The uncorrelated subquery in WHERE runs once.
    journal: prepare(
      `WITH ins AS (
         INSERT INTO ${s}.changes (seq, projection, key, before, after, event_id, position)
         SELECT nextval('${s}.changes_seq'), projection, key, before::json, after::json, event_id, position
           FROM (SELECT * FROM jsonb_to_recordset($1::jsonb)
                   AS x(i integer, projection text, key text, before text, after text, event_id text, position bigint)
                 ORDER BY i) ordered
         RETURNING seq),
       head AS (
         INSERT INTO ${s}.counters (name, shard, value)
         SELECT 'changes_head', 0, max(seq) FROM ins
         ON CONFLICT (name, shard) DO UPDATE SET value = excluded.value
         RETURNING value)
       SELECT seq FROM ins
        WHERE (SELECT count(pg_notify($2, value::text)) FROM head) = 1`,
    ),
    checkpoint: prepare(
      `SELECT name, part, position, version FROM ${s}.checkpoints WHERE name = $1 AND part = $2`,
    ),
    states: prepare(
      `SELECT ${STATE_COLUMNS} FROM ${s}.states WHERE projection = $1 AND key = ANY($2::text[])`,
    ),
    changes: prepare(
      `SELECT seq, projection, key, before::text AS before, after::text AS after, event_id, position
         FROM ${s}.changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
    ),
    lastChange: prepare(
      `SELECT value FROM ${s}.counters WHERE name = 'changes_head' AND shard = 0`,
    ),
  };

  async function query<R extends pg.QueryResultRow>(
    doing: string,
    statement: Statement,
    values: unknown[] = [],
  ): Promise<R[]> {
    ctx.open();
    try {
      return (await pool.query<R>(queryConfig(statement, values))).rows;
    } catch (error) {
      throw translatePgError(error, doing);
    }
  }

  /** Runs `work` in one transaction on one pooled connection. */
  async function transaction<T>(
    doing: string,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    ctx.open();
    try {
      return await inTransaction(pool, work);
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      throw translatePgError(error, doing);
    }
  }

  /**
   * The commit's derived changes (see `ProjectionCommit.derived`): the claim statement locked
   * each group (a transaction advisory lock, held until COMMIT) before its members are read here,
   * in a statement of their own. Read committed
   * takes a snapshot per statement, so the read made after the lock sees every commit that held
   * the lock before: of two instances committing members of one group, the later reads the
   * earlier's. Locks are taken in one order (inLockOrder), after the checkpoint rows and before
   * the journal lock, like every commit, so commits cannot deadlock on them.
   */
  async function deriveInside(
    client: pg.PoolClient,
    reads: readonly DerivedRead[],
  ): Promise<Omit<ChangeRecord, 'seq'>[]> {
    if (reads.length === 0) return [];
    // Every group's committed members in one read (their locks were taken by the claim).
    const { rows } = await client.query<StateDbRow & { projection: string }>(
      queryConfig(sql.groupMembers, [
        reads.map((read) => read.source),
        reads.map((read) => read.group),
      ]),
    );
    const members = new Map<string, StateRow[]>();
    const memberKey = (source: string, group: string | null) => `${source}\u0000${group}`;
    for (const row of rows) {
      const key = memberKey(row.projection, row.grp);
      const list = members.get(key);
      if (list) list.push(toStateRow(row));
      else members.set(key, [toStateRow(row)]);
    }
    return derivedChanges(reads, (read) => members.get(memberKey(read.source, read.group)) ?? []);
  }

  /**
   * Journals encoded changes under the journal lock (the last step of a transaction, see the
   * header), moves `changes_head` and notifies; answers the seqs in input order.
   */
  async function journalInside(
    client: pg.PoolClient,
    journal: readonly EncodedChange[],
  ): Promise<number[]> {
    if (journal.length === 0) return [];
    await client.query(queryConfig(sql.journalLock));
    const inserted = await client.query<{ seq: number }>(
      queryConfig(sql.journal, [JSON.stringify(journal), ctx.changesChannel]),
    );
    // nextval ran over rows sorted by i, so the sorted seqs line up with the input order.
    return inserted.rows.map((r) => r.seq).sort((a, b) => a - b);
  }

  /** The journalled records of encoded changes, and tells the store the last seq. */
  function journalledRecords(journal: readonly EncodedChange[], seqs: readonly number[]) {
    const records = journal.map((c, i): ChangeRecord =>
      journalled({ ...c, eventId: c.event_id }, seqs[i] as number),
    );
    const last = seqs.at(-1);
    if (last !== undefined) ctx.onJournalled(last);
    return records;
  }

  /** `where` as SQL over `state`, with parameters numbered from `first`. */
  function whereSql(
    where: StateFilter | undefined,
    first: number,
  ): { sql: string; values: unknown[] } {
    const clauses: string[] = [];
    const values: unknown[] = [];
    for (const [field, expected] of Object.entries(where ?? {})) {
      checkFilterField(field);
      values.push(field);
      const f = `$${first + values.length - 1}`;
      if (expected === null) {
        // null matches JSON null or an absent field (as in every adapter).
        clauses.push(`(state -> ${f} IS NULL OR (state -> ${f})::jsonb = 'null'::jsonb)`);
      } else {
        values.push(JSON.stringify(expected));
        // Only the field is cast: jsonb equality respects JSON types (1 never equals "1" or true).
        clauses.push(`(state -> ${f})::jsonb = $${first + values.length - 1}::jsonb`);
      }
    }
    return { sql: clauses.map((c) => ` AND ${c}`).join(''), values };
  }

  return {
    async readCheckpoint(name, partition) {
      const rows = await query<CheckpointRow>('reading a checkpoint', sql.checkpoint, [
        name,
        partition ?? -1,
      ]);
      return toCheckpoint(rows[0]);
    },

    async listCheckpoints() {
      const rows = await query<CheckpointRow>(
        'listing checkpoints',
        `SELECT name, part, position, version FROM ${s}.checkpoints ORDER BY name, part`,
      );
      return rows.map((row) => toCheckpoint(row) as Checkpoint);
    },

    async readStates(projection, keys) {
      const out = new Map<string, StateRow>();
      // A key holding a NUL cannot be a parameter here, and no row has one (commits refuse it):
      // it simply has no state.
      const storable = keys.filter((key) => !key.includes('\u0000'));
      if (storable.length === 0) return out;
      const rows = await query<StateDbRow>('reading states', sql.states, [projection, storable]);
      for (const row of rows) out.set(row.key, toStateRow(row));
      return out;
    },

    async listStates(projection, options: ListOptions = {}) {
      const where = whereSql(options.where, 2);
      const values: unknown[] = [projection, ...where.values];
      let sql = `SELECT ${STATE_COLUMNS} FROM ${s}.states WHERE projection = $1${where.sql}`;
      if (options.group !== undefined) {
        values.push(options.group);
        sql += ` AND grp = $${values.length}`;
      }
      if (options.afterKey !== undefined) {
        values.push(options.afterKey);
        sql += ` AND key > $${values.length}`;
      }
      sql += ' ORDER BY key';
      if (options.limit !== undefined) {
        values.push(Math.max(0, Math.floor(options.limit)));
        sql += ` LIMIT $${values.length}`;
      }
      return (await query<StateDbRow>('listing states', sql, values)).map(toStateRow);
    },

    async countGroups(projection) {
      const rows = await query<{ n: number }>(
        'counting groups',
        `SELECT count(DISTINCT grp) AS n FROM ${s}.states WHERE projection = $1 AND grp IS NOT NULL`,
        [projection],
      );
      return Number(rows[0]?.n ?? 0);
    },

    async countDeadLetters(projection) {
      const rows = await query<{ letters: number; entities: number }>(
        'counting dead letters',
        `SELECT count(*) AS letters, count(DISTINCT key) AS entities FROM ${s}.dead_letters WHERE projection = $1`,
        [projection],
      );
      return { letters: Number(rows[0]?.letters ?? 0), entities: Number(rows[0]?.entities ?? 0) };
    },

    async countStates(projection, where) {
      const filter = whereSql(where, 2);
      const rows = await query<{ n: number }>(
        'counting states',
        `SELECT count(*) AS n FROM ${s}.states WHERE projection = $1${filter.sql}`,
        [projection, ...filter.values],
      );
      return rows[0]?.n ?? 0;
    },

    commit(batch, options: CommitOptions = {}) {
      return commitResult(async () => {
        // Serialise every value before the transaction: a bad value fails with nothing written.
        // A change's `after` is usually the state written beside it: its text is reused.
        const texts = new Map<unknown, string>();
        const states = lastBy(batch.states, (x) => `${x.projection}\u0000${x.row.key}`).map(
          ({ projection, row }) => ({
            projection,
            key: row.key,
            state: rememberText(
              texts,
              row.state,
              encodeState(row.state, { projection, key: row.key }),
            ),
            last_time: row.lastTime,
            last_id: row.lastId,
            position: row.position,
            poisoned: row.poisoned ?? null,
            grp: row.group ?? null,
          }),
        );
        checkCommitText(batch, states);
        const checkpoints = lastBy(
          batch.checkpoints,
          (c) => `${c.name}\u0000${c.partition ?? -1}`,
        ).map((c) => ({
          name: c.name,
          part: c.partition ?? -1,
          position: c.position,
          version: c.version,
        }));
        const letters = lastBy(
          batch.deadLetters.map(storableLetter),
          (l) => `${l.projection}\u0000${l.eventId}`,
        ).map((l) => ({
          projection: l.projection,
          event_id: l.eventId,
          key: l.key,
          position: l.position,
          error: l.error,
        }));
        const changes = batch.changes.map((c, i) => encodeChange(c, i, texts));

        let journal = changes;
        const seqs = await transaction('committing projection state', async (client) => {
          // Not durable by itself (see ProjectionCommit.durable): the next synchronous commit
          // flushes the WAL through this one.
          if (batch.durable === false) await client.query('SET LOCAL synchronous_commit = off');
          const fence = options.fence;
          const expected = batch.expected ?? [];
          const reads = inLockOrder(batch.derived ?? []);
          if (fence || expected.length > 0 || reads.length > 0) {
            const { rows } = await client.query<{ held: number; positions: string }>(
              queryConfig(sql.claim, [
                fence?.partition ?? null,
                fence?.owner ?? null,
                fence?.epoch ?? null,
                expected.map((e) => e.name),
                expected.map((e) => e.partition ?? -1),
                reads.map(
                  (read) => fnv1a32(`${ctx.schema}\u0000${read.source}\u0000${read.group}`) | 0,
                ),
              ]),
            );
            const claimed = rows[0] as { held: number; positions: string };
            if (fence && claimed.held !== 1) throw new LeaseLostError(fence);
            const actual = new Map(
              (JSON.parse(claimed.positions) as [string, number, number][]).map(
                ([name, part, position]) => [`${name}\u0000${part}`, Number(position)],
              ),
            );
            const moved = expected
              .map((e) => ({
                ...e,
                expected: e.position,
                actual: actual.get(`${e.name}\u0000${e.partition ?? -1}`) ?? 0,
              }))
              .filter((m) => m.actual !== m.expected);
            if (moved.length > 0) throw checkpointMoved(moved);
          }
          const derived = await deriveInside(client, reads);
          if (states.length > 0 || checkpoints.length > 0 || letters.length > 0) {
            await client.query(
              queryConfig(sql.write, [
                JSON.stringify(states),
                JSON.stringify(checkpoints),
                JSON.stringify(letters),
              ]),
            );
          }
          journal = [...changes, ...derived.map((c, i) => encodeChange(c, changes.length + i))];
          if (journal.length === 0) return [];
          // Last, so the journal lock is held only for this insert and the COMMIT (see header).
          return journalInside(client, journal);
        });

        return journalledRecords(journal, seqs);
      });
    },

    async clearProjection(name) {
      await transaction('clearing a projection', async (client) => {
        await client.query(`DELETE FROM ${s}.states WHERE projection = $1`, [name]);
        await client.query(`DELETE FROM ${s}.checkpoints WHERE name = $1`, [name]);
        await client.query(`DELETE FROM ${s}.dead_letters WHERE projection = $1`, [name]);
      });
    },

    async swapProjections(swaps, resets) {
      const journal = resets.map((c, i) => encodeChange(c, i));
      // One transaction: readers see the old live state or the new one, never a mix.
      const seqs = await transaction('swapping projections', async (client) => {
        // The fence against instances projecting meanwhile (see the rebuild design in
        // engine/rebuild.ts): every lease is handed to its own holder again (epoch + 1). The
        // UPDATE waits for every partition commit in flight (each holds its lease row FOR SHARE
        // until COMMIT), and any commit still carrying the old epoch is refused with lease_lost,
        // so its runner restarts from the new checkpoints with nothing cached from the old state.
        await client.query(
          `UPDATE ${s}.leases SET epoch = epoch + 1
            WHERE partition IN (SELECT partition FROM ${s}.leases ORDER BY partition FOR UPDATE)`,
        );
        for (const { shadow, live } of swaps) {
          await client.query(`DELETE FROM ${s}.states WHERE projection = $1`, [live]);
          await client.query(`UPDATE ${s}.states SET projection = $2 WHERE projection = $1`, [
            shadow,
            live,
          ]);
          await client.query(`DELETE FROM ${s}.checkpoints WHERE name = $1`, [live]);
          await client.query(`UPDATE ${s}.checkpoints SET name = $2 WHERE name = $1`, [
            shadow,
            live,
          ]);
          await client.query(`DELETE FROM ${s}.dead_letters WHERE projection = $1`, [live]);
          await client.query(`UPDATE ${s}.dead_letters SET projection = $2 WHERE projection = $1`, [
            shadow,
            live,
          ]);
        }
        // Renewals waited on the lease rows while this transaction rewrote the states (long for
        // a large projection): give every live lease back the time it was held here (`now()` is
        // when this transaction began), so no holder loses its partitions to the swap itself.
        await client.query(
          `UPDATE ${s}.leases SET expires_at = expires_at + (clock_timestamp() - now())
            WHERE owner IS NOT NULL AND expires_at > now()`,
        );
        return journalInside(client, journal);
      });
      return journalledRecords(journal, seqs);
    },

    async lockRebuild() {
      ctx.open();
      // A session lock on a connection of its own, held while the rebuild runs (not inside a
      // transaction, so no idle-in-transaction timeout): released on unlock, or by the server
      // when the process dies and its session ends.
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw translatePgError(error, 'waiting for another rebuild');
      }
      try {
        await client.query(`SELECT pg_advisory_lock(${lockArgs(LockPurpose.rebuild, ctx.schema)})`);
      } catch (error) {
        client.release(true);
        throw translatePgError(error, 'waiting for another rebuild');
      }
      return async () => {
        try {
          await client.query(
            `SELECT pg_advisory_unlock(${lockArgs(LockPurpose.rebuild, ctx.schema)})`,
          );
          client.release();
        } catch {
          // The session is gone, and its lock with it.
          client.release(true);
        }
      };
    },

    async readDeadLetters(projection) {
      const rows = await query<{
        projection: string;
        key: string;
        event_id: string;
        position: number;
        error: string;
      }>(
        'reading dead letters',
        `SELECT projection, key, event_id, position, error FROM ${s}.dead_letters
          WHERE $1::text IS NULL OR projection = $1 ORDER BY projection, position, event_id`,
        [projection ?? null],
      );
      return rows.map((r): DeadLetter => ({
        projection: r.projection,
        key: r.key,
        eventId: r.event_id,
        position: r.position,
        error: r.error,
      }));
    },

    async readChanges(after, limit) {
      const rows = await query<ChangeDbRow>('reading changes', sql.changes, [
        after,
        limit === undefined ? null : Math.max(0, Math.floor(limit)),
      ]);
      return rows.map((r): ChangeRecord => ({
        seq: r.seq,
        projection: r.projection,
        key: r.key,
        before: decodeOptional(r.before),
        after: decodeOptional(r.after),
        eventId: r.event_id,
        position: r.position,
      }));
    },

    async pruneChanges(upTo) {
      await query('pruning changes', `DELETE FROM ${s}.changes WHERE seq <= $1`, [upTo]);
    },

    async lastChangeSeq() {
      // Kept in the commit's transaction, so it survives pruning and never runs ahead of commits.
      const rows = await query<{ value: number }>('reading the last change', sql.lastChange);
      return rows[0]?.value ?? 0;
    },
  };
}

type EncodedChange = ReturnType<typeof encodeChange>;

function encodeChange(
  c: Omit<ChangeRecord, 'seq'>,
  i: number,
  texts?: ReadonlyMap<unknown, string>,
) {
  const { before, after } = encodeChangeStates(c, texts);
  return {
    i,
    projection: c.projection,
    key: c.key,
    before,
    after,
    event_id: c.eventId,
    position: c.position,
  };
}

/** A checkpoint row: `part` is -1 for a projection's own checkpoint, else the partition. */
interface CheckpointRow {
  readonly name: string;
  readonly part: number;
  readonly position: number | string;
  readonly version: number;
}

function toCheckpoint(row: CheckpointRow | undefined): Checkpoint | undefined {
  if (!row) return undefined;
  const base = { name: row.name, position: Number(row.position), version: row.version };
  return row.part < 0 ? base : { ...base, partition: row.part };
}

const STATE_COLUMNS = 'key, state::text AS state, last_time, last_id, position, poisoned, grp';

function toStateRow(row: StateDbRow): StateRow {
  return {
    key: row.key,
    state: JSON.parse(row.state) as unknown,
    lastTime: row.last_time,
    lastId: row.last_id,
    position: row.position,
    poisoned: row.poisoned,
    group: row.grp,
  };
}

/** The last item for each key, in order of first appearance (one upsert row per key). */
function lastBy<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  const map = new Map<string, T>();
  for (const item of items) map.set(keyOf(item), item);
  return [...map.values()];
}
