/**
 * `truto-state/postgres`: the PostgreSQL event store (log + projected state in one schema) and
 * the partition leases that let several instances share projection work.
 *
 * `pg` is an optional peer dependency: importing this subpath without it installed throws a
 * `driver_missing` StoreError ("truto-state/postgres needs the 'pg' package: npm install pg").
 * The entry uses top-level await, so CommonJS code loads it with `await import(…)`.
 *
 * @example
 * import { createPostgresEventStore } from 'truto-state/postgres';
 * const store = await createPostgresEventStore({ connectionString: 'postgres://localhost/truto' });
 */
import { assertDriverInstalled } from '../shared/driver.js';

// ESM resolves every static import before any code runs, so a module that imports `pg` cannot
// be imported statically here: a missing driver would fail with Node's ERR_MODULE_NOT_FOUND
// before the check below could run. Those modules are loaded once the driver is known to exist.
assertDriverInstalled('truto-state/postgres', 'pg');
const eventStore = await import('./event-store.js');
const leases = await import('./leases.js');
const schema = await import('./schema.js');

/** Opens (creating or migrating its schema) a PostgreSQL event store. */
export const createPostgresEventStore = eventStore.createPostgresEventStore;
/** Partition leases, so that several instances share the projection work. */
export const createPartitionLeases = leases.createPartitionLeases;
/** The partitions leases hold, as an engine's `partitions` option. */
export const leasedPartitions = leases.leasedPartitions;
/** A projection store whose commits are refused once the lease is lost. */
export const fencedProjectionStore = leases.fencedProjectionStore;
/** The schema version this release migrates to. */
export const SCHEMA_VERSION = schema.SCHEMA_VERSION;

export type {
  CommitOptions,
  PostgresEventStore,
  PostgresProjectionStore,
  PostgresStoreOptions,
} from './event-store.js';
export type { PartitionLeases, PartitionLeasesOptions } from './leases.js';
// Driver-free modules, imported statically.
export { LeaseLostError, isLeaseLost } from './fence.js';
export type { LeaseFence } from './fence.js';
export { partitionOf } from '../shared/partition.js';
