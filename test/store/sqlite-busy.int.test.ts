/**
 * A busy SQLite (another process holding `BEGIN IMMEDIATE` on the same real file) must not
 * freeze the process: an append waits on timers, not in SQLite's synchronous busy handler, so
 * reads and every other callback keep running meanwhile; the append then commits once the lock
 * is released, or fails with `store_busy` at the busy timeout.
 *
 * No wall clock: "the event loop kept running" is shown by work that completes (reads, many
 * event-loop turns) while the append is still pending.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import { createSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite/index.js';
import { makeEvent } from '../support/events.js';
import { holdWriteLock } from '../support/lock-holder.js';
import { createTempDir, type TempDir } from '../support/temp.js';

let dir: TempDir;
let store: SqliteEventStore;
beforeEach(async () => {
  dir = await createTempDir('truto-state-busy-');
});
afterEach(async () => {
  await store?.close();
  await dir.cleanup();
});

/** Tracks a promise's settlement without awaiting it. */
function track<T>(promise: Promise<T>): {
  readonly settled: boolean;
  readonly promise: Promise<T>;
} {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

it('waits for another process’s lock without blocking reads or the event loop, then commits', async () => {
  store = createSqliteEventStore({ path: dir.path('busy.db') });
  await store.append([makeEvent('before')]);
  const holder = await holdWriteLock(store.path);
  const append = track(store.append([makeEvent('during')]));
  try {
    // Many event-loop turns and real reads complete while the append waits for the lock.
    for (let i = 0; i < 200; i += 1) await turn();
    expect(await store.head()).toBe(1);
    expect((await store.readEvent('before'))?.id).toBe('before');
    expect(append.settled).toBe(false);
  } finally {
    await holder.release();
  }
  expect(await append.promise).toMatchObject([{ status: 'stored', id: 'during' }]);
  expect((await store.stats()).events).toBe(2);
});

it('gives up with store_busy at the busy timeout, the event loop running meanwhile', async () => {
  store = createSqliteEventStore({ path: dir.path('busy.db'), busyTimeoutMs: 300 });
  const holder = await holdWriteLock(store.path);
  try {
    const append = track(store.append([makeEvent('blocked')]));
    let turns = 0;
    while (!append.settled) {
      await turn();
      turns += 1;
    }
    // A synchronous busy wait would have settled it before a single turn came round.
    expect(turns).toBeGreaterThan(1);
    const failure = await append.promise.catch((error: unknown) => error);
    expect(isStoreError(failure) && failure.code).toBe('store_busy');
  } finally {
    await holder.release();
  }
  expect(await store.append([makeEvent('blocked')])).toMatchObject([{ status: 'stored' }]);
});
