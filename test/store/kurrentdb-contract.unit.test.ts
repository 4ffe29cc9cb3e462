/**
 * The shared EventStore contract on the KurrentDB adapter without a server: the whole store
 * (src/store/kurrentdb/store.ts) over the model of the server's documented rules
 * (test/support/kurrentdb-model.ts, held to the rule table in kurrentdb-rules.unit.test.ts). It
 * checks the adapter's own logic end to end; the same suite runs against a real server in
 * kurrentdb.int.test.ts where `KURRENTDB_URL` is set.
 */
import { createKurrentStoreOnIo } from '../../src/store/kurrentdb/store.js';
import { eventStoreContract } from '../contract/event-store.js';
import { createServerModel } from '../support/kurrentdb-model.js';

eventStoreContract('kurrentdb (on a model of the server)', async () => {
  const store = createKurrentStoreOnIo(createServerModel(), {}, async () => undefined);
  return { store, cleanup: () => store.close() };
});

// Servers before `IdempotentLogPosition` answer an idempotent append without a position.
eventStoreContract('kurrentdb (on a model of an older server)', async () => {
  const model = createServerModel({ idempotentPosition: false });
  const store = createKurrentStoreOnIo(model, {}, async () => undefined);
  return { store, cleanup: () => store.close() };
});
