/**
 * Opens the configured store. Adapters are imported lazily, so a command never loads a driver
 * it does not use.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EventStore, ProjectionStore } from '../store/port.js';
import type { StoreConfig } from './config.js';

export interface Backend {
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  /** A human description for logs, e.g. `sqlite ./data/truto-state.db`. */
  readonly description: string;
  close(): Promise<void>;
}

export async function openBackend(config: StoreConfig): Promise<Backend> {
  switch (config.kind) {
    case 'sqlite': {
      mkdirSync(dirname(config.db), { recursive: true });
      const { createSqliteEventStore } = await import('../store/sqlite/index.js');
      const store = createSqliteEventStore({ path: config.db });
      return {
        store,
        projectionStore: store.projections,
        description: `sqlite ${config.db}`,
        close: () => store.close(),
      };
    }
    case 'memory': {
      const { createMemoryEventStore } = await import('../store/memory/index.js');
      const store = createMemoryEventStore();
      return { store, projectionStore: store.projections, description: 'memory', close: () => store.close() };
    }
    case 'postgres':
    case 'kurrentdb':
      throw new Error(`the ${config.kind} store is not available yet`);
  }
}
