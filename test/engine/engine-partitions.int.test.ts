/**
 * Shared projection work: two engines on one store, each applying only the partitions it holds,
 * together produce exactly the state one engine produces; partitions can move between them; each
 * sees the other's changes through the shared journal.
 */
import fc from 'fast-check';
import { BehaviorSubject, firstValueFrom, filter } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import type { PartitionSource } from '../../src/engine/types.js';
import type { TrutoEngine as Engine } from '../../src/truto/engine.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import type { EventStoreWithProjections } from '../../src/store/port.js';
import { fnv1a32 } from '../../src/store/shared/partition.js';
import { allStates, expectedStates } from '../support/engine.js';
import { eventFromBody } from '../support/events.js';
import { deliveredHistoryArbitrary } from '../support/histories.js';

const COUNT = 4;
const PROJECTIONS = ['accounts', 'runs', 'account-sync', 'records'];

function source(store: EventStoreWithProjections, owned: number[]) {
  const owned$ = new BehaviorSubject<ReadonlySet<number>>(new Set(owned));
  const partitions: PartitionSource = {
    count: COUNT,
    partitionOf: (stream) => fnv1a32(stream) % COUNT,
    owned$,
    storeFor: () => store.projections,
  };
  return { partitions, move: (next: number[]) => owned$.next(new Set(next)) };
}

describe('partitioned engines', () => {
  it('together equal the sorted fold, whoever holds which partition', async () => {
    await fc.assert(
      fc.asyncProperty(
        deliveredHistoryArbitrary,
        fc.integer({ min: 0, max: COUNT }),
        async ({ bodies, order }, split) => {
          const store = createMemoryEventStore();
          const a = source(store, [0, 1]);
          const b = source(store, [2, 3]);
          const engines: Engine[] = [];
          try {
            engines.push(
              await createTrutoEngine({
                store,
                live: false,
                batchSize: 5,
                partitions: a.partitions,
              }),
            );
            engines.push(
              await createTrutoEngine({
                store,
                live: false,
                batchSize: 5,
                partitions: b.partitions,
              }),
            );
            const [first, second] = engines as [Engine, Engine];
            const half = Math.floor(order.length / 2);
            for (const body of order.slice(0, half)) await first.ingest(body);
            await Promise.all([first.catchUp(), second.catchUp()]);
            // Hand partitions over: the first `split` go to the first engine, the rest to the second.
            a.move(Array.from({ length: split }, (_, i) => i));
            b.move(Array.from({ length: COUNT - split }, (_, i) => split + i));
            for (const body of order.slice(half)) await second.ingest(body);
            await Promise.all([first.catchUp(), second.catchUp()]);
            const expected = expectedStates(bodies);
            for (const name of PROJECTIONS) {
              expect(await allStates(first, name), name).toEqual(expected[name]);
            }
          } finally {
            for (const engine of engines) await engine.close();
            await store.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('follows appends only while it holds a partition', async () => {
    const store = createMemoryEventStore();
    // The same store, counting who listens to its appends and how often the head is asked for.
    let listeners = 0;
    let headReads = 0;
    const observed: EventStoreWithProjections = Object.assign(
      Object.create(store) as typeof store,
      {
        onAppend(listener: (head: number) => void) {
          listeners++;
          const stop = store.onAppend(listener);
          return () => {
            listeners--;
            stop();
          };
        },
        head() {
          headReads++;
          return store.head();
        },
      },
    );
    const holder = source(observed, []);
    const engine = await createTrutoEngine({ store: observed, partitions: holder.partitions });
    const body = (id: string, account: string) =>
      JSON.stringify({
        id,
        event: 'integrated_account:active',
        created_at: '2024-09-10 12:00:00',
        payload: { id: account },
      });
    try {
      expect(listeners).toBe(0);
      const readsBefore = headReads;
      for (let i = 0; i < 5; i++)
        await store.append([eventFromBody(body(`idle-${i}`, `acc-${i}`))]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(headReads).toBe(readsBefore);

      holder.move([0, 1, 2, 3]);
      await vi.waitFor(() => expect(listeners).toBe(1));
      // What was appended meanwhile is projected once it holds the partitions, and what follows.
      await engine.ingest(body('held', 'acc-held'));
      await vi.waitFor(async () => {
        expect(await engine.get('accounts', 'acc-0')).toMatchObject({ status: 'active' });
        expect(await engine.get('accounts', 'acc-held')).toMatchObject({ status: 'active' });
      });

      holder.move([]);
      await vi.waitFor(() => expect(listeners).toBe(0));
    } finally {
      await engine.close();
      await store.close();
    }
    expect(listeners).toBe(0);
  });

  it('publishes changes another instance committed, from the shared journal', async () => {
    const store = createMemoryEventStore();
    const a = source(store, [0, 1, 2, 3]);
    const b = source(store, []);
    const holder = await createTrutoEngine({ store, live: false, partitions: a.partitions });
    const watcher = await createTrutoEngine({ store, partitions: b.partitions, journalPollMs: 10 });
    try {
      const seen = firstValueFrom(
        watcher.changes$.pipe(filter((c) => c.kind === 'change' && c.key === 'acc-9')),
      );
      await holder.ingest(
        JSON.stringify({
          id: 'e1',
          event: 'integrated_account:active',
          created_at: '2024-09-10 12:00:00',
          payload: { id: 'acc-9' },
        }),
      );
      await holder.catchUp();
      const change = await seen;
      expect(change.kind === 'change' && (change.after as { status: string }).status).toBe(
        'active',
      );
      // An instance holding no partition rebuilds every partition's state (the others keep
      // running; see rebuild.ts); the swap's reset reaches its own subscribers.
      const reset = firstValueFrom(watcher.changes$.pipe(filter((c) => c.kind === 'reset')));
      await watcher.rebuild();
      expect(await reset).toMatchObject({ kind: 'reset', reason: 'rebuilt' });
      expect(await holder.get('accounts', 'acc-9')).toMatchObject({ status: 'active' });
    } finally {
      await holder.close();
      await watcher.close();
      await store.close();
    }
  });
});
