/**
 * `truto-state/kurrentdb`: the event log on KurrentDB (formerly EventStoreDB). The only module of
 * the package that loads `@kurrent/kurrentdb-client`; importing `truto-state` never does.
 *
 * The client is an optional peer dependency: importing this subpath without it installed throws a
 * `driver_missing` StoreError naming the package to install. The entry uses top-level await, so
 * CommonJS code loads it with `await import(…)`.
 *
 * @example
 * import { createKurrentDbEventStore } from 'truto-state/kurrentdb';
 * const store = createKurrentDbEventStore({ connectionString: 'kurrentdb://localhost:2113?tls=false' });
 */
import { assertDriverInstalled } from '../shared/driver.js';

// ESM resolves every static import before any code runs, so the modules that import the client
// are loaded only after checking it is installed (see truto-state/postgres for the same pattern).
assertDriverInstalled('truto-state/kurrentdb', '@kurrent/kurrentdb-client');
const store = await import('./store.js');
const errors = await import('./errors.js');

/** Opens a KurrentDB-backed event log. No connection is made until the first call. */
export const createKurrentDbEventStore = store.createKurrentDbEventStore;
/** Wraps any error from the client as a `StoreError` (a `StoreError` passes through). */
export const translateKurrentError = errors.translateKurrentError;
/** The `StoreError` code for a client error. */
export const kurrentErrorCode = errors.kurrentErrorCode;

export type { KurrentDbEventStore, KurrentDbEventStoreOptions } from './store.js';
// Driver-free modules, imported statically.
export {
  encodeCheckpoint,
  decodeCheckpoint,
  positionToNumber,
  numberToPosition,
  type KurrentCheckpoint,
  type Position,
} from './positions.js';
export { toEventUuid, isCanonicalUuid, ID_NAMESPACE } from './ids.js';
export { streamNames, escapeEntity, DEFAULT_STREAM_PREFIX, type StreamNames } from './names.js';
