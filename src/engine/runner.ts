/**
 * The projection runner: the driver around the pure fold step (fold-step.ts). It reads a batch
 * of the log, reads the entity histories the fold asks for, folds, and commits the batch's
 * states, checkpoints, dead letters and journalled changes in one transaction. Far behind, a
 * batch is read and folded a page at a time, and committed once it holds enough pages
 * (farBehindBatchSize, farBehindCommitSize).
 *
 * One runner serves a set of stream projections in a single pass over the log (each keeps its
 * own checkpoint, so a freshly rebuilt projection and the others can stand at different
 * positions). The live engine, a rebuild and `verify` use the same runner; a rebuild writes to
 * shadow names and journals nothing. Aggregates over the runner's projections are moved by each
 * batch's member changes (aggregate-step.ts) and committed in the same transaction.
 */
import type {
  ChangeRecord,
  CheckpointRef,
  CommitResult,
  DerivedRead,
  EventStore,
  ProjectionStore,
  ReadOptions,
  StateRow,
  StoredEvent,
} from '../store/port.js';
import { isStoreError, type StoreError } from '../store/errors.js';
import type { EventCodec } from './codec.js';
import { describeError, PoisonEventError } from './errors.js';
import { toProjectionEvent, withBodiesForStaleFacts } from './event-view.js';
import {
  BLANK_ENTITY,
  deriveChange,
  derivedGroups,
  groupUpdates,
  type GroupedUpdates,
  finishFold,
  foldPage,
  historyKey,
  historyReads,
  lastInLog,
  pendingLookup,
  planBatch,
  sourceOrdered,
  stallRejected,
  startFold,
  type FoldOutput,
  type PendingFold,
  type Stalled,
  type ChangeToJournal,
  type Entity,
  type WorkItem,
} from './fold-step.js';
import { aggregateBatch, aggregateGroups, type AggregateTarget } from './aggregate-step.js';
import type { Logger } from './logger.js';
import type {
  AnyAggregateProjection,
  AnyDerivedProjection,
  AnyStreamProjection,
  ProjectionEvent,
} from './projection.js';

export interface RunnerOptions {
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  readonly codec: EventCodec;
  readonly projections: readonly AnyStreamProjection[];
  /** Derived projections whose changes are journalled alongside their sources' (live only). */
  readonly derived?: readonly AnyDerivedProjection[];
  /** Aggregates maintained from `projections` (those over other sources are ignored). */
  readonly aggregates?: readonly AnyAggregateProjection[];
  /** Storage name of a projection (the shadow name during a rebuild). */
  readonly storageName?: (projection: { readonly name: string }) => string;
  /** Journal and return changes (live); a rebuild does not. */
  readonly journal: boolean;
  /** A rebuild stops at the first poison event instead of dead-lettering it. */
  readonly failFast?: boolean;
  /**
   * Commit batches without waiting for each to reach the disk (`ProjectionCommit.durable`):
   * a rebuild's shadow, which nobody reads until a durable swap publishes it.
   */
  readonly deferDurability?: boolean;
  /**
   * For projections that derived projections read: the group of a state (e.g. a run's account),
   * stored with each row so a group's members are found by index.
   */
  readonly groupOf?: ReadonlyMap<string, (state: unknown) => string | null>;
  /** Restricts the runner to some entity streams (scale-out partitions). */
  readonly acceptStream?: (stream: string) => boolean;
  /** What the store may leave out of this runner's reads (its partition: see ReadOptions). */
  readonly readFilter?: ReadOptions['partition'];
  /**
   * The checkpoint rows of a projection (default: its own, under its storage name). A partition
   * runner keeps its partition's; a rebuild for partitioned instances writes every partition's.
   */
  readonly checkpointRows?: (storageName: string) => readonly CheckpointRef[];
  readonly batchSize: number;
  /**
   * Events per batch while far behind (a restart, the first read after an import): each commit
   * has a fixed cost, so a long catch-up folds in large batches and the live tail in small ones
   * (default: `batchSize`). Asked at the start of each run.
   */
  readonly catchUpBatchSize?: () => number;
  /**
   * Most events folded into one commit far behind, a page of `catchUpBatchSize` at a time
   * (default: one page). Asked after each page: a subscriber who comes meanwhile has the pending
   * pages committed at once, and smaller commits from then on.
   */
  readonly catchUpCommitSize?: () => number;
  /** Entity states kept in memory between batches. */
  readonly cacheLimit: number;
  /**
   * The storage holds none of these projections' states when the runner starts, and nothing
   * else writes them (a rebuild's shadow, cleared first). An entity the runner has not cached is
   * then blank, and is not read, until the cache is first trimmed: a million-event rebuild spent
   * 0.3 s asking for 177,000 states that could not be there.
   */
  readonly startsEmpty?: boolean;
  /**
   * Shared stores: a checkpoint row stamped with a newer version than the one this runner stamps
   * was written by a newer release (its rebuild swapped in newer state). This runner then folds
   * nothing: its older code must not write over that state. Its partitions wait, visibly lagging,
   * until the instance restarts on the newer release.
   */
  readonly refuseNewerVersions?: boolean;
  readonly logger: Logger;
}

/**
 * Events per page far behind (a catch-up, a rebuild): the log is read and folded a page at a
 * time, several pages to a commit (farBehindCommitSize). Small, because a page's events live
 * until it is folded: with 20,000 per page the young generation's collections copied them all,
 * twice, and garbage collection was a fifth of a catch-up. A 100k-event catch-up (1 KB bodies)
 * took 1.13 s with pages of 20,000, 0.98 s with 5,000, 0.90 s with 2,500 and 1,000; smaller
 * pages re-read more entity streams for deliveries late across a page's edge (27 re-reads at
 * 20,000, 286 at 2,500, 805 at 1,000), which cost a round trip each on PostgreSQL. Smaller
 * still when a projection reads payloads, since the page's bodies are then held too (1,000:
 * 1.7 s where 5,000 took 2.1 s).
 */
const FACTS_PAGE = 2_500;
const PAYLOAD_PAGE = 1_000;

/**
 * Events folded into one commit far behind while nobody is subscribed to changes. Each commit
 * writes and journals every entity it touched once, and derives every derived group it touched
 * again from all its members: folding 100,000 events into one commit instead of 20,000 made a
 * 100k-event catch-up about a fifth faster (bench/ `rebuild`). Memory follows the entities the
 * commit touches, not its events: each page's events are dropped once folded.
 */
const UNWATCHED_COMMIT = 100_000;
/**
 * While someone is subscribed to changes: a commit's changes reach every subscriber at once,
 * and must stay well inside a subscriber's buffer, or the catch-up would cut them off.
 */
const WATCHED_COMMIT = 5_000;

export function farBehindCommitSize(subscriberBuffer?: number): number {
  return subscriberBuffer === undefined
    ? UNWATCHED_COMMIT
    : Math.min(WATCHED_COMMIT, Math.floor(subscriberBuffer / 4));
}

export function farBehindBatchSize(
  projections: readonly AnyStreamProjection[],
  subscriberBuffer?: number,
): number {
  const page = projections.some((p) => p.reads !== 'facts') ? PAYLOAD_PAGE : FACTS_PAGE;
  return Math.min(page, farBehindCommitSize(subscriberBuffer));
}

/** Pages folded and not committed yet: the fold, its events, and the last one's position. */
interface Pending {
  readonly fold: PendingFold;
  events: number;
  last: number;
}

const startPending = (): Pending => ({ fold: startFold(), events: 0, last: 0 });

export interface BatchResult {
  readonly events: number;
  readonly position: number;
  readonly changes: ChangeRecord[];
}

/** How a run ended: at its target, or refused because another instance holds the partition. */
export type RunResult =
  | { readonly ok: true; readonly events: number }
  | { readonly ok: false; readonly reason: 'lease_lost'; readonly events: number };

export class ProjectionRunner {
  private readonly checkpoints = new Map<string, number>();
  /** Versions to stamp instead of the projection's own (its state is older: a rebuild is due). */
  private readonly versions = new Map<string, number>();
  private readonly cache = new Map<string, Map<string, Entity>>();
  private readonly handled: Map<AnyStreamProjection, Set<string>>;
  private readonly names: Map<AnyStreamProjection, string>;
  private readonly aggregates: readonly AggregateTarget[];
  /** Bodies are read when a projection folds payloads. */
  private readonly withBody: boolean;
  private cached = 0;
  /** Every stored state of the runner's projections is cached (see `startsEmpty`). */
  private cachedAll: boolean;
  /** Set by `init` when a newer release's state is stored (see `refuseNewerVersions`). */
  private outdated: string | undefined;
  /** Pages folded and not committed yet: one commit can take several far behind. */
  private pending: Pending | undefined;

  constructor(private readonly options: RunnerOptions) {
    this.handled = new Map(options.projections.map((p) => [p, new Set(p.eventTypes)]));
    this.names = new Map(
      options.projections.map((p) => [p, options.storageName ? options.storageName(p) : p.name]),
    );
    const storage = (p: { readonly name: string }) =>
      options.storageName ? options.storageName(p) : p.name;
    this.aggregates = (options.aggregates ?? []).flatMap((projection) => {
      const source = options.projections.find((p) => p.name === projection.from);
      return source ? [{ projection, name: storage(projection), source: storage(source) }] : [];
    });
    for (const name of this.names.values()) this.cache.set(name, new Map());
    for (const { name } of this.aggregates) this.cache.set(name, new Map());
    this.withBody = options.projections.some((p) => p.reads !== 'facts');
    this.cachedAll = options.startsEmpty === true;
  }

  /** Reads the checkpoints; call before the first batch. */
  async init(): Promise<void> {
    this.outdated = undefined;
    const stamped = [
      ...[...this.names].map(([projection, name]) => ({ projection, name })),
      ...this.aggregates,
    ];
    for (const { projection, name } of stamped) {
      let position = Number.POSITIVE_INFINITY;
      for (const row of this.checkpointRows(name)) {
        const checkpoint = await this.options.projectionStore.readCheckpoint(
          row.name,
          row.partition,
        );
        position = Math.min(position, checkpoint?.position ?? 0);
        const own = this.versions.get(name) ?? projection.version;
        if (this.options.refuseNewerVersions && checkpoint && checkpoint.version > own) {
          this.outdated ??= `${name} is at version ${checkpoint.version} in the store and this instance's release stamps ${own}`;
        }
      }
      // An aggregate has no position of its own: it moves with its source.
      if (this.names.has(projection as AnyStreamProjection)) {
        this.checkpoints.set(name, Number.isFinite(position) ? position : 0);
      }
    }
    if (this.outdated) {
      this.options.logger.error(
        { reason: this.outdated },
        'a newer release rebuilt this state: not projecting it until restarted on that release',
      );
    }
  }

  private checkpointRows(name: string): readonly CheckpointRef[] {
    return this.options.checkpointRows ? this.options.checkpointRows(name) : [{ name }];
  }

  /** The lowest checkpoint: everything up to it is applied by every projection of the runner. */
  get position(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const position of this.checkpoints.values()) min = Math.min(min, position);
    return Number.isFinite(min) ? min : 0;
  }

  checkpointOf(name: string): number {
    return this.checkpoints.get(name) ?? 0;
  }

  /** Stamps `version` on a projection's checkpoints until cleared (`undefined`). */
  setVersion(name: string, version: number | undefined): void {
    if (version === undefined) this.versions.delete(name);
    else this.versions.set(name, version);
  }

  /** Moves a checkpoint after a swap put another projection's state in place. */
  setCheckpoint(name: string, position: number): void {
    // An aggregate has no position of its own: it moves with its source.
    if (!this.checkpoints.has(name)) return;
    this.checkpoints.set(name, position);
  }

  /** Forgets cached states (after a swap replaced them underneath). */
  forget(name: string): void {
    this.cachedAll = false;
    const entities = this.cache.get(name);
    if (entities) {
      this.cached -= entities.size;
      entities.clear();
    }
  }

  private clearCache(): void {
    this.cachedAll = false;
    for (const entities of this.cache.values()) entities.clear();
    this.cached = 0;
  }

  /**
   * Applies everything after the current position up to `upTo`, one committed batch at a time
   * (far behind, several pages to a batch); `onBatch` runs after each commit, `onPage` after
   * each page is folded (committed or not: far behind, a commit holds up to 100,000 events).
   */
  async runTo(
    upTo: number,
    onBatch: (result: BatchResult) => void,
    onPage?: (folded: { readonly position: number; readonly events: number }) => void,
  ): Promise<RunResult> {
    let total = 0;
    while (this.position < upTo) {
      // A restart below may have found a newer release's state.
      if (this.outdated) break;
      let progressed = false;
      let restart = false;
      let lost = false;
      // More behind than one live batch holds: the rest in large batches (the last one of a
      // catch-up too, rather than its tail in many small ones).
      const behind = upTo - this.position;
      const farBehind = behind > this.options.batchSize;
      const batchSize = farBehind
        ? Math.max(this.options.batchSize, this.options.catchUpBatchSize?.() ?? 0)
        : this.options.batchSize;
      const entityLimit = Math.max(batchSize, this.options.cacheLimit);
      const filter = this.options.readFilter;
      // Commits what is pending; false when refused (the runner restarts, or lost its lease).
      const commit = async (through: number | undefined): Promise<boolean> => {
        const events = this.pending?.events ?? 0;
        const result = await this.commitPending(through);
        if (!result.ok) {
          if (await this.recover(result)) restart = true;
          else lost = true;
          return false;
        }
        total += events;
        progressed = true;
        onBatch({ events, position: this.position, changes: result.changes });
        return true;
      };
      try {
        for await (const events of this.options.store.readAll(this.position, {
          batchSize,
          upTo,
          withBody: this.withBody,
          ...(filter ? { partition: filter } : {}),
        })) {
          if (events.length === 0) continue;
          const pending = await this.foldStored(events);
          onPage?.({ position: pending.last, events: total + pending.events });
          const lastPage = events.length < batchSize || pending.last >= upTo;
          const commitSize = farBehind
            ? Math.max(batchSize, this.options.catchUpCommitSize?.() ?? 0)
            : batchSize;
          if (!lastPage && pending.events < commitSize && pending.fold.touched.size < entityLimit) {
            // Let the event loop serve others between pages too, as between commits below.
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          // A filtered read leaves out other partitions' events, so its last page ends below
          // `upTo`; that page's commit moves the checkpoint to `upTo` (nothing of this partition
          // lies between: `upTo` is a head the store gave, below its readers' fence).
          if (!(await commit(filter && events.length < batchSize ? upTo : undefined))) break;
          // A store that answers synchronously (SQLite) would otherwise hold the event loop for
          // the whole backlog: no change delivered, no request served until the end.
          await new Promise((resolve) => setImmediate(resolve));
        }
        // The read ended on a full page that was left pending: everything up to `upTo` is read.
        if (this.pending && !restart && !lost) await commit(filter ? upTo : undefined);
      } finally {
        // A read, fold or commit that threw leaves nothing behind for the next run.
        this.pending = undefined;
      }
      if (lost) return { ok: false, reason: 'lease_lost', events: total };
      // A filtered read whose last page was full, or that found nothing: the checkpoint moves
      // to `upTo` on its own.
      if (filter && !restart && this.position < upTo) {
        const before = this.position;
        const result = await this.applyBatch([], upTo);
        if (!result.ok) {
          if (!(await this.recover(result)))
            return { ok: false, reason: 'lease_lost', events: total };
          continue;
        }
        onBatch({ events: 0, position: this.position, changes: result.changes });
        // Nothing of this runner's could move (no checkpoint behind): stop, never spin.
        if (this.position <= before) break;
        progressed = true;
      }
      // Nothing readable below `upTo` (e.g. a position never committed): stop instead of spinning.
      if (!progressed && !restart) break;
    }
    return { ok: true, events: total };
  }

  /**
   * After a refused commit: false when the partition's lease is gone. Otherwise another
   * projector (a CLI command beside `serve`) committed first, so what this runner holds in memory
   * is stale: it starts again from what is committed.
   */
  private async recover(refused: Extract<CommitResult, { ok: false }>): Promise<boolean> {
    if (refused.reason === 'lease_lost') return false;
    this.clearCache();
    await this.init();
    return true;
  }

  /**
   * Folds one batch and commits it, moving the checkpoint to its last event, or to `through`
   * (past it: the read left out events that are not this runner's). Exposed for tests of the
   * batch boundary.
   */
  async applyBatch(stored: readonly StoredEvent[], through?: number): Promise<CommitResult> {
    try {
      await this.foldStored(stored);
    } catch (error) {
      this.pending = undefined;
      throw error;
    }
    return this.commitPending(through);
  }

  /** Folds a page of the log into what is pending (nothing is committed), and answers that. */
  private async foldStored(stored: readonly StoredEvent[]): Promise<Pending> {
    const pending = (this.pending ??= startPending());
    const events = (
      await withBodiesForStaleFacts(this.options.store, this.options.codec, stored)
    ).map((event) => toProjectionEvent(event, this.options.codec));
    const handles = this.handles;
    const accepted = this.options.acceptStream
      ? events.filter((event) => event.stream !== '' && this.options.acceptStream?.(event.stream))
      : events;
    const planned = planBatch(accepted, this.names, (name) => this.checkpointOf(name), handles);
    await this.prefetch(planned);
    // The page is planned against the pending fold's states; the fold reads what is committed
    // underneath them.
    const lookup = pendingLookup(pending.fold, this.committed);
    const work = sourceOrdered(planned, lookup);
    const histories = await this.readHistories(work, lookup);
    foldPage(pending.fold, {
      work,
      lookup: this.committed,
      histories,
      failFast: this.options.failFast ?? false,
      handles,
    });
    pending.events += stored.length;
    if (stored.length > 0) pending.last = (stored[stored.length - 1] as StoredEvent).position;
    return pending;
  }

  private readonly handles = (projection: AnyStreamProjection, type: string): boolean =>
    this.handled.get(projection)?.has(type) ?? false;

  /** The states committed (as far as this runner knows: its cache, prefetched). */
  private readonly committed = (name: string, key: string): Entity =>
    this.cache.get(name)?.get(key) ?? BLANK_ENTITY;

  /**
   * Commits what is pending, moving the checkpoint to its last event, or to `through` (past it:
   * the read left out events that are not this runner's).
   */
  private async commitPending(through?: number): Promise<CommitResult> {
    const pending = this.pending ?? startPending();
    this.pending = undefined;
    const folded = finishFold(pending.fold, this.options.journal);
    const lookup = this.committed;
    const lastEvent = (name: string, key: string) => lastInLog(pending.fold, name, key);
    const last = { position: through ?? pending.last };
    const advancing = [...this.names].filter(([, name]) => this.checkpointOf(name) < last.position);
    // An aggregate's checkpoint follows its source's; it records the aggregate's version, so a
    // changed version is seen on start (and rebuilt with the source).
    const advancingAggregates = this.aggregates.filter((a) =>
      advancing.some(([, name]) => name === a.source),
    );
    // A state the store refuses (store_rejected) would be refused on every retry: its entity is
    // stalled and dead-lettered, and the rest of the batch commits.
    const stalled = new Map<string, { reason: string; unstorableKey: boolean }>();
    let result: CommitResult;
    let committedUpdates: ReadonlyMap<string, ReadonlyMap<string, Entity>>;
    for (;;) {
      const fold =
        stalled.size === 0 ? folded : this.stalledFold(folded, stalled, lookup, lastEvent);
      const aggregated = await this.aggregate(fold, lookup);
      const derived = this.options.journal
        ? this.derivedReads([...fold.changes, ...aggregated.changes], fold.updates)
        : [];
      // Stream entities were stalled in the fold above (their changes are gone from it);
      // aggregates here.
      const batch = stallRejected(
        aggregated.updates,
        [...fold.changes, ...aggregated.changes],
        stalled,
        lookup,
        lastEvent,
      );
      try {
        result = await this.options.projectionStore.commit({
          checkpoints: [
            ...advancing.map(([projection, name]) => ({ name, version: projection.version })),
            ...advancingAggregates.map(({ projection, name }) => ({
              name,
              version: projection.version,
            })),
          ].flatMap(({ name, version }) =>
            this.checkpointRows(name).map((row) => ({
              ...row,
              position: last.position,
              version: this.versions.get(name) ?? version,
            })),
          ),
          expected: advancing.flatMap(([, name]) =>
            this.checkpointRows(name).map((row) => ({
              ...row,
              position: this.checkpointOf(name),
            })),
          ),
          states: [...fold.updates, ...batch.updates].flatMap(([name, entities]) => {
            const projection = [...this.names].find(([, n]) => n === name)?.[0];
            const groupOf = projection ? this.options.groupOf?.get(projection.name) : undefined;
            return [...entities].map(([key, entity]) => ({
              projection: name,
              row: toRow(key, entity, groupOf && entity.exists ? groupOf(entity.state) : null),
            }));
          }),
          deadLetters: [...fold.deadLetters, ...aggregated.deadLetters, ...batch.deadLetters],
          changes: batch.changes,
          derived,
          ...(this.options.deferDurability ? { durable: false } : {}),
        });
        committedUpdates = new Map([...fold.updates, ...batch.updates]);
        break;
      } catch (error) {
        const subject = (error as StoreError | undefined)?.subject;
        const id = subject && historyKey(subject.projection, subject.key);
        const before = id === undefined ? undefined : stalled.get(id);
        // Refused again once stalled: the row marking it is refused too, so its key is.
        if (
          !isStoreError(error) ||
          error.code !== 'store_rejected' ||
          !id ||
          before?.unstorableKey
        ) {
          throw error;
        }
        if (this.options.failFast) {
          const event = lastEvent(subject.projection, subject.key);
          throw new PoisonEventError({
            projection: subject.projection,
            key: subject.key,
            eventId: event?.id ?? '',
            position: event?.position ?? last.position,
            error: describeError(error),
          });
        }
        stalled.set(id, { reason: describeError(error), unstorableKey: before !== undefined });
      }
    }
    if (!result.ok) return result;
    // Only now, committed, do the batch's states become what the runner knows.
    for (const [name, entities] of committedUpdates) {
      for (const [key, entity] of entities) this.remember(name, key, entity);
    }
    for (const [, name] of advancing) this.checkpoints.set(name, last.position);
    this.trimCache();
    return result;
  }

  /** The fold with stalled stream entities kept at their state before the batch. */
  private stalledFold(
    folded: FoldOutput,
    stalled: Stalled,
    lookup: (name: string, key: string) => Entity,
    lastEvent: (name: string, key: string) => ProjectionEvent | undefined,
  ): FoldOutput {
    const { updates, changes, deadLetters } = stallRejected(
      folded.updates,
      folded.changes,
      stalled,
      lookup,
      lastEvent,
    );
    return { ...folded, updates, changes, deadLetters: [...folded.deadLetters, ...deadLetters] };
  }

  /**
   * Moves the aggregates by the batch's member changes. Aggregates whose stored state is of an
   * older version (a rebuild is due) are left as they are until the rebuilt state replaces them:
   * applying this version's `apply` to the old shape would serve neither.
   */
  private async aggregate(
    folded: FoldOutput,
    lookup: (name: string, key: string) => Entity,
  ): Promise<ReturnType<typeof aggregateBatch>> {
    const targets = this.aggregates.filter(({ name }) => !this.versions.has(name));
    if (targets.length === 0) return { updates: new Map(), deadLetters: [], changes: [] };
    const groups = aggregateGroups(targets, folded.updates, folded.causes, lookup);
    await this.prefetchKeys(groups);
    return aggregateBatch({
      targets,
      fold: folded,
      lookup,
      failFast: this.options.failFast ?? false,
      journal: this.options.journal,
    });
  }

  private async readHistories(
    work: readonly WorkItem[],
    lookup: (name: string, key: string) => Entity,
  ): Promise<Map<string, ProjectionEvent[]>> {
    const histories = new Map<string, ProjectionEvent[]>();
    const reads = historyReads(
      work,
      lookup,
      (projection, key, event) => projection.streamOf?.(key) ?? event.stream,
    );
    for (const read of reads) {
      const events: ProjectionEvent[] = [];
      for await (const batch of this.options.store.readStream(read.stream, {
        upTo: read.upTo,
        withBody: this.withBody,
      })) {
        for (const stored of await withBodiesForStaleFacts(
          this.options.store,
          this.options.codec,
          batch,
        )) {
          if (stored.stream !== null) events.push(toProjectionEvent(stored, this.options.codec));
        }
      }
      histories.set(historyKey(read.name, read.key), events);
    }
    return histories;
  }

  private async prefetch(work: readonly WorkItem[]): Promise<void> {
    const wanted = new Map<string, Set<string>>();
    for (const { name, key } of work) {
      if (key === undefined) continue;
      let keys = wanted.get(name);
      if (!keys) wanted.set(name, (keys = new Set()));
      keys.add(key);
    }
    await this.prefetchKeys(wanted);
  }

  /** Reads the entities not cached yet (absent ones are remembered as blank). */
  private async prefetchKeys(wanted: ReadonlyMap<string, ReadonlySet<string>>): Promise<void> {
    const missing = new Map<string, string[]>();
    for (const [name, keys] of wanted) {
      const cached = this.cache.get(name);
      const absent = [...keys].filter((key) => !cached?.has(key));
      if (absent.length > 0) missing.set(name, absent);
    }
    for (const [name, keys] of missing) {
      const rows = this.cachedAll
        ? undefined
        : await this.options.projectionStore.readStates(name, [...keys]);
      for (const key of keys) {
        const row = rows?.get(key);
        this.remember(name, key, row ? fromRow(row) : BLANK_ENTITY);
      }
    }
  }

  private remember(name: string, key: string, entity: Entity): void {
    const entities = this.cache.get(name) as Map<string, Entity>;
    if (!entities.has(key)) this.cached++;
    entities.set(key, entity);
  }

  private trimCache(): void {
    if (this.cached <= this.options.cacheLimit) return;
    this.cachedAll = false;
    // Maps iterate in insertion order: drop the oldest entries first.
    for (const entities of this.cache.values()) {
      for (const key of entities.keys()) {
        if (this.cached <= this.options.cacheLimit / 2) return;
        entities.delete(key);
        this.cached--;
      }
    }
  }

  /**
   * The derived groups the batch's changes touch, each derived inside the commit from its
   * members as committed (see `ProjectionCommit.derived`): a read made here, before the commit,
   * could miss a member another instance commits meanwhile, and the change journalled last for
   * the group would then disagree with what a read derives.
   */
  private derivedReads(
    changes: readonly ChangeToJournal[],
    updates: ReadonlyMap<string, ReadonlyMap<string, Entity>>,
  ): DerivedRead[] {
    const out: DerivedRead[] = [];
    for (const derived of this.options.derived ?? []) {
      const source = [...this.names].find(([p]) => p.name === derived.from)?.[1];
      if (source === undefined) continue;
      const updated = updates.get(source) ?? new Map<string, Entity>();
      // Indexed at the first group's derivation, inside its try: a `groupOf` that throws fails
      // the derivations, not the batch.
      let grouped: GroupedUpdates | undefined;
      for (const [group, cause] of derivedGroups(derived, source, changes)) {
        out.push({
          source,
          group,
          change: (committed) => {
            try {
              grouped ??= groupUpdates(derived, updated);
              return deriveChange(derived, group, cause, committed, grouped);
            } catch (error) {
              // A derivation that throws must not stall its source: it is derived again when read.
              this.options.logger.error(
                { err: error, projection: derived.name, key: group },
                'derived projection failed',
              );
              return null;
            }
          },
        });
      }
    }
    return out;
  }
}

function fromRow(row: StateRow): Entity {
  return {
    exists: true,
    state: row.state,
    lastTime: row.lastTime,
    lastId: row.lastId,
    position: row.position,
    poisoned: row.poisoned ?? null,
  };
}

function toRow(key: string, entity: Entity, group: string | null): StateRow {
  return {
    key,
    group,
    state: entity.exists ? entity.state : null,
    lastTime: Number.isFinite(entity.lastTime) ? entity.lastTime : 0,
    lastId: entity.lastId,
    position: entity.position,
    poisoned: entity.poisoned,
  };
}
