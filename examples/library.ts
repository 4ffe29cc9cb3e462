/**
 * Embedding truto-state as a library: the README's example, run by test/examples.unit.test.ts.
 * The README shows it with the package's own import paths (`truto-state`, `truto-state/sqlite`).
 */
// README:start
import { firstValueFrom, toArray } from 'rxjs';
import { createTrutoEngine, defineTrutoProjection } from '../src/index.js';
import { createSqliteEventStore } from '../src/store/sqlite/index.js';

/**
 * An application's own projection, beside the Truto ones: it reads the record payloads. A
 * record's events share a stream (its account and resource), so late deliveries fold in order.
 */
export const contacts = defineTrutoProjection({
  name: 'contacts',
  version: 1,
  eventTypes: ['record:created', 'record:deleted'],
  keyOf: (event) => (event.payload.resource === 'crm/contacts' ? event.payload.id : null),
  initialState: (id) => ({ id, name: null as string | null, deleted: false }),
  evolve: (state, event) => {
    if (event.type === 'record:deleted') return { ...state, deleted: true };
    const record = event.payload.record as { name?: unknown } | undefined;
    return { ...state, name: typeof record?.name === 'string' ? record.name : state.name };
  },
});

export async function example(path: string, bodies: readonly string[]) {
  const store = createSqliteEventStore({ path }); // the log and the state, in one SQLite file
  const engine = await createTrutoEngine({ store, projections: [contacts] as const });
  try {
    // Watch one account: its current state first, then its state after each committed change
    // (changes within one projection transaction arrive as one); the stream completes on close.
    const watched = firstValueFrom(engine.watch('accounts', 'acc-1').pipe(toArray()));

    for (const body of bodies) {
      const result = await engine.ingest(body); // the raw webhook body, signature already checked
      if (result.status === 'rejected') console.warn(`unusable webhook: ${result.message}`);
    }
    await engine.catchUp();

    const account = await engine.get('accounts', 'acc-1'); // AccountState | undefined
    const usable = await engine.list('accounts', { where: { usable: true } });
    const before = await engine.stateAt('accounts', 'acc-1', { time: '2024-09-10T12:00:30Z' });
    const contact = await engine.get('contacts', 'c-1'); // { id, name, deleted } | undefined
    await engine.close();
    const history = (await watched).map((state) => state?.status);
    return { account, usable: usable.items, before, contact, history };
  } finally {
    await engine.close(); // idempotent
    await store.close(); // whoever opens the store closes it
  }
}
// README:end
