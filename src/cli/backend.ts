/**
 * Opens the configured store. Adapters are imported lazily, so a command never loads a driver
 * it does not use.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { PartitionSource } from '../engine/types.js';
import type { EventStore, ProjectionStore } from '../store/port.js';
import type { StoreConfig } from './config.js';

export interface Backend {
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  /** A human description for logs, e.g. `sqlite ./data/truto-state.db`. */
  readonly description: string;
  /**
   * Shared stores (PostgreSQL): joins the instances that split projection work by partition
   * lease. Only commands that run an engine join; `import` and `stats` do not.
   */
  joinPartitions?(options?: { readonly observe?: boolean }): Promise<JoinedPartitions>;
  close(): Promise<void>;
}

export interface JoinedPartitions {
  readonly source: PartitionSource;
  /** Gives every partition back at once (others take them on their next round). */
  leave(): Promise<void>;
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
      return {
        store,
        projectionStore: store.projections,
        description: 'memory',
        close: () => store.close(),
      };
    }
    case 'postgres': {
      // Log and projected state share one PostgreSQL schema (`truto_state`), created or migrated
      // on open; several instances may share it.
      const url = config.pgUrl;
      if (url === undefined)
        throw new Error('--store postgres needs --pg-url or TRUTO_STATE_PG_URL');
      const postgres = await import('../store/postgres/index.js');
      const store = await postgres.createPostgresEventStore({
        connectionString: url,
        ...(config.pgPreparedStatements === undefined
          ? {}
          : { preparedStatements: config.pgPreparedStatements }),
      });
      const { partitions } = config;
      return {
        store,
        projectionStore: store.projections,
        async joinPartitions(options = {}) {
          const leases = await postgres.createPartitionLeases({
            connectionString: url,
            instanceId: `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`,
            ...(partitions === undefined ? {} : { partitions }),
            ...(options.observe ? { observe: true } : {}),
          });
          return {
            source: postgres.leasedPartitions(store.projections, leases),
            leave: () => leases.close(),
          };
        },
        // Credentials in the URL stay out of logs.
        description: `postgres ${url.replace(/\/\/[^@/]*@/, '//***@')}`,
        close: () => store.close(),
      };
    }
    case 'kurrentdb': {
      // The log lives in KurrentDB; projected state (checkpoints, states, change journal) in the
      // local SQLite file `--db`, whose own log table stays empty.
      const url = config.kurrentdbUrl;
      if (url === undefined)
        throw new Error('--store kurrentdb needs --kurrentdb-url or KURRENTDB_URL');
      mkdirSync(dirname(config.db), { recursive: true });
      const [{ createKurrentDbEventStore }, { createSqliteEventStore }] = await Promise.all([
        import('../store/kurrentdb/index.js'),
        import('../store/sqlite/index.js'),
      ]);
      const store = createKurrentDbEventStore({ connectionString: url });
      const local = createSqliteEventStore({ path: config.db });
      return {
        store,
        projectionStore: local.projections,
        // Credentials in the URL stay out of logs.
        description: `kurrentdb ${url.replace(/\/\/[^@/]*@/, '//***@')} (state in sqlite ${config.db})`,
        close: async () => {
          try {
            await store.close();
          } finally {
            await local.close();
          }
        },
      };
    }
  }
}
