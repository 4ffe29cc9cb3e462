/**
 * A state or key the store refuses (`store_rejected`: a NUL in a key, say) is a deterministic
 * error: retried, it would stall projection for ever. The engine dead-letters that entity, stalls
 * it, and commits the rest of the batch; a rebuild fails fast on it instead. On every store.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { defineTrutoProjection } from '../../src/truto/events.js';
import type { EventStoreWithProjections } from '../../src/store/port.js';
import { engineTestResources, storeKinds, type StoreHandle } from '../support/engine.js';
import { openFreshPostgresStore } from '../support/postgres.js';

const { cleanups } = engineTestResources();

/** Accounts by a payload field: a projection of an application's own, keyed by what was sent. */
const byLabel = defineTrutoProjection({
  name: 'by-label',
  version: 1,
  eventTypes: ['integrated_account:created'],
  keyOf: (event) => (typeof event.payload.label === 'string' ? event.payload.label : null),
  initialState: (label) => ({ label, accounts: 0 }),
  evolve: (state) => ({ ...state, accounts: state.accounts + 1 }),
});

const created = (id: string, label: string, second: number) =>
  JSON.stringify({
    id,
    event: 'integrated_account:created',
    created_at: `2024-09-10T12:00:${String(second).padStart(2, '0')}Z`,
    payload: { id: `acc-${id}`, label },
  });

/** Every store that holds projected state: memory, a SQLite file, the test PostgreSQL. */
const opens: Record<
  string,
  () => Promise<{ store: EventStoreWithProjections; cleanup(): Promise<void> }>
> = {
  ...Object.fromEntries(
    Object.entries(storeKinds).map(([kind, open]) => [kind, async () => open() as StoreHandle]),
  ),
  postgres: () => openFreshPostgresStore(),
};

describe.each(Object.keys(opens))('a state the %s store refuses', (kind) => {
  it('dead-letters its entity and commits the rest; a rebuild fails fast on it', async () => {
    const handle = await (opens[kind] as () => ReturnType<(typeof opens)[string]>)();
    cleanups.push(() => handle.cleanup());
    const engine = await createEngine({
      store: handle.store,
      live: false,
      codec: trutoCodec,
      projections: [byLabel] as const,
    });
    cleanups.push(() => engine.close());
    await engine.ingest(created('e1', 'plain', 1));
    await engine.ingest(created('e2', 'nul\u0000inside', 2));
    await engine.catchUp();
    // A later batch meets the same refusal: its event is dead-lettered too.
    await engine.ingest(created('e3', 'plain', 3));
    const last = await engine.ingest(created('e4', 'nul\u0000inside', 4));
    if (last.status !== 'stored') throw new Error(`e4 was ${last.status}`);
    // The head is the last event's position (1, 2, 3, 4 on most stores; spread on PostgreSQL).
    expect(await engine.catchUp()).toBe(last.position);
    expect(await engine.get('by-label', 'plain')).toEqual({ label: 'plain', accounts: 2 });
    const letters = await engine.deadLetters('by-label');
    // The key itself cannot be kept: the letters show it with U+FFFD where the NUL was.
    expect(letters.map((l) => [l.key, l.eventId])).toEqual([
      ['nul\uFFFDinside', 'e2'],
      ['nul\uFFFDinside', 'e4'],
    ]);
    expect(letters[0]?.error).toContain('NUL');
    const stats = await engine.stats();
    expect(stats.projections[0]).toMatchObject({ lag: 0, deadLetters: 2 });
    await expect(engine.rebuild()).rejects.toMatchObject({
      code: 'poison_event',
      deadLetter: { key: 'nul\u0000inside', eventId: 'e4' },
    });
  });
});
