/** Helpers for engine tests: stores to run on, and the expected state of a history. */
import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trutoProjections } from '../../src/truto/projections/index.js';
import { parseWebhook } from '../../src/truto/parse.js';
import type { AnyProjection } from '../../src/engine/projection.js';
import type { Engine } from '../../src/engine/types.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import type { EventStore, EventStoreWithProjections } from '../../src/store/port.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { aggregateAll, deriveAll, eventsFor, foldAll } from '../../src/testing/index.js';

export interface StoreHandle {
  readonly store: EventStoreWithProjections;
  /** Opens the same database again (a restart); memory stores cannot. */
  reopen?(): EventStoreWithProjections;
  cleanup(): Promise<void>;
}

export const storeKinds: Record<string, () => StoreHandle> = {
  memory: () => {
    const store = createMemoryEventStore();
    return { store, cleanup: () => store.close() };
  },
  sqlite: () => {
    const dir = mkdtempSync(join(tmpdir(), 'truto-state-engine-'));
    const path = join(dir, 'log.db');
    const opened: EventStoreWithProjections[] = [];
    const open = () => {
      const store = createSqliteEventStore({ path });
      opened.push(store);
      return store;
    };
    return {
      store: open(),
      reopen: open,
      cleanup: async () => {
        for (const store of opened) await store.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Every state of a projection, in key order, through the engine's paged `list`. */
export async function allStates(
  engine: Engine<readonly AnyProjection[], never> | Engine<any, any>,
  projection: string,
): Promise<unknown[]> {
  const items: unknown[] = [];
  let afterKey: string | undefined;
  for (;;) {
    const page: { items: unknown[]; nextKey?: string } = await (engine as Engine).list(projection, {
      limit: 7,
      ...(afterKey === undefined ? {} : { afterKey }),
    });
    items.push(...page.items);
    if (page.nextKey === undefined) return items;
    afterKey = page.nextKey;
  }
}

/** The state every projection must have for a set of bodies: the sorted, de-duplicated fold. */
export function expectedStates(bodies: readonly string[]): Record<string, unknown[]> {
  const projected = [...new Set(bodies)].filter((body) => {
    const parsed = parseWebhook(body);
    return parsed.ok && parsed.event.data !== null && parsed.event.stream !== null;
  });
  const events = eventsFor(projected);
  const folded = new Map<string, Map<string, unknown>>();
  const out: Record<string, unknown[]> = {};
  for (const projection of trutoProjections) {
    if (projection.kind === 'stream') {
      const states = foldAll<unknown>(projection, events);
      folded.set(projection.name, states);
      out[projection.name] = [...states.values()];
    }
  }
  for (const projection of trutoProjections) {
    if (projection.kind === 'derived') {
      out[projection.name] = [
        ...deriveAll<unknown, unknown>(
          projection,
          folded.get(projection.from) ?? new Map(),
        ).values(),
      ];
    }
    // An aggregate is recomputed from its members, however the engine moved it.
    if (projection.kind === 'aggregate') {
      out[projection.name] = [
        ...aggregateAll<unknown, unknown>(
          projection,
          folded.get(projection.from) ?? new Map(),
        ).values(),
      ];
    }
  }
  return out;
}

/**
 * Per-test resources of an engine test file: `cleanups` run after each test, newest first, and
 * `sqlite()` opens a store on a fresh file that goes with them. Call once at module level.
 */
export function engineTestResources(): {
  cleanups: (() => Promise<void>)[];
  sqlite(): StoreHandle;
} {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  return {
    cleanups,
    sqlite() {
      const handle = storeKinds.sqlite?.() as StoreHandle;
      cleanups.push(() => handle.cleanup());
      return handle;
    },
  };
}

/** Appends each delivered body the parser accepts, one append per delivery, in the order given. */
export async function appendDelivered(
  store: Pick<EventStore, 'append'>,
  order: readonly string[],
): Promise<void> {
  for (const body of order) {
    const parsed = parseWebhook(body);
    if (parsed.ok) await store.append([parsed.event]);
  }
}
