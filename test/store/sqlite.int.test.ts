/** The shared contract suites against the SQLite adapter (real files in a temp dir). */
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { eventStoreContract } from '../contract/event-store.js';
import { projectionStoreContract } from '../contract/projection-store.js';
import { createTempDir } from '../support/temp.js';

async function openFresh() {
  const dir = await createTempDir('truto-state-sqlite-');
  const store = createSqliteEventStore({ path: dir.path('log.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dir.cleanup();
    },
  };
}

eventStoreContract('sqlite', openFresh, { propertyRuns: 40 });

projectionStoreContract('sqlite', async () => {
  const { store, cleanup } = await openFresh();
  return { store: store.projections, cleanup };
});
