/**
 * The SQLite adapter (`truto-state/sqlite`): the embedded default log and projection store.
 * Loaded only by those who import this subpath, so the core never loads better-sqlite3.
 */
export { createSqliteEventStore } from './event-store.js';
export type { SqliteEventStore, SqliteEventStoreOptions, SqliteSettings } from './event-store.js';
export type { SqliteProjectionStore } from './projection-store.js';
export { SCHEMA_VERSION } from './schema.js';
