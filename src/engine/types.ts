/**
 * The engine's public surface: open on a store, ingest, query, watch, rebuild, time-travel.
 */
import type { Observable } from 'rxjs';
import type { EnvelopeErrorCode, WebhookEvent } from '../truto/index.js';
import type {
  AppendOutcome,
  DeadLetter,
  EventStore,
  EventStoreStats,
  EventToAppend,
  ListOptions,
  ProjectionStore,
} from '../store/port.js';
import type { AnyProjection } from './projection.js';

/**
 * A committed state change, published only after its transaction committed. The runner commits
 * in batches: an entity touched by several events of one batch yields one change, from its state
 * before the batch to its state after it, naming the batch's last event for that entity.
 */
export interface Change<S = unknown> {
  readonly projection: string;
  readonly key: string;
  /** `undefined` when the entity is new. */
  readonly before: S | undefined;
  readonly after: S;
  readonly eventId: string;
  /** Log position of the event that caused it. */
  readonly position: number;
  /** Order of the change journal: SSE ids and `changesSince`. */
  readonly seq: number;
}

export type IngestResult =
  | (AppendOutcome & { readonly event: WebhookEvent })
  | { readonly status: 'rejected'; readonly code: EnvelopeErrorCode; readonly message: string };

/**
 * Scale-out: several engines on one shared store, each applying only the partitions it holds.
 * Entities map to partitions by stream; every instance must use the same `count`.
 */
export interface PartitionSource {
  readonly count: number;
  partitionOf(stream: string): number;
  /** The partitions held now: the current set on subscribe, then every change. */
  readonly owned$: Observable<ReadonlySet<number>>;
  /**
   * The projection store a partition's commits go through (fenced by its lease), or undefined
   * when the partition was lost again before its runner started.
   */
  storeFor(partition: number): ProjectionStore | undefined;
}

export interface EngineOptions {
  readonly store: EventStore;
  /** Where state lives; defaults to the store's own (`store.projections`) when it has one. */
  readonly projectionStore?: ProjectionStore;
  /** Defaults to the Truto projections. */
  readonly projections?: readonly AnyProjection[];
  /** Follow new appends live (default true). `false`: project only on `catchUp()`. */
  readonly live?: boolean;
  /** Events per projection transaction (default 500). */
  readonly batchSize?: number;
  /** Journalled changes kept for resume (default 100 000). */
  readonly changeRetention?: number;
  /** Live changes buffered per slow subscriber before it is cut off (default 10 000). */
  readonly subscriberBuffer?: number;
  /**
   * Share projection work with other instances on the same store. Changes are then published
   * from the shared journal, so every instance sees every change.
   */
  readonly partitions?: PartitionSource;
  /** How often the shared journal is read for other instances' changes (default 200 ms). */
  readonly journalPollMs?: number;
  /** How long `catchUp` waits for other instances' partitions to reach the head (default 60 s). */
  readonly catchUpTimeoutMs?: number;
}

export interface ProjectionStatus {
  readonly name: string;
  readonly kind: 'stream' | 'derived';
  readonly version: number;
  readonly position: number;
  /** Head minus position. */
  readonly lag: number;
  readonly entities: number;
  readonly deadLetters: number;
  readonly stalledEntities: number;
}

export interface EngineStats {
  readonly store: EventStoreStats;
  readonly head: number;
  readonly projections: readonly ProjectionStatus[];
}

export interface RebuildProgress {
  readonly projections: readonly string[];
  readonly position: number;
  readonly head: number;
  readonly events: number;
  readonly done: boolean;
}

export interface RebuildOptions {
  readonly onProgress?: (progress: RebuildProgress) => void;
}

export interface RebuildReport {
  readonly projections: readonly string[];
  readonly events: number;
  readonly position: number;
  readonly durationMs: number;
}

export type TimeTravelPoint = { readonly time: number | string } | { readonly position: number };

export interface ListResult<S> {
  readonly items: S[];
  /** Pass as `afterKey` for the next page; absent on the last page. */
  readonly nextKey?: string;
}

export interface Engine {
  readonly store: EventStore;
  readonly projectionNames: readonly string[];
  /** Parses (no signature check: that is the receiver's job) and appends one raw body. */
  ingest(body: Uint8Array | string): Promise<IngestResult>;
  /** Appends already-parsed events. */
  append(events: readonly EventToAppend[]): Promise<AppendOutcome[]>;
  /** Projects up to the current head; resolves with the position reached. */
  catchUp(): Promise<number>;
  get<S = unknown>(projection: string, key: string): Promise<S | undefined>;
  list<S = unknown>(projection: string, options?: ListOptions): Promise<ListResult<S>>;
  count(projection: string, where?: ListOptions['where']): Promise<number>;
  /** Every committed change, live. */
  readonly changes$: Observable<Change>;
  changesOf(projection: string): Observable<Change>;
  /** The current state first (or `undefined`), then the state after each change. */
  watch<S = unknown>(projection: string, key: string): Observable<S | undefined>;
  /** Journalled changes after `seq`, then live ones, without gap or repeat. */
  changesSince(seq: number): Observable<Change>;
  rebuild(projections?: readonly string[], options?: RebuildOptions): Promise<RebuildReport>;
  /** Progress of the rebuild under way, if any. */
  readonly rebuildProgress$: Observable<RebuildProgress>;
  /** An entity's state as of a source time (ISO string or epoch ms) or a log position. */
  stateAt<S = unknown>(
    projection: string,
    key: string,
    at: TimeTravelPoint,
  ): Promise<S | undefined>;
  stats(): Promise<EngineStats>;
  deadLetters(projection?: string): Promise<DeadLetter[]>;
  close(): Promise<void>;
}
