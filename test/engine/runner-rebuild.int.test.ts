/**
 * A rebuild's runner (journal off, fail fast) applies each entity's events of a batch in source
 * order when they all follow its state, and in position order with re-reads otherwise. With
 * batches cut small, late deliveries fall on both sides of batch boundaries: every state must
 * still be the sorted fold, and each row's position the highest position folded into it. It
 * starts on empty storage, as a rebuild's shadow does, with caches small enough to be trimmed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trutoProjections } from '../../src/truto/projections/index.js';
import { toProjectionEvent } from '../../src/engine/event-view.js';
import { silentLogger } from '../../src/engine/logger.js';
import type { AnyProjection, AnyStreamProjection } from '../../src/engine/projection.js';
import { ProjectionRunner } from '../../src/engine/runner.js';
import { trutoCodec } from '../../src/truto/codec.js';
import {
  createMemoryEventStore,
  createMemoryProjectionStore,
} from '../../src/store/memory/index.js';
import { appendDelivered, expectedStates } from '../support/engine.js';
import { deliveredHistoryArbitrary } from '../support/histories.js';

const streams = (trutoProjections as readonly AnyProjection[]).filter(
  (p): p is AnyStreamProjection => p.kind === 'stream',
);

describe('rebuild runner with small batches', () => {
  it('folds late deliveries within and across batches into the sorted fold', async () => {
    await fc.assert(
      fc.asyncProperty(
        deliveredHistoryArbitrary,
        fc.integer({ min: 1, max: 9 }),
        // Small caches are trimmed between batches: the states dropped are read back.
        fc.constantFrom(1, 2, 5, 1_000_000),
        async ({ bodies, order }, batchSize, cacheLimit) => {
          const store = createMemoryEventStore();
          const projectionStore = createMemoryProjectionStore();
          try {
            await appendDelivered(store, order);
            const runner = new ProjectionRunner({
              store,
              projectionStore,
              codec: trutoCodec,
              logger: silentLogger,
              projections: streams,
              journal: false,
              failFast: true,
              batchSize,
              cacheLimit,
              startsEmpty: true,
            });
            await runner.init();
            await runner.runTo(await store.head(), () => undefined);

            const expected = expectedStates(bodies);
            const highest = new Map<string, number>();
            for await (const batch of store.readAll(0)) {
              for (const stored of batch) {
                if (stored.stream === null) continue;
                for (const projection of streams) {
                  if (!projection.eventTypes.includes(stored.type)) continue;
                  const key = projection.keyOf(toProjectionEvent(stored, trutoCodec));
                  if (key === null) continue;
                  const id = `${projection.name}/${key}`;
                  highest.set(id, Math.max(highest.get(id) ?? 0, stored.position));
                }
              }
            }
            for (const projection of streams) {
              const rows = await projectionStore.listStates(projection.name);
              expect(
                rows.map((row) => row.state),
                projection.name,
              ).toEqual(expected[projection.name]);
              for (const row of rows) {
                expect(row.position, `${projection.name}/${row.key}`).toBe(
                  highest.get(`${projection.name}/${row.key}`),
                );
              }
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
