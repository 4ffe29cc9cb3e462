/**
 * How an instance holding several partitions projects them: a catch-up (`catchUp()`, and the
 * first run after opening) runs them side by side, so their round trips to the database overlap;
 * a live run takes them in turn. Observed on a real PostgreSQL store through the commits each
 * partition makes: how many are in flight at once.
 */
import { BehaviorSubject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PartitionSource } from '../../src/engine/types.js';
import { fnv1a32 } from '../../src/store/shared/partition.js';
import type { ProjectionCommit, ProjectionStore } from '../../src/store/port.js';
import { createTrutoEngine, type TrutoEngine } from '../../src/truto/engine.js';
import { envelope } from '../projections/builders.js';
import { openFreshPostgresStore, waitUntil } from '../support/postgres.js';

const COUNT = 4;

/** Every partition's view of `inner`, counting the commits in flight across all of them. */
function counted(inner: ProjectionStore) {
  let inFlight = 0;
  let most = 0;
  let commits = 0;
  const store: ProjectionStore = {
    ...inner,
    readCheckpoint: (name, partition) => inner.readCheckpoint(name, partition),
    listStates: (projection, options) => inner.listStates(projection, options),
    readStates: (projection, keys) => inner.readStates(projection, keys),
    commit: async (batch: ProjectionCommit) => {
      inFlight++;
      most = Math.max(most, inFlight);
      commits++;
      try {
        return await inner.commit(batch);
      } finally {
        inFlight--;
      }
    },
  };
  return {
    store,
    /** The most commits in flight at once since the last call, and how many there were. */
    take: () => {
      const seen = { most, commits };
      most = 0;
      commits = 0;
      return seen;
    },
  };
}

const accountBody = (id: string) =>
  JSON.stringify(envelope('integrated_account:active', { id, status: 'active' }));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh PostgreSQL store, and partitions (all held) committing through a counted view. */
async function holdingEveryPartition() {
  const fresh = await openFreshPostgresStore({ poolSize: 8 });
  cleanups.push(fresh.cleanup);
  const view = counted(fresh.store.projections);
  const partitions: PartitionSource = {
    count: COUNT,
    partitionOf: (stream) => fnv1a32(stream) % COUNT,
    readFilter: (partition) => ({ modulo: COUNT, remainder: partition }),
    owned$: new BehaviorSubject<ReadonlySet<number>>(new Set([0, 1, 2, 3])),
    storeFor: () => view.store,
  };
  return { fresh, view, partitions };
}

describe('an instance holding several partitions', () => {
  it('catches up on them side by side', async () => {
    const { fresh, view, partitions } = await holdingEveryPartition();
    const engine: TrutoEngine = await createTrutoEngine({
      store: fresh.store,
      live: false,
      partitions,
    });
    cleanups.push(() => engine.close());
    // A history in every partition, stored and not yet projected.
    const ids = Array.from({ length: 40 }, (_, i) => `acc-${i}`);
    const touched = new Set(ids.map((id) => fnv1a32(`integrated_account:${id}`) % COUNT));
    expect(touched.size).toBe(COUNT);
    for (const id of ids) expect((await engine.ingest(accountBody(id))).status).toBe('stored');
    await engine.catchUp();
    const caughtUp = view.take();
    expect(caughtUp.commits).toBeGreaterThanOrEqual(COUNT);
    expect(caughtUp.most).toBeGreaterThan(1);
    expect((await engine.list('accounts')).items).toHaveLength(ids.length);
    // Each partition read only its own events (PostgreSQL filters on the stream hash), and
    // still every partition's checkpoint stands at the head, not at its own last event.
    const head = await fresh.store.head();
    const rows = await fresh.store.projections.listCheckpoints();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows)
      expect(row, `${row.name} ${row.partition}`).toMatchObject({ position: head });
  });

  it('projects live runs one partition at a time', async () => {
    const { fresh, view, partitions } = await holdingEveryPartition();
    const engine = await createTrutoEngine({ store: fresh.store, partitions });
    cleanups.push(() => engine.close());
    const ids = Array.from({ length: 40 }, (_, i) => `acc-${i}`);
    // Before the first run: one batch of appends in every partition, caught up side by side.
    const first = ids.slice(0, 20);
    await Promise.all(first.map((id) => engine.ingest(accountBody(id))));
    await waitUntil(
      async () => (await engine.count('accounts')) === first.length,
      'the first accounts projected',
    );
    view.take();
    // Later deliveries, while live: every partition's run waits for the one before it.
    for (const id of ids.slice(20)) await engine.ingest(accountBody(id));
    await waitUntil(
      async () => (await engine.count('accounts')) === ids.length,
      'every account projected',
    );
    const live = view.take();
    expect(live.commits).toBeGreaterThan(0);
    expect(live.most).toBe(1);
  });
});
