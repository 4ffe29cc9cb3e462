/**
 * Derived changes across instances: two engines on one PostgreSQL schema hold different
 * partitions, and two runs of one account land in different partitions. Each commits its run at
 * the same moment. The `account-sync` change journalled last must count both runs (what a read
 * derives), whichever order the commits take.
 *
 * The interleaving is forced: engine A enters its commit, then waits until engine B's commit has
 * finished. A derived change computed before A's commit (from a read of the account's runs made
 * outside A's transaction) misses B's run.
 */
import { BehaviorSubject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PartitionSource } from '../../src/engine/types.js';
import { createPostgresEventStore } from '../../src/store/postgres/index.js';
import { fnv1a32 } from '../../src/store/shared/partition.js';
import type { ProjectionCommit, ProjectionStore } from '../../src/store/port.js';
import { createTrutoEngine, type TrutoEngine } from '../../src/truto/engine.js';
import { envelope } from '../projections/builders.js';
import { openFreshPostgresStore, pgUrl } from '../support/postgres.js';

const COUNT = 2;
const partitionOf = (stream: string) => fnv1a32(stream) % COUNT;

/** The first run id whose stream lands in `partition`. */
function runIn(partition: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (partitionOf(`sync_job_run:${id}`) === partition) return id;
  }
}

function source(store: ProjectionStore, partition: number): PartitionSource {
  return {
    count: COUNT,
    partitionOf,
    owned$: new BehaviorSubject<ReadonlySet<number>>(new Set([partition])),
    storeFor: () => store,
  };
}

/** A view of `inner` whose first commit carrying changes runs `around` the real commit. */
function gated(
  inner: ProjectionStore,
  around: (commit: () => Promise<unknown>) => Promise<unknown>,
): ProjectionStore {
  let first = true;
  return {
    ...inner,
    readCheckpoint: (name, partition) => inner.readCheckpoint(name, partition),
    listStates: (projection, options) => inner.listStates(projection, options),
    readStates: (projection, keys) => inner.readStates(projection, keys),
    commit: async (batch: ProjectionCommit) => {
      if (!first || batch.states.length === 0) return inner.commit(batch);
      first = false;
      let result: Awaited<ReturnType<ProjectionStore['commit']>> | undefined;
      await around(async () => {
        result = await inner.commit(batch);
      });
      return result as Awaited<ReturnType<ProjectionStore['commit']>>;
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('derived changes across partitioned instances', () => {
  it('the last account-sync change counts runs another instance committed at the same moment', async () => {
    const fresh = await openFreshPostgresStore();
    cleanups.push(fresh.cleanup);
    const other = await createPostgresEventStore({
      connectionString: pgUrl(),
      schema: fresh.schema,
      poolSize: 4,
    });
    cleanups.push(() => other.close());

    let aEntered!: () => void;
    const aInCommit = new Promise<void>((resolve) => (aEntered = resolve));
    let bDone!: () => void;
    const bCommitted = new Promise<void>((resolve) => (bDone = resolve));
    // A: enters its commit, then lets B commit first. B: waits for A to be inside its commit.
    const aStore = gated(fresh.store.projections, async (commit) => {
      aEntered();
      await bCommitted;
      await commit();
    });
    const bStore = gated(other.projections, async (commit) => {
      await aInCommit;
      await commit();
      bDone();
    });

    const runA = runIn(0, 'run-a');
    const runB = runIn(1, 'run-b');
    const engines: TrutoEngine[] = [
      await createTrutoEngine({ store: fresh.store, live: false, partitions: source(aStore, 0) }),
      await createTrutoEngine({ store: other, live: false, partitions: source(bStore, 1) }),
    ];
    cleanups.push(async () => {
      for (const engine of engines) await engine.close();
    });
    const [a, b] = engines as [TrutoEngine, TrutoEngine];
    for (const run of [runA, runB]) {
      await a.ingest(
        JSON.stringify(
          envelope('sync_job_run:created', { id: run, integrated_account_id: 'acc-1' }),
        ),
      );
    }
    await Promise.all([a.catchUp(), b.catchUp()]);

    const read = await a.get('account-sync', 'acc-1');
    expect(read).toMatchObject({ integratedAccountId: 'acc-1', runs: 2 });
    const journal = await fresh.store.projections.readChanges(0);
    const last = journal.filter((c) => c.projection === 'account-sync' && c.key === 'acc-1').at(-1);
    expect(last?.after).toEqual(read);
  });
});
