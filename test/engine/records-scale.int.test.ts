/**
 * `records` on a real SQLite file: no stored row grows with the records of a resource (the
 * summary and each record's entity are the same size at 1,000 records as at 5,000), and a
 * database made by version 1 (which kept every live id in the row) is rebuilt into the summary on
 * the first start of this version, verifies, and time-travels through its records' entities.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { verifyProjections } from '../../src/engine/verify.js';
import { RECORD_EVENTS } from '../../src/truto/catalogue.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { createTrutoEngine } from '../../src/truto/engine.js';
import { defineTrutoProjection } from '../../src/truto/events.js';
import { recordStateKey, recordsKey, trutoProjections } from '../../src/truto/projections/index.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { createTempDir, type TempDir } from '../support/temp.js';

const ACCOUNT = 'acc-scale';
const RESOURCE = 'crm/contacts';
const KEY = recordsKey(ACCOUNT, RESOURCE);
const T0 = Date.UTC(2024, 8, 10);

function body(action: string, i: number, seconds = i): string {
  return JSON.stringify({
    id: `${action}-${String(i).padStart(6, '0')}`,
    event: `record:${action}`,
    created_at: new Date(T0 + seconds * 1000).toISOString(),
    payload: {
      id: `contact-${String(i).padStart(6, '0')}`,
      integrated_account_id: ACCOUNT,
      resource: RESOURCE,
    },
  });
}

let temp: TempDir | undefined;
afterEach(async () => {
  await temp?.cleanup();
  temp = undefined;
});

/** The largest stored state of each projection, in bytes of JSON. */
function largestRows(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare('SELECT projection, MAX(LENGTH(state)) AS size FROM states GROUP BY projection')
      .all() as { projection: string; size: number }[];
    return Object.fromEntries(rows.map((row) => [row.projection, row.size]));
  } finally {
    db.close();
  }
}

async function projectRecords(path: string, from: number, to: number): Promise<void> {
  const store = createSqliteEventStore({ path });
  try {
    const engine = await createTrutoEngine({ store, live: false });
    for (let i = from; i < to; i += 500) {
      const bodies = Array.from({ length: Math.min(500, to - i) }, (_, j) =>
        body('created', i + j),
      );
      for (const text of bodies) await engine.ingest(text);
      await engine.catchUp();
    }
    expect(await engine.get('records', KEY)).toMatchObject({ live: to, created: to });
    await engine.close();
  } finally {
    await store.close();
  }
}

describe('records at scale', () => {
  it('no stored row grows with the records of a resource', async () => {
    temp = await createTempDir('truto-state-records-');
    const path = temp.path('log.db');
    await projectRecords(path, 0, 1_000);
    const small = largestRows(path);
    await projectRecords(path, 1_000, 5_000);
    const large = largestRows(path);
    // 1,000 and 5,000 have as many digits: a row that held ids would be five times the size.
    expect(large.records).toBe(small.records);
    expect(large['record-states']).toBe(small['record-states']);
    expect(large.records).toBeLessThan(400);
  });

  it('a database of version 1 (ids in the row) is rebuilt into the summary on start', async () => {
    temp = await createTempDir('truto-state-records-');
    const path = temp.path('log.db');
    // Version 1's shape: one stream projection keeping every live id.
    const recordsV1 = defineTrutoProjection({
      name: 'records',
      version: 1,
      eventTypes: RECORD_EVENTS,
      reads: 'facts',
      keyOf: (event) =>
        event.facts?.kind === 'record'
          ? recordsKey(event.facts.integratedAccountId, event.facts.resource)
          : null,
      initialState: () => ({ live: [] as string[] }),
      evolve: (state, event) =>
        event.facts?.kind === 'record' ? { live: [...state.live, event.facts.recordId] } : state,
    });
    const oldStore = createSqliteEventStore({ path });
    const old = await createEngine({
      store: oldStore,
      projections: [recordsV1],
      codec: trutoCodec,
      live: false,
    });
    for (let i = 0; i < 30; i++) await old.ingest(body('created', i));
    for (let i = 0; i < 10; i++) await old.ingest(body('deleted', i, 100 + i));
    await old.catchUp();
    expect((await old.get('records', KEY))?.live).toHaveLength(40);
    await old.close();
    await oldStore.close();

    const store = createSqliteEventStore({ path });
    try {
      const engine = await createTrutoEngine({ store, live: false });
      expect(await engine.get('records', KEY)).toMatchObject({
        live: 20,
        created: 30,
        deleted: 10,
      });
      await engine.ingest(body('updated', 3, 200));
      const head = await engine.catchUp();
      expect(await engine.get('records', KEY)).toMatchObject({ live: 21, updated: 1 });
      // A record's past is read from its entity; the summary cannot time-travel.
      const record = recordStateKey(ACCOUNT, RESOURCE, 'contact-000003');
      const before = { time: T0 + 150_000 };
      expect(await engine.stateAt('record-states', record, before)).toMatchObject({
        latest: 'deleted',
        created: 1,
        deleted: 1,
        updated: 0,
      });
      expect(await engine.get('record-states', record)).toMatchObject({ latest: 'updated' });
      await expect(engine.stateAt('records', KEY, before)).rejects.toMatchObject({
        code: 'not_supported',
      });
      const report = await verifyProjections({
        store,
        projectionStore: store.projections,
        projections: trutoProjections,
        codec: trutoCodec,
        upTo: head,
      });
      expect(report.differences).toEqual([]);
      await engine.close();
    } finally {
      await store.close();
    }
  });
});
