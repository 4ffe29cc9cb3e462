/**
 * What is particular to the PostgreSQL adapter beyond the shared contract: concurrent migration,
 * several processes (stores) on one schema, the live tail across them (LISTEN/NOTIFY, reconnect,
 * poll), and driver faults arriving as StoreError codes.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import {
  createPostgresEventStore,
  SCHEMA_VERSION,
  type PostgresEventStore,
} from '../../src/store/postgres/index.js';
import { partitionOf } from '../../src/store/shared/partition.js';
import { channelName } from '../../src/store/postgres/sql.js';
import type { StoredEvent } from '../../src/store/port.js';
import { makeEvent } from '../support/events.js';
import {
  adminQuery,
  openFreshPostgresStore,
  pgUrl,
  uniqueName,
  waitUntil,
} from '../support/postgres.js';
import { freePort as closedPort } from '../support/ports.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fresh(
  options: Parameters<typeof openFreshPostgresStore>[0] = {},
): Promise<{ store: PostgresEventStore; schema: string }> {
  const opened = await openFreshPostgresStore(options);
  cleanups.push(opened.cleanup);
  return opened;
}

/** Another "process" on the same schema: its own pool, LISTEN connection and group commit. */
async function sibling(
  schema: string,
  options: { applicationName?: string; pollIntervalMs?: number } = {},
): Promise<PostgresEventStore> {
  const store = await createPostgresEventStore({
    connectionString: pgUrl(),
    schema,
    poolSize: 4,
    ...options,
  });
  cleanups.push(() => store.close());
  return store;
}

/** Resolves with the first head reported by `subscribe` that reaches `atLeast`. */
function nextHead(
  subscribe: (listener: (head: number) => void) => () => void,
  atLeast: number,
): Promise<number> {
  return new Promise((resolve) => {
    const off = subscribe((head) => {
      if (head >= atLeast) {
        off();
        resolve(head);
      }
    });
  });
}

describe('postgres adapter', () => {
  it('migrates a new schema once when several processes open it at the same moment', async () => {
    const schema = uniqueName('mig');
    cleanups.push(async () => void (await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)));
    const stores = await Promise.all(Array.from({ length: 5 }, () => sibling(schema)));
    const { rows } = await adminQuery(
      `SELECT version FROM "${schema}".schema_version ORDER BY version`,
    );
    expect(rows.map((r: { version: number }) => r.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const [stored] = (await stores[0]?.append([makeEvent('a')])) ?? [];
    expect(await stores[4]?.head()).toBe(stored?.position);
  });

  it('keeps the log and its counters across a reopen; a later duplicate is still a duplicate', async () => {
    const { store, schema } = await fresh();
    const [, b] = await store.append([makeEvent('a'), makeEvent('b', { skipped: 'unknown_type' })]);
    await store.append([makeEvent('a')]);
    await store.close();
    const reopened = await sibling(schema);
    expect(
      (await reopened.append([makeEvent('a'), makeEvent('b', { variant: 1 })])).map(
        (o) => o.status,
      ),
    ).toEqual(['duplicate', 'conflict']);
    expect(await reopened.stats()).toMatchObject({
      events: 2,
      duplicates: 2,
      conflicts: 1,
      skipped: { unknown_type: 1 },
      headPosition: b?.position,
    });
  });

  it('several writers on one schema: every distinct id stored once, a follower sees each once in order', async () => {
    const { store: reader, schema } = await fresh();
    const writers = await Promise.all([sibling(schema), sibling(schema), sibling(schema)]);
    const seen: StoredEvent[] = [];
    let cursor = 0;
    let polling = Promise.resolve();
    const poll = (): Promise<void> =>
      (polling = polling.then(async () => {
        for await (const batch of reader.readAll(cursor)) {
          for (const event of batch) {
            seen.push(event);
            cursor = event.position;
          }
        }
      }));
    const off = reader.onAppend(() => void poll());

    // Writer w sends ids[i..i+4) for i = 4w, 4w + 12, …: together every id, and e0…e29 twice
    // (at i and i + 90, usually in another writer), so the same id races between processes.
    const ids = Array.from({ length: 120 }, (_, i) => `e${i % 90}`);
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 4 * w; i < ids.length; i += 12) {
          await writer.append(ids.slice(i, i + 4).map((id) => makeEvent(id)));
        }
      }),
    );
    off();
    await poll();

    const storedIds = seen.map((e) => e.id);
    expect(new Set(storedIds).size).toBe(storedIds.length);
    expect([...storedIds].sort()).toEqual([...new Set(ids)].sort());
    const positions = seen.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect((await reader.stats()).events).toBe(storedIds.length);
  });

  it('tells listeners in another process about appends and journalled changes (LISTEN/NOTIFY)', async () => {
    const { store: writer, schema } = await fresh();
    // A poll this slow never fires during the test: the notification must come from NOTIFY.
    const listener = await sibling(schema, { pollIntervalMs: 600_000 });
    const appended = nextHead(listener.onAppend, 1);
    const changed = nextHead(listener.onChanges, 1);
    // Wait for the LISTEN to be in place before the writer commits.
    await waitUntil(
      async () => (await listenBackends(schema)).length === 1,
      'the listener is LISTENing',
    );
    const [, b] = await writer.append([makeEvent('a'), makeEvent('b')]);
    await writer.projections.commit({
      checkpoints: [],
      states: [],
      deadLetters: [],
      changes: [
        {
          projection: 'p',
          key: 'k',
          before: undefined,
          after: { v: 1 },
          eventId: 'a',
          position: 1,
        },
      ],
    });
    // One transaction, one wake-up: the head it reports is already the last of the two.
    expect(await appended).toBe(b?.position);
    expect(await changed).toBe(1);
  });

  it('reconnects its LISTEN connection after the server kills it, and catches up on what it missed', async () => {
    const { store: writer, schema } = await fresh();
    const listener = await sibling(schema, {
      pollIntervalMs: 600_000,
      applicationName: uniqueName('listener'),
    });
    const seenHeads: number[] = [];
    listener.onAppend((head) => seenHeads.push(head));
    await waitUntil(
      async () => (await listenBackends(schema)).length === 1,
      'the listener is LISTENing',
    );
    const [first] = await listenBackends(schema);
    await adminQuery('SELECT pg_terminate_backend($1)', [first]);
    // Committed while nobody listens: the reconnect's catch-up poll must report it.
    const missed = nextHead(listener.onAppend, 1);
    const [missedOutcome] = await writer.append([makeEvent('missed')]);
    await waitUntil(async () => {
      const now = await listenBackends(schema);
      return now.length === 1 && now[0] !== first;
    }, 'a new LISTEN connection');
    expect(await missed).toBe(missedOutcome?.position);
    const live = nextHead(listener.onAppend, (missedOutcome?.position ?? 0) + 1);
    const [liveOutcome] = await writer.append([makeEvent('live')]);
    expect(await live).toBe(liveOutcome?.position);
    expect(seenHeads).toEqual([missedOutcome?.position, liveOutcome?.position]);
  });

  it('falls back to polling for commits whose notification never came', async () => {
    const { store, schema } = await fresh({ pollIntervalMs: 50 });
    const head = nextHead(store.onAppend, 1);
    // A row written without NOTIFY (a lost notification looks the same to the listener), at the
    // position its transaction would have given it.
    const { rows } = await adminQuery(
      `INSERT INTO "${schema}".events (position, id, type, stream, source_time, data, body)
       SELECT base + (pg_current_xact_id()::text::bigint - xid0) * 4096, 'quiet', 't', NULL, 0, 'null', '\\x00'
         FROM "${schema}".position_space RETURNING position`,
    );
    expect(await head).toBe(Number((rows[0] as { position: string }).position));
  });

  it('commits a call of more than 4096 new events 4096 per transaction, in order, ids resolved across them', async () => {
    const { store, schema } = await fresh();
    // 5000 new ids, then one repeated from the first transaction: a duplicate of it, found in the
    // committed log by the second transaction.
    const events = [
      ...Array.from({ length: 5000 }, (_, i) => makeEvent(`big-${i}`)),
      makeEvent('big-7'),
    ];
    const outcomes = await store.append(events);
    expect(outcomes.filter((o) => o.status === 'stored')).toHaveLength(5000);
    expect(outcomes.at(-1)).toEqual({
      status: 'duplicate',
      id: 'big-7',
      position: outcomes[7]?.position,
    });
    const positions = outcomes.slice(0, 5000).map((o) => o.position);
    for (let i = 1; i < positions.length; i += 1) {
      expect(positions[i]).toBeGreaterThan(positions[i - 1] as number);
    }
    // Two transactions: one per 4096 rows.
    const { rows } = await adminQuery(
      `SELECT count(DISTINCT xmin::text)::int AS tx FROM "${schema}".events`,
    );
    expect((rows[0] as { tx: number }).tx).toBe(2);
    expect((await store.stats()).events).toBe(5000);
    expect(await store.head()).toBe(positions.at(-1));
  });

  it('answers store_busy when another transaction holds the same id past the busy timeout', async () => {
    // Appends take no global lock; the one wait left is a row lock: another transaction inserting
    // the same id, which must commit or roll back before this append can tell stored from duplicate.
    const { store, schema } = await fresh({ busyTimeoutMs: 100 });
    const holder = await holdInsert(schema, 'a');
    const failure = await store.append([makeEvent('a')]).catch((error: unknown) => error);
    expect(isStoreError(failure) && failure.code).toBe('store_busy');
    // Unrelated ids are not held up by it.
    expect((await store.append([makeEvent('b')])).map((o) => o.status)).toEqual(['stored']);
    await holder.query('ROLLBACK');
    // The same store recovers once the row is free, and nothing half-written remains.
    expect((await store.append([makeEvent('a')])).map((o) => o.status)).toEqual(['stored']);
    expect((await store.stats()).events).toBe(2);
  });

  it("a partition's read leaves out other partitions' events, not those stored without a hash", async () => {
    const { store, schema } = await fresh();
    const events = Array.from({ length: 30 }, (_, i) => makeEvent(`e${i}`, { stream: `s:${i}` }));
    await store.append([...events, makeEvent('none', { stream: null })]);
    const idsOf = async (remainder: number) => {
      const read: string[] = [];
      for await (const page of store.readAll(0, { partition: { modulo: 4, remainder } }))
        read.push(...page.map((e) => e.id));
      return read;
    };
    const expected = (remainder: number, extra: string[] = []) =>
      [...events.filter((e) => partitionOf(e.stream as string, 4) === remainder).map((e) => e.id)]
        .concat(extra, ['none'])
        .sort();
    for (let remainder = 0; remainder < 4; remainder++) {
      expect((await idsOf(remainder)).sort()).toEqual(expected(remainder));
    }
    // A row an older release stored has no hash: every partition reads it (and filters it).
    await adminQuery(`UPDATE "${schema}".events SET stream_hash = NULL WHERE id = 'e0'`);
    const home = partitionOf('s:0', 4);
    for (let remainder = 0; remainder < 4; remainder++) {
      expect((await idsOf(remainder)).sort()).toEqual(
        expected(remainder, remainder === home ? [] : ['e0']),
      );
    }
  });

  it("a partition's projection commit does not wait for another partition's commit in flight", async () => {
    // Instances commit their partitions concurrently; each compares-and-sets only its own
    // checkpoint rows. A commit that locked every partition's rows of its projections made the
    // instances queue behind one another (lock waits, and a readers' fence held back meanwhile).
    const { store, schema } = await fresh();
    const cp = (partition: number, position: number) => ({
      name: 'runs',
      partition,
      position,
      version: 1,
    });
    const empty = { states: [], deadLetters: [], changes: [] };
    await store.projections.commit({ ...empty, checkpoints: [cp(0, 5), cp(1, 5)] });
    // Partition 0's commit, in flight: its checkpoint row is locked until it ends.
    const holder = new pg.Client({ connectionString: pgUrl() });
    await holder.connect();
    cleanups.push(() => holder.end());
    await holder.query('BEGIN');
    await holder.query(
      `SELECT 1 FROM "${schema}".checkpoints WHERE name = 'runs' AND part = 0 FOR UPDATE`,
    );
    const outcome = await Promise.race([
      store.projections.commit({
        ...empty,
        checkpoints: [cp(1, 9)],
        expected: [{ name: 'runs', partition: 1, position: 5 }],
      }),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
    ]);
    expect(outcome).toMatchObject({ ok: true });
    await holder.query('ROLLBACK');
    expect(await store.projections.readCheckpoint('runs', 1)).toMatchObject({ position: 9 });
    expect(await store.projections.readCheckpoint('runs', 0)).toMatchObject({ position: 5 });
  });

  it('gives states and journalled changes back with their keys in the order written (dump output)', async () => {
    const { store } = await fresh();
    const state = { status: 'active', a: 1, zz: { y: 2, b: [3] } };
    await store.projections.commit({
      checkpoints: [],
      deadLetters: [],
      states: [
        {
          projection: 'p',
          row: { key: 'k', state, lastTime: 0, lastId: 'e', position: 1, poisoned: null },
        },
      ],
      changes: [
        { projection: 'p', key: 'k', before: undefined, after: state, eventId: 'e', position: 1 },
      ],
    });
    const [listed] = await store.projections.listStates('p', { where: { status: 'active' } });
    expect(JSON.stringify(listed?.state)).toBe(JSON.stringify(state));
    const [change] = await store.projections.readChanges(0);
    expect(JSON.stringify(change?.after)).toBe(JSON.stringify(state));
  });

  it('answers store_unavailable when no server listens', async () => {
    const port = await closedPort();
    const failure = await createPostgresEventStore({
      connectionString: `postgres://postgres:x@127.0.0.1:${port}/postgres`,
    }).catch((error: unknown) => error);
    expect(isStoreError(failure) && failure.code).toBe('store_unavailable');
  });

  it('a server-side kill of a connection mid-append fails that append retryably, and the store goes on', async () => {
    const app = uniqueName('victim');
    const { store, schema } = await fresh({ applicationName: app });
    const holder = await holdInsert(schema, 'a');
    const pending = store.append([makeEvent('a')]).catch((error: unknown) => error);
    await waitUntil(
      async () =>
        (
          await adminQuery(
            `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [app],
          )
        ).rowCount === 1,
      'the append waits',
    );
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [app],
    );
    const failure = await pending;
    expect(isStoreError(failure) && failure.code).toBe('store_unavailable');
    await holder.query('ROLLBACK');
    expect((await store.append([makeEvent('a')]))[0]?.status).toBe('stored');
  });
});

/** A connection with an open transaction that has inserted (not committed) event `id`. */
async function holdInsert(schema: string, id: string): Promise<pg.Client> {
  const holder = new pg.Client({ connectionString: pgUrl() });
  await holder.connect();
  cleanups.push(() => holder.end());
  await holder.query('BEGIN');
  await holder.query(
    `INSERT INTO "${schema}".events (position, id, type, stream, source_time, data, body)
     VALUES (-1, $1, 't', NULL, 0, 'null', '\\x00')`,
    [id],
  );
  return holder;
}

/** Backends LISTENing on this schema's channels (the last statement of that connection). */
async function listenBackends(schema: string): Promise<number[]> {
  const { rows } = await adminQuery(
    `SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`,
    [`LISTEN "${channelName('changes', schema)}"`],
  );
  return rows.map((r: { pid: number }) => r.pid);
}
