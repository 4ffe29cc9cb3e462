/**
 * The SQLite adapter (`truto-state/sqlite`): the embedded default log and projection store.
 * Loaded only by those who import this subpath, so the core never loads better-sqlite3.
 * better-sqlite3 is an optional dependency: importing this subpath without it throws a
 * `driver_missing` StoreError (see connection.ts).
 */
export { createSqliteEventStore } from './event-store.js';
export type {
  SqliteEventStore,
  SqliteEventStoreOptions,
  SqliteProjectionStore,
  SqliteSettings,
} from './event-store.js';
export { SCHEMA_VERSION } from './schema.js';
