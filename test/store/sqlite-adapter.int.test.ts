/**
 * What only the SQLite adapter promises: durability settings, a versioned schema, group commit
 * with a bounded queue, busy-timeout translation, notice of other connections' commits, and
 * counters that agree with the tables.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import { BACKSTOP_PAGES } from '../../src/store/sqlite/checkpointer.js';
import {
  createSqliteEventStore,
  SCHEMA_VERSION,
  type SqliteEventStore,
} from '../../src/store/sqlite/index.js';
import { collect, eventFromBody, makeEvent } from '../support/events.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { trutoHistory } from '../support/truto.js';

/** The built adapter, for a process of its own (`npm run build` first; `npm test` does it). */
const BUILT_SQLITE = fileURLToPath(
  new URL('../../dist/src/store/sqlite/index.js', import.meta.url),
);

describe('SQLite event store', () => {
  let dir: TempDir;
  let path: string;
  const opened: SqliteEventStore[] = [];
  const open = (options: Partial<Parameters<typeof createSqliteEventStore>[0]> = {}) => {
    const store = createSqliteEventStore({ path, ...options });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await createTempDir('truto-state-sqlite-');
    path = dir.path('log.db');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await dir.cleanup();
  });

  it('runs in WAL with synchronous=FULL, a busy timeout, a 64 MiB page cache and the current schema', async () => {
    const store = open({ busyTimeoutMs: 1234 });
    expect(await store.readSettings()).toEqual({
      journalMode: 'wal',
      synchronous: 2,
      busyTimeoutMs: 1234,
      schemaVersion: SCHEMA_VERSION,
      walSyncs: 0,
      // Checkpoints run on their own thread: the store's own is a backstop
      // (sqlite-checkpointer.int.test.ts).
      walAutocheckpoint: BACKSTOP_PAGES,
      // A cache that holds the states a projection commit writes over (connection.ts).
      pageCacheKib: 65_536,
    });
    expect(await store.checkIntegrity()).toEqual(['ok']);
  });

  it('a projection commit marked not durable skips only its own fsync: appends stay synchronous=FULL', async () => {
    const store = open();
    await store.append([makeEvent('before-shadow')]);
    const syncs = (await store.readSettings()).walSyncs;
    const result = await store.projections.commit({
      checkpoints: [{ name: 'shadow', position: 1, version: 1 }],
      states: [],
      deadLetters: [],
      changes: [],
      durable: false,
    });
    expect(result.ok).toBe(true);
    expect((await store.readSettings()).synchronous).toBe(2);
    // Also when the commit fails inside its transaction.
    const refused = await store.projections.commit({
      checkpoints: [{ name: 'shadow', position: 2, version: 1 }],
      expected: [{ name: 'shadow', position: 7 }],
      states: [],
      deadLetters: [],
      changes: [],
      durable: false,
    });
    expect(refused).toMatchObject({ ok: false, reason: 'checkpoint_moved' });
    expect((await store.readSettings()).synchronous).toBe(2);
    // Neither waited for a sync of the WAL; the next durable commit's covers them.
    expect((await store.readSettings()).walSyncs).toBe(syncs);
    await store.append([makeEvent('after-shadow')]);
    expect(await store.readSettings()).toMatchObject({ synchronous: 2, walSyncs: syncs + 1 });
  });

  it('answers journalled changes whose states read back as committed, the same value each time', async () => {
    const store = open();
    const after = { id: 'acc-1', status: 'active', nested: { n: 1 } };
    const result = await store.projections.commit({
      checkpoints: [{ name: 'accounts', position: 1, version: 1 }],
      states: [
        {
          projection: 'accounts',
          row: { key: 'acc-1', state: after, lastTime: 1, lastId: 'e1', position: 1 },
        },
      ],
      deadLetters: [],
      changes: [
        {
          projection: 'accounts',
          key: 'acc-1',
          before: { id: 'acc-1', status: 'connecting' },
          after,
          eventId: 'e1',
          position: 1,
        },
        {
          projection: 'accounts',
          key: 'acc-2',
          before: undefined,
          after: null,
          eventId: 'e2',
          position: 1,
        },
      ],
    });
    if (!result.ok) throw new Error(result.message);
    const [first, second] = result.changes;
    expect(first?.after).toEqual(after);
    // A copy, not the committed object: what a subscriber does with it cannot reach the state.
    expect(first?.after).not.toBe(after);
    expect(first?.after).toBe(first?.after);
    expect(first?.before).toEqual({ id: 'acc-1', status: 'connecting' });
    expect(second).toMatchObject({ before: undefined, after: null, key: 'acc-2' });
    expect(await store.projections.readChanges(0)).toEqual([
      { ...first, before: first?.before, after: first?.after },
      { ...second, before: undefined, after: null },
    ]);
  });

  it('keeps everything across a reopen, without migrating twice', async () => {
    const first = open();
    const bodies = trutoHistory({ accounts: 2, seed: 7 });
    await first.append(bodies.map(eventFromBody));
    await first.append([eventFromBody(bodies[0] as string)]);
    const before = await first.stats();
    await first.close();
    const second = open();
    expect(await second.stats()).toEqual(before);
    expect(before).toMatchObject({ events: bodies.length, duplicates: 1 });
    expect((await collect(second.readAll(0))).events).toHaveLength(bodies.length);
  });

  it('migrates partition checkpoints named <name>#p<i> into the partition column', async () => {
    await open().close();
    // A database as release 3 left it: partitions in the checkpoint's name.
    const raw = new Database(path);
    raw.exec(`DROP TABLE checkpoints; DROP TABLE state_names;
      CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO checkpoints VALUES ('runs#p3', 40, 1), ('runs#p12', 41, 1), ('accounts', 7, 2);`);
    raw.pragma('user_version = 3');
    raw.close();
    const store = open();
    expect(await store.projections.readCheckpoint('runs', 3)).toEqual({
      name: 'runs',
      partition: 3,
      position: 40,
      version: 1,
    });
    expect(await store.projections.readCheckpoint('runs', 12)).toMatchObject({ position: 41 });
    expect(await store.projections.readCheckpoint('accounts')).toEqual({
      name: 'accounts',
      position: 7,
      version: 2,
    });
    expect((await store.readSettings()).schemaVersion).toBe(SCHEMA_VERSION);
  });

  it('moves states keyed by entity (release 5) into the table by rowid, every row and index kept', async () => {
    const first = open();
    const rows = [
      { key: 'acc-1', grp: 'tenant-1', state: { status: 'active' } },
      { key: 'acc-2', grp: null, state: { status: 'deleted' } },
    ];
    await first.projections.commit({
      checkpoints: [{ name: 'accounts', position: 9, version: 1 }],
      states: rows.map(({ key, grp, state }, i) => ({
        projection: 'accounts',
        row: {
          key,
          group: grp,
          state,
          lastTime: 100 + i,
          lastId: `e${i}`,
          position: 5 + i,
          poisoned: i === 1 ? 'boom' : null,
        },
      })),
      deadLetters: [],
      changes: [],
    });
    await first.close();
    // The table as release 5 left it.
    const raw = new Database(path);
    raw.exec(`
      CREATE TABLE states_v5 (projection TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
        last_time INTEGER NOT NULL, last_id TEXT NOT NULL, position INTEGER NOT NULL,
        poisoned TEXT, grp TEXT, PRIMARY KEY (projection, key)) WITHOUT ROWID;
      INSERT INTO states_v5 SELECT projection, key, state, last_time, last_id, position, poisoned, grp FROM states;
      DROP TABLE states;
      ALTER TABLE states_v5 RENAME TO states;
      CREATE INDEX states_by_group ON states (projection, grp, key) WHERE grp IS NOT NULL;
      DROP TABLE state_names;`);
    raw.pragma('user_version = 5');
    raw.close();

    const store = open();
    expect((await store.readSettings()).schemaVersion).toBe(SCHEMA_VERSION);
    const listed = await store.projections.listStates('accounts');
    expect(listed).toEqual([
      {
        key: 'acc-1',
        group: 'tenant-1',
        state: { status: 'active' },
        lastTime: 100,
        lastId: 'e0',
        position: 5,
        poisoned: null,
      },
      {
        key: 'acc-2',
        group: null,
        state: { status: 'deleted' },
        lastTime: 101,
        lastId: 'e1',
        position: 6,
        poisoned: 'boom',
      },
    ]);
    expect(await store.projections.listStates('accounts', { group: 'tenant-1' })).toHaveLength(1);
    const check = new Database(path, { readonly: true });
    try {
      expect(
        check.prepare("SELECT sql FROM sqlite_master WHERE name = 'states'").pluck().get(),
      ).not.toMatch(/WITHOUT ROWID/i);
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    // The upsert finds a row by the unique index, as it found it by the key before.
    await store.projections.commit({
      checkpoints: [{ name: 'accounts', position: 10, version: 1 }],
      expected: [{ name: 'accounts', position: 9 }],
      states: [
        {
          projection: 'accounts',
          row: {
            key: 'acc-1',
            group: 'tenant-1',
            state: { status: 'needs_reauth' },
            lastTime: 102,
            lastId: 'e2',
            position: 10,
            poisoned: null,
          },
        },
      ],
      deadLetters: [],
      changes: [],
    });
    expect((await store.projections.readStates('accounts', ['acc-1'])).get('acc-1')?.state).toEqual(
      {
        status: 'needs_reauth',
      },
    );
    expect(await store.projections.listStates('accounts')).toHaveLength(2);
  });

  it('refuses a database written by a newer schema', async () => {
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    let failure: unknown;
    try {
      open();
    } catch (error) {
      failure = error;
    }
    expect(isStoreError(failure) && failure.code).toBe('store_failed');
  });

  it('commits appends of the same tick in one transaction, visible once each caller resolves', async () => {
    const store = open();
    const heads: number[] = [];
    store.onAppend((head) => heads.push(head));
    const calls = Array.from({ length: 20 }, (_, i) =>
      store.append([makeEvent(`a${i}`), makeEvent(`b${i}`)]),
    );
    const first = await calls[0];
    // Resolved means committed: another connection already sees every event of the group.
    const reader = new Database(path, { readonly: true });
    try {
      expect(reader.prepare('SELECT COUNT(*) FROM events').pluck().get()).toBe(40);
    } finally {
      reader.close();
    }
    expect(first?.map((o) => o.status)).toEqual(['stored', 'stored']);
    await Promise.all(calls);
    // One notification per transaction: the 20 calls shared one.
    expect(heads).toEqual([40]);
  });

  it('refuses appends beyond the queue bound with store_overloaded, and commits the rest', async () => {
    const store = open({ maxPendingAppends: 10 });
    const a = store.append(Array.from({ length: 6 }, (_, i) => makeEvent(`a${i}`)));
    const b = store.append(Array.from({ length: 4 }, (_, i) => makeEvent(`b${i}`)));
    const c = store.append([makeEvent('c')]);
    const failure = await c.catch((error: unknown) => error);
    expect(isStoreError(failure) && failure.code).toBe('store_overloaded');
    expect(isStoreError(failure) && failure.retryable).toBe(true);
    expect((await a).length + (await b).length).toBe(10);
    // Once the queue drained, appends are accepted again; a lone oversized batch too.
    expect(
      await store.append(Array.from({ length: 25 }, (_, i) => makeEvent(`d${i}`))),
    ).toHaveLength(25);
    expect((await store.stats()).events).toBe(35);
  });

  it('answers store_busy when another writer holds the lock past the busy timeout, then recovers', async () => {
    const store = open({ busyTimeoutMs: 50 });
    await store.append([makeEvent('first')]);
    const other = new Database(path);
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      const failure = await store.append([makeEvent('blocked')]).catch((error: unknown) => error);
      expect(isStoreError(failure) && failure.code).toBe('store_busy');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const [outcome] = await store.append([makeEvent('blocked')]);
    expect(outcome?.status).toBe('stored');
    expect((await store.stats()).events).toBe(2);
  });

  it('lets one rebuild hold the file at a time, across connections and processes, and frees it when its holder dies', async () => {
    const first = open();
    const second = open();
    const release = await first.projections.lockRebuild?.();
    if (!release) throw new Error('the SQLite store has a rebuild lock');
    /** Asks `store` for the lock; `held()` tells whether it has it yet. */
    const waitFor = (store: SqliteEventStore) => {
      let held = false;
      const granted = store.projections.lockRebuild?.().then((free) => {
        held = true;
        return free;
      });
      return { granted, held: () => held };
    };
    const secondWaits = waitFor(second);
    // Several of the waiter's attempts: it keeps waiting, and the file keeps taking writes.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(secondWaits.held()).toBe(false);
    await first.append([makeEvent('during')]);
    await release();
    await (
      await secondWaits.granted
    )?.();
    expect(secondWaits.held()).toBe(true);

    // A process holding the lock is killed: the operating system drops its lock with it.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { createSqliteEventStore } = await import(${JSON.stringify(BUILT_SQLITE)});
         const store = createSqliteEventStore({ path: ${JSON.stringify(path)} });
         await store.projections.lockRebuild();
         process.stdout.write('held\\n');
         setInterval(() => undefined, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('held')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the lock holder exited first (${code})`)));
    });
    const afterKill = waitFor(second);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(afterKill.held()).toBe(false);
    child.kill('SIGKILL');
    await (
      await afterKill.granted
    )?.();
    expect(afterKill.held()).toBe(true);
  });

  it('notices commits made through another connection', async () => {
    const watcher = open({ pollIntervalMs: 10 });
    const writer = open();
    const heard = new Promise<number>((resolve) => {
      const stop = watcher.onAppend((head) => {
        stop();
        resolve(head);
      });
    });
    const [outcome] = await writer.append([makeEvent('from-elsewhere')]);
    expect(await heard).toBe(outcome?.position);
  });

  it('keeps counters equal to the tables after a messy workload', async () => {
    const store = open();
    const bodies = trutoHistory({ accounts: 4, seed: 3 });
    const events = bodies.map(eventFromBody);
    await Promise.all([
      store.append(events),
      store.append(events.slice(0, 10)),
      store.append([makeEvent(events[0]?.id as string, { variant: 1 })]),
    ]);
    const stats = await store.stats();
    const raw = new Database(path, { readonly: true });
    try {
      const byType = Object.fromEntries(
        (
          raw.prepare('SELECT type, COUNT(*) AS n FROM events GROUP BY type').all() as {
            type: string;
            n: number;
          }[]
        ).map((r) => [r.type, r.n]),
      );
      const skipped = Object.fromEntries(
        (
          raw
            .prepare(
              'SELECT skipped, COUNT(*) AS n FROM events WHERE skipped IS NOT NULL GROUP BY skipped',
            )
            .all() as { skipped: string; n: number }[]
        ).map((r) => [r.skipped, r.n]),
      );
      expect(stats).toEqual({
        events: raw.prepare('SELECT COUNT(*) FROM events').pluck().get(),
        byType,
        duplicates: 10,
        conflicts: raw.prepare('SELECT COUNT(*) FROM conflicts').pluck().get(),
        rejects: 0,
        skipped,
        headPosition: raw.prepare('SELECT MAX(position) FROM events').pluck().get(),
      });
      expect(stats.events).toBe(bodies.length);
      expect(stats.conflicts).toBe(1);
      // Duplicates and conflicts burn no positions: the log stays dense.
      expect(stats.headPosition).toBe(stats.events);
      expect(Object.keys(skipped).length).toBeGreaterThan(0);
    } finally {
      raw.close();
    }
  });
});
