/**
 * The WAL sync durable commits share (src/store/sqlite/wal-sync.ts), on a real SQLite file:
 * nobody is answered before a sync that followed their commit, the commits of one turn share
 * one sync (an append and the live projection it triggers above all), and a failed sync is
 * never taken for a durable commit.
 */
import { rmSync } from 'node:fs';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Change } from '../../src/engine/types.js';
import { createSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite/index.js';
import { createTrutoEngine, type TrutoEngine } from '../../src/truto/engine.js';
import { makeEvent } from '../support/events.js';
import { createTempDir, type TempDir } from '../support/temp.js';

let temp: TempDir | undefined;
let store: SqliteEventStore | undefined;
let engine: TrutoEngine | undefined;
afterEach(async () => {
  await engine?.close().catch(() => undefined);
  await store?.close().catch(() => undefined);
  await temp?.cleanup();
  engine = store = temp = undefined;
});

async function open(): Promise<SqliteEventStore> {
  temp = await createTempDir('truto-state-wal-sync-');
  store = createSqliteEventStore({ path: temp.path('log.db') });
  return store;
}

const syncs = async (s: SqliteEventStore): Promise<number> => (await s.readSettings()).walSyncs;

describe('the shared WAL sync of durable commits (SQLite file)', () => {
  it('answers an append only after a sync that ran after its commit', async () => {
    const s = await open();
    const before = await syncs(s);
    let syncsWhenAnswered = -1;
    await s.append([makeEvent('a-1')]).then(async () => {
      syncsWhenAnswered = await syncs(s);
    });
    expect(syncsWhenAnswered).toBe(before + 1);
    // The commit happened before the sync: the event is there.
    expect((await s.readEvent('a-1'))?.id).toBe('a-1');
  });

  it('appends of one turn and the projection commit made as they are announced share one sync', async () => {
    const s = await open();
    await s.append([makeEvent('warm')]);
    const before = await syncs(s);
    const commits: Promise<unknown>[] = [];
    const stop = s.onAppend(() => {
      commits.push(
        s.projections.commit({
          checkpoints: [{ name: 'p', position: 4, version: 1 }],
          states: [],
          deadLetters: [],
          changes: [],
        }),
      );
    });
    const outcomes = await Promise.all(
      ['b-1', 'b-2', 'b-3'].map((id) => s.append([makeEvent(id)])),
    );
    stop();
    expect(outcomes.flat().map((o) => o.status)).toEqual(['stored', 'stored', 'stored']);
    expect(commits).toHaveLength(1);
    expect(await commits[0]).toMatchObject({ ok: true });
    // Three appends (one group) and one projection commit: one sync, not two or four.
    expect(await syncs(s)).toBe(before + 1);
    // Commits of later turns get syncs of their own.
    await s.append([makeEvent('c-1')]);
    expect(await syncs(s)).toBe(before + 2);
  });

  it('a live engine publishes the change of a webhook after one sync for the append and its projection', async () => {
    const s = await open();
    engine = await createTrutoEngine({ store: s });
    const delivery = (id: string, account: string) =>
      JSON.stringify({
        id,
        event: 'integrated_account:created',
        created_at: '2024-09-10T12:00:00.000Z',
        payload: { id: account, tenant_id: 'tenant-1', environment_id: 'env-1' },
      });
    // Once, so everything the first delivery opens lazily is open.
    const first = firstValueFrom(engine.changesOf('accounts') as Observable<Change>);
    await engine.ingest(delivery('evt-0', 'acc-0'));
    await first;
    await new Promise((resolve) => setTimeout(resolve, 20));

    const before = await syncs(s);
    const published = firstValueFrom(
      (engine.changesOf('accounts') as Observable<Change>).pipe(
        filter((change) => change.key === 'acc-1'),
      ),
    );
    expect((await engine.ingest(delivery('evt-1', 'acc-1'))).status).toBe('stored');
    await published;
    expect(await syncs(s)).toBe(before + 1);
    expect(await engine.get('accounts', 'acc-1')).toMatchObject({ id: 'acc-1' });
  });

  it('a failed sync fails its writes and every later one, and the store reports it, until reopened', async () => {
    const s = await open();
    const wal = `${s.path}-wal`;
    // Unlinked after the commit, before the sync opens it: the sync fails (ENOENT), a real I/O
    // failure of the file the commit went to.
    const stop = s.onAppend(() => rmSync(wal));
    await expect(s.append([makeEvent('lost-1')])).rejects.toMatchObject({
      name: 'StoreError',
      code: 'store_unavailable',
    });
    stop();
    await expect(s.append([makeEvent('lost-2')])).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining('restart the service'),
    });
    await expect(
      s.projections.commit({
        checkpoints: [{ name: 'p', position: 1, version: 1 }],
        states: [],
        deadLetters: [],
        changes: [],
      }),
    ).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(s.check?.()).rejects.toMatchObject({
      code: 'store_unavailable',
      summary: 'the write-ahead log could not be synced',
    });
  });
});
