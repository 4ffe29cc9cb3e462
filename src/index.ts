/**
 * truto-state: event-sourced state for Truto integrations.
 *
 * The core entry point: the engine, projection definitions, the Truto projections, webhook
 * parsing and signatures, the store port and the in-memory store. Drivers are never loaded
 * from here: the SQLite, PostgreSQL and KurrentDB stores are subpath exports
 * (`truto-state/sqlite`, `truto-state/postgres`, `truto-state/kurrentdb`); given/when/then
 * helpers for projections are in `truto-state/testing`.
 */

// The engine
export { createEngine, EngineError } from './engine/engine.js';
export type {
  Engine,
  EngineOptions,
  EngineStats,
  Change,
  IngestResult,
  ListResult,
  ProjectionStatus,
  RebuildOptions,
  RebuildProgress,
  RebuildReport,
  TimeTravelPoint,
} from './engine/types.js';
export { SlowSubscriberError } from './engine/changes.js';
export { PoisonEventError } from './engine/runner.js';
export { verifyProjections } from './engine/verify.js';
export type { VerifyReport, VerifyOptions, StateDifference } from './engine/verify.js';

// Projection definitions and the fold rule
export { defineProjection, defineDerivedProjection } from './engine/projection.js';
export type {
  Projection,
  DerivedProjection,
  AnyProjection,
  ProjectionEvent,
} from './engine/projection.js';
export { compareSourceOrder, foldInOrder, sortDistinct } from './engine/fold.js';

// The Truto projections
export {
  trutoProjections,
  accountsProjection,
  runsProjection,
  accountSyncProjection,
  recordsProjection,
} from './truto/projections/index.js';
export type {
  AccountState,
  AccountStatus,
  AccountTransition,
  RunState,
  RunStatus,
  RunTimelineEntry,
  AccountSyncState,
  RecordsState,
} from './truto/projections/index.js';

// Webhook events
export {
  parseWebhook,
  parseSourceTime,
  toIsoTime,
  familyOf,
  isKnownEventType,
} from './truto/index.js';
export type {
  WebhookEvent,
  ParseResult,
  EnvelopeErrorCode,
  EventFamily,
  EventFacts,
  AccountFacts,
  RunFacts,
  RecordFacts,
  SkipReason,
} from './truto/index.js';
export { verifySignature, signBody, SIGNATURE_HEADER } from './http/signature.js';

// The store port, its errors, and the in-memory store
export { StoreError, isStoreError } from './store/errors.js';
export type { StoreErrorCode } from './store/errors.js';
export type {
  EventStore,
  EventStoreWithProjections,
  ProjectionStore,
  EventToAppend,
  StoredEvent,
  AppendOutcome,
  EventStoreStats,
  ReadOptions,
  StateRow,
  StateFilter,
  ListOptions,
  Checkpoint,
  DeadLetter,
  ChangeRecord,
  ProjectionCommit,
  RejectToRecord,
} from './store/port.js';
export { createMemoryEventStore, createMemoryProjectionStore } from './store/memory/index.js';
