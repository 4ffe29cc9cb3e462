/**
 * The SQLite adapter (`truto-state/sqlite`): the embedded default log and projection store.
 * Loaded only by those who import this subpath, so the core never loads better-sqlite3.
 * better-sqlite3 is an optional dependency: importing this subpath without it throws a
 * `driver_missing` StoreError (see connection.ts).
 */
import { SCHEMA_VERSION as schemaVersion } from './schema.js';

export { createSqliteEventStore } from './event-store.js';
export type {
  SqliteEventStore,
  SqliteEventStoreOptions,
  SqliteProjectionStore,
  SqliteSettings,
} from './event-store.js';

// Re-declared rather than re-exported: the declarations of schema.ts name better-sqlite3's types,
// which a TypeScript user of this subpath should not need (@types/better-sqlite3).
/** The schema version this release migrates a database file to (`PRAGMA user_version`). */
export const SCHEMA_VERSION: number = schemaVersion;
