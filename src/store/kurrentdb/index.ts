/**
 * `truto-state/kurrentdb`: the event log on KurrentDB (formerly EventStoreDB). The only module of
 * the package that loads `@kurrent/kurrentdb-client`; importing `truto-state` never does.
 *
 * @example
 * import { createKurrentDbEventStore } from 'truto-state/kurrentdb';
 * const store = createKurrentDbEventStore({ connectionString: 'kurrentdb://localhost:2113?tls=false' });
 */
export {
  createKurrentDbEventStore,
  type KurrentDbEventStore,
  type KurrentDbEventStoreOptions,
} from './store.js';
export {
  encodeCheckpoint,
  decodeCheckpoint,
  positionToNumber,
  numberToPosition,
  type KurrentCheckpoint,
} from './positions.js';
export { toEventUuid, isCanonicalUuid, ID_NAMESPACE } from './ids.js';
export { streamNames, escapeEntity, DEFAULT_STREAM_PREFIX, type StreamNames } from './names.js';
export { translateKurrentError, kurrentErrorCode } from './errors.js';
