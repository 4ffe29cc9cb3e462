/**
 * truto-state: event-sourced state for Truto integrations.
 *
 * Two layers, one entry point. The generic projection core (engine, projection definitions,
 * codecs, change streams, the store port and the in-memory store) knows nothing of Truto; the
 * Truto domain (catalogue, schemas, parsing, stream naming, the four projections, a Truto-ready
 * engine) is built on it. Drivers are never loaded from here: the SQLite, PostgreSQL and
 * KurrentDB stores are subpath exports (`truto-state/sqlite`, `/postgres`, `/kurrentdb`);
 * given/when/then helpers for projections are in `truto-state/testing`.
 */

// ── The core: engine ───────────────────────────────────────────────────────────────────────
export { createEngine } from './engine/engine.js';
export { EngineError, PoisonEventError, JournalGapError } from './engine/errors.js';
export type { EngineErrorCode } from './engine/errors.js';
export type {
  Engine,
  EngineOptions,
  EngineStats,
  Change,
  ChangeOf,
  ProjectionReset,
  IngestResult,
  ListResult,
  PartitionSource,
  ProjectionStatus,
  RebuildOptions,
  RebuildProgress,
  RebuildReport,
  TimeTravelPoint,
} from './engine/types.js';
export { SlowSubscriberError } from './engine/change-hub.js';
export type { EngineChange } from './engine/change-hub.js';
export { verifyProjections } from './engine/verify.js';
export type { VerifyReport, VerifyOptions, StateDifference } from './engine/verify.js';
export { silentLogger } from './engine/logger.js';
export type { Logger } from './engine/logger.js';
export { plainJsonCodec } from './engine/codec.js';
export type { EventCodec, CodecParseResult, DecodedBody } from './engine/codec.js';

// ── The core: projection definitions and the fold rule ─────────────────────────────────────
export {
  defineProjection,
  defineDerivedProjection,
  defineAggregateProjection,
  projectionsOver,
} from './engine/projection.js';
export type {
  Projection,
  DerivedProjection,
  AggregateProjection,
  GroupingProjection,
  AnyAggregateProjection,
  ProjectionDefinition,
  AnyProjection,
  AnyStreamProjection,
  AnyDerivedProjection,
  AnyEvent,
  ProjectionEvent,
  EventEnvelope,
  EventOfType,
  EventOf,
  ProjectionName,
  StateOf,
} from './engine/projection.js';
export { compareSourceOrder, foldInOrder, sortDistinct } from './engine/fold.js';

// ── The core: the store port, its errors, and the in-memory store ──────────────────────────
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
  CheckpointRef,
  CommitResult,
  DeadLetter,
  ChangeRecord,
  ProjectionCommit,
  RejectToRecord,
} from './store/port.js';
export { createMemoryEventStore, createMemoryProjectionStore } from './store/memory/index.js';

// ── The Truto domain: a Truto-ready engine ─────────────────────────────────────────────────
export { createTrutoEngine } from './truto/engine.js';
export type { TrutoEngine, TrutoEngineOptions, WithTrutoProjections } from './truto/engine.js';
export { trutoCodec, decodeTrutoBody } from './truto/codec.js';

// ── The Truto domain: events, as projections see them ──────────────────────────────────────
export { defineTrutoProjection } from './truto/events.js';
export type {
  TrutoEvent,
  TrutoEventOf,
  TrutoEventWith,
  TrutoEnvelope,
  Payload,
  IntegratedAccountEvent,
  SyncJobRunEvent,
  RecordEvent,
  OtherKnownEvent,
} from './truto/events.js';

// ── The Truto domain: the projections ──────────────────────────────────────────────────────
export {
  trutoProjections,
  accountsProjection,
  runsProjection,
  accountSyncProjection,
  recordStatesProjection,
  recordsProjection,
  ACCOUNT_STATUSES,
  USABLE_ACCOUNT_STATUSES,
  TERMINAL_RUN_STATUSES,
  ACTIVE_RUN_STATUSES,
} from './truto/projections/index.js';
export type {
  TrutoProjections,
  AccountState,
  AccountStatus,
  AccountTransition,
  RunState,
  RunStatus,
  RunTimelineEntry,
  AccountSyncState,
  RecordState,
  RecordsState,
} from './truto/projections/index.js';

// ── The Truto domain: catalogue, schemas, parsing, streams, time ───────────────────────────
export {
  INTEGRATED_ACCOUNT_EVENTS,
  SYNC_JOB_RUN_EVENTS,
  RECORD_EVENTS,
  OTHER_KNOWN_EVENTS,
  TRUTO_ACCOUNT_STATUSES,
  RUN_STATUSES,
  familyOf,
  isKnownEventType,
} from './truto/catalogue.js';
export type {
  EventFamily,
  IntegratedAccountEventType,
  SyncJobRunEventType,
  RecordEventType,
  ProjectedEventType,
  OtherKnownEventType,
  TrutoEventType,
} from './truto/catalogue.js';
export {
  envelopeSchema,
  integratedAccountPayloadSchema,
  syncJobRunPayloadSchema,
  syncJobRunRecordPayloadSchema,
  recordPayloadSchema,
} from './truto/schemas.js';
export type {
  Envelope,
  IntegratedAccountPayload,
  SyncJobRunPayload,
  SyncJobRunRecordPayload,
  RecordPayload,
} from './truto/schemas.js';
export {
  FACTS_VERSION,
  accountFactsSchema,
  runFactsSchema,
  recordFactsSchema,
  eventFactsSchema,
} from './truto/facts.js';
export type { EventFacts, AccountFacts, RunFacts, RecordFacts } from './truto/facts.js';
export { parseWebhook } from './truto/parse.js';
export type {
  WebhookEvent,
  ParseResult,
  EnvelopeErrorCode,
  SkipReason,
  SkipNote,
  PayloadIssue,
} from './truto/parse.js';
export { accountStream, runStream, recordsStream, otherStream } from './truto/streams.js';
export { parseSourceTime, toIsoTime } from './truto/time.js';
export { verifySignature, signBody, SIGNATURE_HEADER } from './http/signature.js';
