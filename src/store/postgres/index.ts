/**
 * `truto-state/postgres`: the PostgreSQL event store (log + projected state in one schema) and
 * the partition leases that let several instances share projection work.
 */
export { createPostgresEventStore } from './event-store.js';
export type { PostgresEventStore, PostgresStoreOptions } from './event-store.js';
export type { CommitOptions, PostgresProjectionStore } from './projection-store.js';
export { createPartitionLeases, fencedProjectionStore } from './leases.js';
export type { PartitionLeases, PartitionLeasesOptions } from './leases.js';
export { LeaseLostError, isLeaseLost } from './fence.js';
export type { LeaseFence } from './fence.js';
export { partitionOf } from './partition.js';
export { SCHEMA_VERSION } from './schema.js';
