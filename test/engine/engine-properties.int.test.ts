/**
 * The engine's central promise, as a property: for any history delivered in any order, any
 * number of times, with projection batches cut anywhere, the live state equals the fold of the
 * sorted, de-duplicated history, and equals a rebuild.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import { allStates, expectedStates, storeKinds } from '../support/engine.js';
import { deliveredHistoryArbitrary } from '../support/histories.js';

const PROJECTIONS = ['accounts', 'runs', 'account-sync', 'record-states', 'records'];

describe.each(Object.keys(storeKinds))('live state equals the sorted fold (%s store)', (kind) => {
  it('for random histories, arrival orders, duplicates and batch cuts', async () => {
    await fc.assert(
      fc.asyncProperty(
        deliveredHistoryArbitrary,
        fc.integer({ min: 1, max: 8 }),
        async ({ bodies, order, catchUps }, batchSize) => {
          const handle = (storeKinds[kind] as () => ReturnType<(typeof storeKinds)['memory']>)();
          const engine = await createTrutoEngine({ store: handle.store, live: false, batchSize });
          try {
            for (const [i, body] of order.entries()) {
              const result = await engine.ingest(body);
              expect(result.status === 'stored' || result.status === 'duplicate').toBe(true);
              if (catchUps[i]) await engine.catchUp();
            }
            await engine.catchUp();
            const expected = expectedStates(bodies);
            for (const name of PROJECTIONS) {
              expect(await allStates(engine, name), name).toEqual(expected[name]);
            }
            await engine.rebuild();
            for (const name of PROJECTIONS) {
              expect(await allStates(engine, name), `${name} after rebuild`).toEqual(
                expected[name],
              );
            }
          } finally {
            await engine.close();
            await handle.cleanup();
          }
        },
      ),
      { numRuns: kind === 'memory' ? 150 : 40 },
    );
  });
});
