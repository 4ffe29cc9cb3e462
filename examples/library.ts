/**
 * Embedding truto-state as a library: the README's example, run by test/examples.unit.test.ts.
 */
import { firstValueFrom, toArray } from 'rxjs';
import { createEngine, createMemoryEventStore, type AccountState } from '../src/index.js';

export async function example(bodies: readonly string[]) {
  // README:start
  // The embedded SQLite store is `createSqliteEventStore({ path })` from 'truto-state/sqlite'.
  const store = createMemoryEventStore();
  const engine = await createEngine({ store }); // the Truto projections, following the log live

  // Watch one account: its current state first, then its state after each committed change
  // (changes within one projection batch arrive as one); the stream completes on close.
  const watched = firstValueFrom(engine.watch<AccountState>('accounts', 'acc-1').pipe(toArray()));

  for (const body of bodies) {
    const result = await engine.ingest(body); // the raw webhook body, signature already checked
    if (result.status === 'rejected') console.warn(`unusable webhook: ${result.message}`);
  }
  await engine.catchUp();

  const account = await engine.get<AccountState>('accounts', 'acc-1');
  const usable = await engine.list<AccountState>('accounts', { where: { usable: true } });
  const before = await engine.stateAt<AccountState>('accounts', 'acc-1', {
    time: '2024-09-10T12:00:30Z',
  });
  await engine.close();
  const history = (await watched).map((state) => state?.status);
  // README:end
  return { account, usable: usable.items, before, history };
}
