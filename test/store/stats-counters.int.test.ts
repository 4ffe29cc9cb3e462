/**
 * `stats()` reads counters only (item 5): conflicts and rejects are counted in the transaction
 * that keeps them, not by COUNT(*) over their tables on every call. The counters match the
 * tables, survive a reopen, and a database from before they existed is counted once on upgrade.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/store/port.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { createPostgresEventStore } from '../../src/store/postgres/index.js';
import { collect, makeEvent } from '../support/events.js';
import { adminQuery, pgUrl, uniqueName } from '../support/postgres.js';
import { createTempDir } from '../support/temp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const reject = (n: number) => ({
  source: 'test',
  reason: 'invalid_json',
  message: 'no',
  body: new TextEncoder().encode(`bad ${n}`),
});

/** Two conflicts, three distinct rejects (one recorded twice), some duplicates. */
async function fill(store: EventStore): Promise<void> {
  await store.append([makeEvent('a'), makeEvent('b')]);
  await store.append([makeEvent('a', { variant: 1 }), makeEvent('b', { variant: 2 })]);
  await store.append([makeEvent('a')]);
  for (const n of [1, 2, 3, 1]) await store.recordReject(reject(n));
}

interface Kind {
  open(): Promise<EventStore>;
  /** Makes the database look as it did before migration 5 (no such counters, older version). */
  downgrade(): Promise<void>;
  cleanup(): Promise<void>;
}

const kinds: Record<string, () => Promise<Kind>> = {
  sqlite: async () => {
    const dir = await createTempDir('truto-state-counters-');
    const path = dir.path('log.db');
    return {
      open: async () => createSqliteEventStore({ path }),
      downgrade: async () => {
        const db = new Database(path);
        db.exec(
          "DELETE FROM counters WHERE name IN ('conflicts', 'rejects'); DROP TABLE state_names",
        );
        db.pragma('user_version = 4');
        db.close();
      },
      cleanup: () => dir.cleanup(),
    };
  },
  postgres: async () => {
    const schema = uniqueName('counters');
    return {
      open: () => createPostgresEventStore({ connectionString: pgUrl(), schema, poolSize: 2 }),
      downgrade: async () => {
        // Version 4 also had one counter row per name and a position sequence (migration 6),
        // and no stream hashes (migration 7).
        const s = `"${schema}"`;
        await adminQuery(
          `ALTER TABLE ${s}.events DROP COLUMN stream_hash;
           CREATE TABLE ${s}.counters_v4 AS
             SELECT name, sum(value)::bigint AS value FROM ${s}.counters GROUP BY name;
           DROP TABLE ${s}.counters;
           ALTER TABLE ${s}.counters_v4 RENAME TO counters;
           ALTER TABLE ${s}.counters ADD PRIMARY KEY (name);
           DROP TABLE ${s}.position_space;
           CREATE SEQUENCE ${s}.events_position_seq;
           SELECT setval('${s}.events_position_seq', (SELECT max(position) FROM ${s}.events));
           DELETE FROM ${s}.counters WHERE name IN ('conflicts', 'rejects');
           DELETE FROM ${s}.schema_version WHERE version >= 5`,
        );
      },
      cleanup: async () => void (await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)),
    };
  },
};

describe.each(Object.keys(kinds))('%s', (name) => {
  it('counts conflicts and rejects as they are kept, across a reopen and an upgrade', async () => {
    const kind = await kinds[name]!();
    cleanups.push(kind.cleanup);
    const store = await kind.open();
    await fill(store);
    const expected = { events: 2, duplicates: 1, conflicts: 2, rejects: 3 };
    expect(await store.stats()).toMatchObject(expected);
    await store.close();

    await kind.downgrade();
    const upgraded = await kind.open();
    cleanups.push(() => upgraded.close());
    expect(await upgraded.stats()).toMatchObject(expected);
    await upgraded.recordReject(reject(4));
    await upgraded.append([makeEvent('b', { variant: 3 })]);
    expect(await upgraded.stats()).toMatchObject({ ...expected, conflicts: 3, rejects: 4 });
    // New events land after the old ones (PostgreSQL's migration 6 starts its positions above them).
    const oldHead = await upgraded.head();
    const [c] = await upgraded.append([makeEvent('c')]);
    expect(c?.position).toBeGreaterThan(oldHead);
    const log = await collect(upgraded.readAll(0));
    expect(log.events.map((e) => e.id)).toEqual(['a', 'b', 'c']);
  });
});
