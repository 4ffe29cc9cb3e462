/**
 * The engine's public surface: open on a store, ingest, query, watch, rebuild, time-travel.
 *
 * Typed by its projection list: `Engine<typeof projections>` knows every projection's name and
 * state, so `get('accounts', id)` is `Promise<AccountState | undefined>` and an unknown name does
 * not compile. An engine over an untyped list (`AnyProjection[]`) takes any name and returns
 * `unknown` states.
 */
import type { Observable, SchedulerLike } from 'rxjs';
import type {
  AppendOutcome,
  DeadLetter,
  EventStore,
  EventStoreStats,
  EventToAppend,
  ListOptions,
  ProjectionStore,
  ReadOptions,
  StateFilter,
} from '../store/port.js';
import type { EventCodec } from './codec.js';
import type { Logger } from './logger.js';
import type { AnyProjection, ProjectionName, StateOf } from './projection.js';

/**
 * A committed state change, published only after its transaction committed. The runner commits
 * in batches: an entity touched by several events of one batch yields one change, from its state
 * before the batch to its state after it, naming the batch's last event for that entity.
 */
export interface Change<S = unknown, N extends string = string> {
  readonly kind: 'change';
  readonly projection: N;
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

/**
 * A projection's state was replaced wholesale (a rebuild swapped it in): a mirror built from
 * changes must reload that projection's state. Journalled, so resuming across it sees it too.
 */
export interface ProjectionReset<N extends string = string> {
  readonly kind: 'reset';
  readonly projection: N;
  readonly reason: 'rebuilt';
  readonly seq: number;
}

/** What change streams carry for the projections `P`: a change of one of them, or a reset. */
export type ChangeOf<P extends readonly AnyProjection[]> =
  | { [N in ProjectionName<P>]: Change<StateOf<P, N>, N> }[ProjectionName<P>]
  | ProjectionReset<ProjectionName<P>>;

export type IngestResult<Parsed = EventToAppend> =
  | (AppendOutcome & { readonly event: Parsed })
  | { readonly status: 'rejected'; readonly code: string; readonly message: string };

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
   * when the partition was lost again before its runner started. The same object for as long as
   * the lease is the same: a different one (a new epoch after a rebuild's swap) restarts the
   * partition's runner, and `owned$` emits when it changes.
   */
  storeFor(partition: number): ProjectionStore | undefined;
  /**
   * What a store may leave out of a partition's reads (see ReadOptions.partition): given only
   * when `partitionOf` is that hash modulo `count`. Without it every runner reads every event.
   */
  readFilter?(partition: number): ReadOptions['partition'];
}

export interface EngineOptions<
  P extends readonly AnyProjection[] = readonly AnyProjection[],
  Parsed extends EventToAppend = EventToAppend,
> {
  readonly store: EventStore;
  /** Where state lives; defaults to the store's own (`store.projections`) when it has one. */
  readonly projectionStore?: ProjectionStore;
  /** The projections, stream ones before the derived ones that read them. */
  readonly projections: P;
  /** How raw bodies are parsed (`ingest`) and stored bodies decoded (payloads). */
  readonly codec?: EventCodec<Parsed>;
  /** Close the store when the engine closes (default false: whoever opened it closes it). */
  readonly closeStore?: boolean;
  /** Follow new appends live (default true). `false`: project only on `catchUp()`. */
  readonly live?: boolean;
  /**
   * A projection whose version changed is rebuilt on start. `wait` (default): `createEngine`
   * resolves once it is swapped in. `background`: it resolves at once and serves the old state
   * until the swap; `engine.ready` resolves after it.
   */
  readonly startupRebuild?: 'wait' | 'background';
  /**
   * Events per live projection transaction (default 500). Further behind than that (a catch-up,
   * a rebuild), the log is read and folded in pages (2 500 events when every projection folds
   * facts, 1 000 when one reads payloads, never fewer than this), and several pages go into one
   * transaction: up to 100 000 events (or as many entities as the engine keeps cached) while
   * nobody is subscribed to changes, so each entity is written once per transaction, not once
   * per page; up to 5 000 (at most a quarter of `subscriberBuffer`) while someone is.
   */
  readonly batchSize?: number;
  /** Journalled changes kept for resume (default 100 000). */
  readonly changeRetention?: number;
  /** Live changes buffered per slow subscriber before it is cut off (default 10 000). */
  readonly subscriberBuffer?: number;
  /** Share projection work with other instances on the same store. */
  readonly partitions?: PartitionSource;
  /**
   * How often the change journal is read for changes other processes committed (default 200 ms).
   */
  readonly journalPollMs?: number;
  /** How long `catchUp` waits for other instances' partitions to reach the head (default 60 s). */
  readonly catchUpTimeoutMs?: number;
  /** Where the engine reports what it cannot throw to a caller (pino-compatible; default silent). */
  readonly logger?: Logger;
  /** Timers (coalescing, retries, journal polling) run on this scheduler; tests pass virtual time. */
  readonly scheduler?: SchedulerLike;
}

export interface ProjectionStatus {
  readonly name: string;
  readonly kind: 'stream' | 'derived' | 'aggregate';
  readonly version: number;
  readonly position: number;
  /** Head minus position: 0 when caught up; in positions, not events (see the EventStore port). */
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

export interface Engine<
  P extends readonly AnyProjection[] = readonly AnyProjection[],
  Parsed extends EventToAppend = EventToAppend,
> {
  readonly store: EventStore;
  readonly projectionNames: readonly ProjectionName<P>[];
  /** Resolves once a startup rebuild (see `startupRebuild`) has been swapped in. */
  readonly ready: Promise<void>;
  /**
   * Parses with the codec (no signature check: that is the receiver's job) and appends. A body
   * the codec refuses is kept aside in the store's rejects (`rejectSource` names where it came
   * from, default `ingest`) and answered `rejected`.
   */
  ingest(
    body: Uint8Array | string,
    options?: { readonly rejectSource?: string },
  ): Promise<IngestResult<Parsed>>;
  /** Appends already-parsed events. */
  append(events: readonly EventToAppend[]): Promise<AppendOutcome[]>;
  /** Projects up to the current head; resolves with the position reached. */
  catchUp(): Promise<number>;
  get<N extends ProjectionName<P>>(projection: N, key: string): Promise<StateOf<P, N> | undefined>;
  list<N extends ProjectionName<P>>(
    projection: N,
    options?: ListOptions,
  ): Promise<ListResult<StateOf<P, N>>>;
  count(projection: ProjectionName<P>, where?: StateFilter): Promise<number>;
  /** Every committed change and reset, live, in journal order. */
  readonly changes$: Observable<ChangeOf<P>>;
  changesOf<N extends ProjectionName<P>>(
    projection: N,
  ): Observable<Change<StateOf<P, N>, N> | ProjectionReset<N>>;
  /** The current state first (or `undefined`), then the state after each change (or reset). */
  watch<N extends ProjectionName<P>>(
    projection: N,
    key: string,
  ): Observable<StateOf<P, N> | undefined>;
  /**
   * Journalled changes after `seq`, then live ones, without gap or repeat. Errors with
   * `JournalGapError` when the journal no longer covers `seq`.
   */
  changesSince(seq: number): Observable<ChangeOf<P>>;
  /**
   * The newest journalled change seq. Read it before loading state to mirror it: following
   * `changesSince(seq)` then misses nothing (a change already in what was loaded applies again,
   * harmlessly).
   */
  lastChangeSeq(): Promise<number>;
  rebuild(
    projections?: readonly ProjectionName<P>[],
    options?: RebuildOptions,
  ): Promise<RebuildReport>;
  /** Progress of the rebuild under way, if any. */
  readonly rebuildProgress$: Observable<RebuildProgress>;
  /** An entity's state as of a source time (ISO string or epoch ms) or a log position. */
  stateAt<N extends ProjectionName<P>>(
    projection: N,
    key: string,
    at: TimeTravelPoint,
  ): Promise<StateOf<P, N> | undefined>;
  stats(): Promise<EngineStats>;
  deadLetters(projection?: ProjectionName<P>): Promise<DeadLetter[]>;
  /** Stops projecting and completes every stream; closes the store only with `closeStore`. */
  close(): Promise<void>;
}
