/** The shared contract suites against the in-memory adapter. */
import {
  createMemoryEventStore,
  createMemoryProjectionStore,
} from '../../src/store/memory/index.js';
import { eventStoreContract } from '../contract/event-store.js';
import { projectionStoreContract } from '../contract/projection-store.js';

eventStoreContract('memory', async () => {
  const store = createMemoryEventStore();
  return { store, cleanup: () => store.close() };
});

projectionStoreContract('memory', async () => ({
  store: createMemoryProjectionStore(),
  cleanup: async () => {},
}));

projectionStoreContract('memory (via the event store)', async () => {
  const store = createMemoryEventStore();
  return { store: store.projections, cleanup: () => store.close() };
});
