/**
 * Live projection under load, on a real SQLite file: a large append group takes the coalescing
 * path (the batch waits briefly for more appends) and is still projected and published without
 * anyone calling catchUp; projection commits run at synchronous=NORMAL but the connection is back
 * at FULL for appends afterwards.
 */
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import type { Change } from '../../src/engine/types.js';
import type { TrutoEngine as Engine } from '../../src/truto/engine.js';
import { createSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite/index.js';
import { createTempDir, type TempDir } from '../support/temp.js';

const T0 = Date.UTC(2024, 8, 10, 12);

function created(account: string, seconds: number): string {
  return JSON.stringify({
    id: `evt-${account}`,
    event: 'integrated_account:created',
    created_at: new Date(T0 + seconds * 1000).toISOString(),
    payload: { id: account, tenant_id: 'tenant-1', environment_id: 'env-1' },
  });
}

let temp: TempDir | undefined;
let store: SqliteEventStore | undefined;
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  await store?.close();
  await temp?.cleanup();
  engine = store = temp = undefined;
});

async function open(): Promise<{ store: SqliteEventStore; engine: Engine }> {
  temp = await createTempDir('truto-state-live-');
  store = createSqliteEventStore({ path: temp.path('log.db') });
  engine = await createTrutoEngine({ store });
  return { store, engine };
}

/** Resolves with the first published change at or past `position`. */
function publishedUpTo(engine: Engine, position: number): Promise<Change> {
  return firstValueFrom(
    (engine.changes$ as Observable<Change>).pipe(filter((change) => change.position >= position)),
  );
}

describe('live projection of large append groups', () => {
  it('projects and publishes a 200-event group without catchUp, appends staying synchronous=FULL', async () => {
    const { store, engine } = await open();
    expect((await store.readSettings()).synchronous).toBe(2);
    const seen = new Set<string>();
    const subscription = engine
      .changesOf('accounts')
      .subscribe((change) => change.kind === 'change' && seen.add(change.key));
    const accounts = Array.from({ length: 200 }, (_, i) => `acc-${String(i).padStart(3, '0')}`);
    const published = publishedUpTo(engine, 200);
    // One tick: one append group of 200 events, past the coalescing threshold.
    const results = await Promise.all(accounts.map((a, i) => engine.ingest(created(a, i))));
    expect(results.map((r) => r.status)).toEqual(accounts.map(() => 'stored'));
    await published;
    for (const account of accounts) {
      expect(
        await (engine.get('accounts', account) as Promise<{ id: string } | undefined>),
      ).toMatchObject({ id: account });
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect([...seen].sort()).toEqual(accounts);
    // The projection commits lowered synchronous for themselves only.
    expect((await store.readSettings()).synchronous).toBe(2);

    // A single append afterwards (no coalescing) is projected live too.
    const next = publishedUpTo(engine, 201);
    expect((await engine.ingest(created('acc-late', 500))).status).toBe('stored');
    expect((await next).key).toBe('acc-late');
    expect((await store.readSettings()).synchronous).toBe(2);
    subscription.unsubscribe();
  });

  it('closes promptly while a batch waits for more appends, and a later engine catches up', async () => {
    const { store, engine: first } = await open();
    await Promise.all(Array.from({ length: 40 }, (_, i) => first.ingest(created(`acc-${i}`, i))));
    // The pump may now be in its coalescing wait: close ends it rather than waiting it out.
    await first.close();
    engine = await createTrutoEngine({ store, live: false });
    expect(await engine.catchUp()).toBe(40);
    expect(await engine.count('accounts')).toBe(40);
  });
});
