/**
 * The shared contract suites against the PostgreSQL adapter, on a real server (the one at
 * TRUTO_STATE_PG_URL, else an embedded PostgreSQL started once per run). Each store gets a fresh
 * schema, so tests and files run in parallel on one server.
 */
import { eventStoreContract } from '../contract/event-store.js';
import { projectionStoreContract } from '../contract/projection-store.js';
import { openFreshPostgresStore } from '../support/postgres.js';

eventStoreContract('postgres', openFreshPostgresStore, { propertyRuns: 25 });

projectionStoreContract('postgres', async () => {
  const { store, cleanup } = await openFreshPostgresStore();
  return { store: store.projections, cleanup };
});

// Behind a pooler in transaction mode, statements are sent unprepared: the same contract holds.
eventStoreContract(
  'postgres, unprepared statements',
  () => openFreshPostgresStore({ preparedStatements: false }),
  { propertyRuns: 10 },
);

projectionStoreContract('postgres, unprepared statements', async () => {
  const { store, cleanup } = await openFreshPostgresStore({ preparedStatements: false });
  return { store: store.projections, cleanup };
});
