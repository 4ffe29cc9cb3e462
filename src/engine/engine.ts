/**
 * The engine: opens on a store, follows the log live, folds it into projection state, publishes
 * committed changes, rebuilds online, and answers queries (current state, time travel).
 *
 * Concurrency: one live runner per engine, driven by the store's append notifications; a rebuild
 * folds into shadow tables beside it and takes the live runner's lock only for its final
 * catch-up and swap, so readers never see a half-built projection.
 */
import { config as rxConfig, filter, Observable, Subject, type Subscription } from 'rxjs';
import { parseWebhook, parseSourceTime } from '../truto/index.js';
import { trutoProjections } from '../truto/projections/index.js';
import type {
  AppendOutcome,
  EventStore,
  EventToAppend,
  ListOptions,
  ProjectionStore,
  StateFilter,
  StateRow,
} from '../store/port.js';
import { ChangeHub, toChange } from './changes.js';
import { foldInOrder } from './fold.js';
import { jsonEqual } from './json-equal.js';
import { Lock } from './lock.js';
import type {
  AnyProjection,
  DerivedProjection,
  Projection,
  ProjectionEvent,
} from './projection.js';
import { ProjectionRunner, toProjectionEvent } from './runner.js';
import type {
  Change,
  Engine,
  EngineOptions,
  EngineStats,
  IngestResult,
  ListResult,
  PartitionSource,
  ProjectionStatus,
  RebuildOptions,
  RebuildProgress,
  RebuildReport,
  TimeTravelPoint,
} from './types.js';

type AnyStream = Projection<unknown, unknown>;
type AnyDerived = DerivedProjection<unknown, unknown>;

/** A fault in how the engine was asked to do something (unknown projection, bad time). */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code:
      | 'unknown_projection'
      | 'invalid_time'
      | 'rebuild_in_progress'
      | 'not_supported'
      | 'catch_up_timeout'
      | 'closed',
    message: string,
  ) {
    super(message);
  }
}

const SHADOW_SUFFIX = '~rebuild';
const shadowName = (name: string) => `${name}${SHADOW_SUFFIX}`;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
/**
 * Live projection batching. Each projection commit has a fixed cost (the states, journal and
 * index pages it dirties are written whole to the WAL, whatever the number of events), so under a
 * steady stream of large append groups (a loaded receiver: tens of events per group commit) a
 * batch waits up to COALESCE_MS for the lag to reach COALESCE_EVENTS, folding several append
 * groups into one commit instead of one commit per group. Small groups (a quiet or moderately
 * busy log, where publication latency is what matters) are projected at once.
 */
const COALESCE_FROM_EVENTS = 32;
const COALESCE_EVENTS = 256;
const COALESCE_MS = 20;

/**
 * Opens an engine on a store.
 *
 * @example
 * const store = createSqliteEventStore({ path: './data/truto-state.db' });
 * const engine = await createEngine({ store });
 * await engine.ingest(rawBody);
 * await engine.catchUp();
 * const account = await engine.get('accounts', 'acc-1');
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const projectionStore =
    options.projectionStore ?? (options.store as { projections?: ProjectionStore }).projections;
  if (!projectionStore) {
    throw new EngineError(
      'not_supported',
      `the ${options.store.kind} store holds no projected state: pass a projectionStore`,
    );
  }
  const engine = new ProjectionEngine(options, projectionStore);
  await engine.open();
  return engine;
}

class ProjectionEngine implements Engine {
  readonly store: EventStore;
  readonly projectionNames: readonly string[];
  private readonly streams: AnyStream[];
  private readonly derived: AnyDerived[];
  private readonly byName: Map<string, AnyProjection>;
  private readonly hub: ChangeHub;
  private readonly lock = new Lock();
  /** The one runner of a single instance; undefined when partitions are shared. */
  private readonly live: ProjectionRunner | undefined;
  private readonly partitionRunners = new Map<number, ProjectionRunner>();
  /** Projections awaiting a rebuild, with the version their stored state was made by. */
  private readonly staleVersions = new Map<string, number>();
  private ownership: Subscription | undefined;
  private journalTimer: NodeJS.Timeout | undefined;
  private pulling: Promise<void> | undefined;
  private pullAgain = false;
  private readonly groupOf: ReadonlyMap<string, (state: unknown) => string | null>;
  private readonly progress = new Subject<RebuildProgress>();
  private readonly batchSize: number;
  private readonly retention: number;
  private unsubscribeAppends: (() => void) | undefined;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  /** The highest head the store announced (onAppend). */
  private knownHead = 0;
  /** Ends a coalescing wait early (enough lag, or closing). */
  private wake: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private rebuilding: Promise<RebuildReport> | undefined;
  private batchesSincePrune = 0;
  private closed = false;

  readonly changes$: Observable<Change>;
  readonly rebuildProgress$: Observable<RebuildProgress>;

  constructor(
    private readonly options: EngineOptions,
    private readonly projectionStore: ProjectionStore,
  ) {
    this.store = options.store;
    const projections = options.projections ?? (trutoProjections as readonly AnyProjection[]);
    this.byName = new Map(projections.map((p) => [p.name, p]));
    if (this.byName.size !== projections.length) {
      throw new EngineError('unknown_projection', 'two projections share a name');
    }
    this.streams = projections.filter((p): p is AnyStream => p.kind === 'stream');
    this.derived = projections.filter((p): p is AnyDerived => p.kind === 'derived');
    for (const d of this.derived) {
      if (this.byName.get(d.from)?.kind !== 'stream') {
        throw new EngineError(
          'unknown_projection',
          `derived projection "${d.name}" reads unknown projection "${d.from}"`,
        );
      }
    }
    this.projectionNames = projections.map((p) => p.name);
    this.batchSize = options.batchSize ?? 500;
    this.retention = options.changeRetention ?? 100_000;
    this.hub = new ChangeHub(options.subscriberBuffer ?? 10_000);
    this.changes$ = this.hub.all$;
    this.rebuildProgress$ = this.progress.asObservable();
    this.groupOf = new Map(this.derived.map((d) => [d.from, (state: unknown) => d.groupOf(state)]));
    this.live = options.partitions ? undefined : this.liveRunner(projectionStore);
    // A subscriber that throws must not take the process down: RxJS would rethrow it on a timer.
    if (!rxConfig.onUnhandledError) {
      rxConfig.onUnhandledError = (error: unknown) => {
        console.error('truto-state: a change subscriber threw:', error);
      };
    }
  }

  private liveRunner(
    projectionStore: ProjectionStore,
    partition?: { readonly index: number; readonly source: PartitionSource },
  ): ProjectionRunner {
    return new ProjectionRunner({
      store: this.store,
      projectionStore,
      projections: this.streams,
      derived: this.derived,
      groupOf: this.groupOf,
      journal: true,
      batchSize: this.batchSize,
      cacheLimit: 50_000,
      ...(partition
        ? {
            acceptStream: (stream: string) =>
              partition.source.partitionOf(stream) === partition.index,
            checkpointNames: (name: string) => [partitionCheckpoint(name, partition.index)],
          }
        : {}),
    });
  }

  /** The checkpoint rows of a projection: its own, or one per partition when shared. */
  private checkpointRows(name: string): string[] {
    const source = this.options.partitions;
    return source ? range(source.count).map((i) => partitionCheckpoint(name, i)) : [name];
  }

  /** Follows lease changes: drops runners of partitions lost, starts runners for those gained. */
  private async repartition(owned: ReadonlySet<number>): Promise<void> {
    const source = this.options.partitions as PartitionSource;
    for (const partition of [...this.partitionRunners.keys()]) {
      if (!owned.has(partition)) this.partitionRunners.delete(partition);
    }
    for (const partition of [...owned].sort((a, b) => a - b)) {
      if (this.partitionRunners.has(partition)) continue;
      const fenced = source.storeFor(partition);
      if (!fenced) continue;
      const runner = this.liveRunner(fenced, { index: partition, source });
      for (const [name, version] of this.staleVersions) runner.setVersion(name, version);
      await runner.init();
      this.partitionRunners.set(partition, runner);
    }
  }

  private runners(): [number, ProjectionRunner][] {
    return this.live ? [[-1, this.live]] : [...this.partitionRunners].sort(([a], [b]) => a - b);
  }

  async open(): Promise<void> {
    // A projection whose stored version is not its code's is rebuilt; until the swap its old
    // state keeps its old version, so a rebuild that dies midway is started again next time.
    // (Shadow rows a dead rebuild left are scratch: the next rebuild clears them first. They are
    // not cleared here, where they may belong to a rebuild another process is running.)
    for (const projection of this.streams) {
      for (const row of this.checkpointRows(projection.name)) {
        const checkpoint = await this.projectionStore.readCheckpoint(row);
        if (checkpoint && checkpoint.version !== projection.version) {
          this.staleVersions.set(projection.name, checkpoint.version);
        }
      }
    }
    const stale = [...this.staleVersions.keys()];
    for (const [name, version] of this.staleVersions) this.live?.setVersion(name, version);
    const source = this.options.partitions;
    if (source) {
      this.ownership = source.owned$.subscribe((owned) => {
        this.lock
          .run(() => this.repartition(owned))
          .then(
            () => this.schedule(),
            (error: unknown) => console.error('truto-state: taking over partitions failed:', error),
          );
      });
      await this.lock.run(async () => undefined);
    } else {
      await this.live?.init();
    }
    this.hub.publishedSeq = await this.projectionStore.lastChangeSeq();
    if (source) {
      // Other instances commit changes too: the shared journal is the one source of publication.
      this.journalTimer = setInterval(
        () => void this.pullJournal(),
        this.options.journalPollMs ?? 200,
      );
      this.journalTimer.unref();
    }
    if (this.options.live === false) {
      if (stale.length > 0) await this.rebuild(stale);
      return;
    }
    if (stale.length > 0) {
      // Online: the old state keeps being served until the rebuilt one is swapped in.
      this.rebuild(stale).catch((error: unknown) =>
        console.error('truto-state: rebuild on start failed:', error),
      );
    }
    this.unsubscribeAppends = this.store.onAppend((head) => this.schedule(head));
    this.schedule();
  }

  async ingest(body: Uint8Array | string): Promise<IngestResult> {
    const parsed = parseWebhook(body);
    if (!parsed.ok) return { status: 'rejected', code: parsed.code, message: parsed.message };
    const { event } = parsed;
    const [outcome] = await this.store.append([
      {
        id: event.id,
        type: event.type,
        stream: event.stream,
        sourceTime: event.sourceTime,
        data: event.data,
        body: event.body,
        skipped: event.skipped,
      },
    ]);
    return { ...(outcome as AppendOutcome), event };
  }

  append(events: readonly EventToAppend[]): Promise<AppendOutcome[]> {
    return this.store.append(events);
  }

  async catchUp(): Promise<number> {
    this.assertOpen();
    const head = await this.store.head();
    await this.lock.run(() => this.project(head));
    if (this.live) return this.live.position;
    // Shared: other instances project the partitions this one does not hold; wait for them.
    const deadline = performance.now() + (this.options.catchUpTimeoutMs ?? 60_000);
    for (;;) {
      const behind = (await this.partitionPositions()).filter(([, position]) => position < head);
      if (behind.length === 0) break;
      if (performance.now() > deadline) {
        throw new EngineError(
          'catch_up_timeout',
          `partitions still behind position ${head}: ${behind.map(([name, position]) => `${name} at ${position}`).join(', ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      await this.lock.run(() => this.project(head));
    }
    await this.pullJournal();
    return head;
  }

  /** Every partition checkpoint of every stream projection, with its position. */
  private async partitionPositions(): Promise<[string, number][]> {
    const positions: [string, number][] = [];
    for (const projection of this.streams) {
      for (const row of this.checkpointRows(projection.name)) {
        positions.push([row, (await this.projectionStore.readCheckpoint(row))?.position ?? 0]);
      }
    }
    return positions;
  }

  /** Runs the live runners to `head`, publishing each batch's changes after its commit. */
  private async project(head: number): Promise<void> {
    for (const [partition, runner] of this.runners()) {
      try {
        await runner.runTo(head, ({ changes }) => {
          if (this.live) this.hub.publish(changes.map(toChange));
          this.batchesSincePrune++;
        });
      } catch (error) {
        // Another instance holds the partition now; its runner goes until the lease comes back.
        if ((error as { code?: unknown }).code !== 'lease_lost') throw error;
        this.partitionRunners.delete(partition);
      }
    }
    if (!this.live) void this.pullJournal();
    if (this.batchesSincePrune >= 100) {
      this.batchesSincePrune = 0;
      const last = await this.projectionStore.lastChangeSeq();
      if (last > this.retention) await this.projectionStore.pruneChanges(last - this.retention);
    }
  }

  /** Publishes the shared journal's new changes, in seq order (single-flight). */
  private pullJournal(): Promise<void> {
    if (this.pulling) {
      this.pullAgain = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      do {
        this.pullAgain = false;
        for (;;) {
          const page = await this.projectionStore.readChanges(this.hub.publishedSeq, 1_000);
          this.hub.publish(page.map(toChange));
          if (page.length < 1_000 || this.closed) break;
        }
      } while (this.pullAgain && !this.closed);
    })()
      .catch((error: unknown) => {
        if (!this.closed) console.error('truto-state: reading the change journal failed:', error);
      })
      .finally(() => {
        this.pulling = undefined;
      });
    return this.pulling;
  }

  /**
   * Single-flight live projection: appends during a run cause one more run, not many. `head` is
   * the head an append notification announced.
   */
  private schedule(head?: number): void {
    if (this.closed || this.options.live === false) return;
    if (head !== undefined && head > this.knownHead) this.knownHead = head;
    if (this.pumping) {
      this.pumpAgain = true;
      if (this.wake && this.lag() >= COALESCE_EVENTS) this.wake();
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        await this.settle();
        if (this.closed) break;
        const head = await this.store.head();
        await this.lock.run(() => this.project(head));
      } while (this.pumpAgain && !this.closed);
    })()
      .then(
        () => {
          this.retryDelay = RETRY_MIN_MS;
        },
        (error: unknown) => {
          // The store is busy or away: try again later; the checkpoint did not move.
          if (this.closed) return;
          console.error(
            `truto-state: projection failed, retrying in ${this.retryDelay} ms:`,
            error,
          );
          this.retryTimer = setTimeout(() => this.schedule(), this.retryDelay);
          this.retryTimer.unref();
          this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
        },
      )
      .finally(() => {
        this.pumping = undefined;
      });
  }

  /** Events announced but not yet applied by every live runner (0 when unknown). */
  private lag(): number {
    let position = Number.POSITIVE_INFINITY;
    for (const [, runner] of this.runners()) position = Math.min(position, runner.position);
    return Number.isFinite(position) ? Math.max(0, this.knownHead - position) : 0;
  }

  /**
   * Before a live batch: first let the current turn finish (the append that announced itself is
   * answered and its response written before the projection takes the thread), then, when the
   * appends come in large groups, wait a little for more of them (see COALESCE_EVENTS).
   * Publication happens after the batch's commit either way.
   */
  private async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const lag = this.lag();
    if (lag < COALESCE_FROM_EVENTS || lag >= COALESCE_EVENTS || this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, COALESCE_MS);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  async get<S = unknown>(projection: string, key: string): Promise<S | undefined> {
    const definition = this.projection(projection);
    if (definition.kind === 'derived') {
      const sources = await this.projectionStore.listStates(definition.from, { group: key });
      const states = presentStates(sources);
      return states.length > 0 ? (definition.derive(key, states) as S) : undefined;
    }
    const rows = await this.projectionStore.readStates(projection, [key]);
    return (rows.get(key)?.state ?? undefined) as S | undefined;
  }

  async list<S = unknown>(projection: string, options: ListOptions = {}): Promise<ListResult<S>> {
    const definition = this.projection(projection);
    const limit = options.limit ?? 100;
    if (definition.kind === 'derived') {
      const all = (await this.deriveAll(definition)).filter(
        ([key, state]) =>
          (options.afterKey === undefined || key > options.afterKey) &&
          matches(state, options.where),
      );
      const page = all.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map(([, state]) => state as S),
        ...(all.length > limit && last ? { nextKey: last[0] } : {}),
      };
    }
    const rows = await this.projectionStore.listStates(projection, {
      ...options,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: presentStates(page) as S[],
      ...(rows.length > limit && last ? { nextKey: last.key } : {}),
    };
  }

  async count(projection: string, where?: StateFilter): Promise<number> {
    const definition = this.projection(projection);
    if (definition.kind === 'derived') {
      return (await this.deriveAll(definition)).filter(([, state]) => matches(state, where)).length;
    }
    return this.projectionStore.countStates(projection, where);
  }

  /** Every derived entity, sorted by key: groups the source states page by page. */
  private async deriveAll(definition: AnyDerived): Promise<[string, unknown][]> {
    const groups = new Map<string, unknown[]>();
    let afterKey: string | undefined;
    for (;;) {
      const page = await this.projectionStore.listStates(definition.from, {
        limit: 1000,
        ...(afterKey === undefined ? {} : { afterKey }),
      });
      for (const state of presentStates(page)) {
        const group = definition.groupOf(state);
        if (group === null) continue;
        let members = groups.get(group);
        if (!members) groups.set(group, (members = []));
        members.push(state);
      }
      if (page.length < 1000) break;
      afterKey = page[page.length - 1]?.key;
    }
    return [...groups.keys()]
      .sort()
      .map((key) => [key, definition.derive(key, groups.get(key) ?? [])]);
  }

  changesOf(projection: string): Observable<Change> {
    this.projection(projection);
    return this.changes$.pipe(filter((change) => change.projection === projection));
  }

  watch<S = unknown>(projection: string, key: string): Observable<S | undefined> {
    this.projection(projection);
    return new Observable<S | undefined>((subscriber) => {
      const seqAtRead = this.hub.publishedSeq;
      let ready = false;
      let last: unknown;
      const buffered: Change[] = [];
      const emit = (change: Change) => {
        if (change.seq <= seqAtRead || jsonEqual(change.after, last)) return;
        last = change.after;
        subscriber.next(change.after as S);
      };
      const subscription = this.changes$
        .pipe(filter((change) => change.projection === projection && change.key === key))
        .subscribe({
          next: (change) => (ready ? emit(change) : buffered.push(change)),
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        });
      this.get<S>(projection, key).then(
        (state) => {
          last = state;
          subscriber.next(state);
          ready = true;
          for (const change of buffered) emit(change);
          buffered.length = 0;
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => subscription.unsubscribe();
    });
  }

  changesSince(seq: number): Observable<Change> {
    return this.hub.since(seq, this.projectionStore);
  }

  rebuild(projections?: readonly string[], options: RebuildOptions = {}): Promise<RebuildReport> {
    this.assertOpen();
    if (this.rebuilding) {
      return Promise.reject(new EngineError('rebuild_in_progress', 'a rebuild is already running'));
    }
    const names = projections ?? this.streams.map((p) => p.name);
    const targets = names
      .map((name) => this.projection(name))
      .filter((p): p is AnyStream => p.kind === 'stream');
    this.rebuilding = this.rebuildInto(targets, options).finally(() => {
      this.rebuilding = undefined;
    });
    return this.rebuilding;
  }

  private async rebuildInto(
    targets: readonly AnyStream[],
    options: RebuildOptions,
  ): Promise<RebuildReport> {
    const started = performance.now();
    const names = targets.map((p) => p.name);
    const source = this.options.partitions;
    if (source && this.partitionRunners.size < source.count) {
      throw new EngineError(
        'not_supported',
        `a rebuild on a shared store needs every partition, and this instance holds ${this.partitionRunners.size} of ${source.count}: stop the other instances first`,
      );
    }
    for (const name of names) await this.projectionStore.clearProjection(shadowName(name));
    const shadow = new ProjectionRunner({
      store: this.store,
      projectionStore: this.projectionStore,
      projections: targets,
      storageName: (p) => shadowName(p.name),
      checkpointNames: (name) =>
        source ? range(source.count).map((i) => partitionCheckpoint(name, i)) : [name],
      groupOf: this.groupOf,
      journal: false,
      failFast: true,
      batchSize: Math.max(this.batchSize, 5_000),
      cacheLimit: 1_000_000,
    });
    await shadow.init();
    let events = 0;
    const report = (head: number, done: boolean) => {
      const progress: RebuildProgress = {
        projections: names,
        position: shadow.position,
        head,
        events,
        done,
      };
      options.onProgress?.(progress);
      this.progress.next(progress);
    };
    try {
      const head = await this.store.head();
      report(head, false);
      await shadow.runTo(head, (batch) => {
        events += batch.events;
        report(head, false);
      });
      await this.lock.run(async () => {
        // The last stretch and the swap happen with the live runner paused: no event is applied
        // to the old state after the shadow has caught up and before it replaces it.
        const finalHead = await this.store.head();
        await shadow.runTo(finalHead, (batch) => {
          events += batch.events;
        });
        for (const projection of targets) {
          await this.projectionStore.swapProjection(shadowName(projection.name), projection.name);
          this.staleVersions.delete(projection.name);
          for (const [, runner] of this.runners()) {
            runner.setVersion(projection.name, undefined);
            runner.forget(projection.name);
            runner.setCheckpoint(projection.name, shadow.checkpointOf(shadowName(projection.name)));
          }
        }
        report(finalHead, true);
      });
    } catch (error) {
      for (const name of names)
        await this.projectionStore.clearProjection(shadowName(name)).catch(() => undefined);
      throw error;
    }
    this.schedule();
    return {
      projections: names,
      events,
      position: shadow.position,
      durationMs: performance.now() - started,
    };
  }

  async stateAt<S = unknown>(
    projection: string,
    key: string,
    at: TimeTravelPoint,
  ): Promise<S | undefined> {
    const definition = this.projection(projection);
    const within = pointFilter(at);
    if (definition.kind === 'derived') {
      const source = this.projection(definition.from) as AnyStream;
      const members = await this.projectionStore.listStates(source.name, { group: key });
      const states: unknown[] = [];
      for (const member of members) {
        const state = await this.foldAt(source, member.key, within);
        if (state !== undefined && definition.groupOf(state) === key) states.push(state);
      }
      return states.length > 0 ? (definition.derive(key, states) as S) : undefined;
    }
    return (await this.foldAt(definition, key, within)) as S | undefined;
  }

  private async foldAt(
    projection: AnyStream,
    key: string,
    within: (event: ProjectionEvent) => boolean,
  ): Promise<unknown> {
    if (!projection.streamOf) {
      throw new EngineError(
        'not_supported',
        `projection "${projection.name}" does not name its streams (streamOf)`,
      );
    }
    const handled = new Set(projection.eventTypes);
    const events: ProjectionEvent[] = [];
    for await (const batch of this.store.readStream(projection.streamOf(key))) {
      for (const stored of batch) {
        if (!handled.has(stored.type)) continue;
        const event = toProjectionEvent(stored);
        if (within(event) && projection.keyOf(event) === key) events.push(event);
      }
    }
    return events.length > 0 ? foldInOrder(projection, key, events) : undefined;
  }

  async stats(): Promise<EngineStats> {
    const [store, head] = await Promise.all([this.store.stats(), this.store.head()]);
    const projections: ProjectionStatus[] = [];
    for (const definition of this.byName.values()) {
      const source = definition.kind === 'derived' ? definition.from : definition.name;
      let position = Number.POSITIVE_INFINITY;
      for (const row of this.checkpointRows(source)) {
        position = Math.min(
          position,
          (await this.projectionStore.readCheckpoint(row))?.position ?? 0,
        );
      }
      if (!Number.isFinite(position)) position = 0;
      const letters = await this.projectionStore.readDeadLetters(definition.name);
      projections.push({
        name: definition.name,
        kind: definition.kind,
        version: definition.version,
        position,
        lag: Math.max(0, head - position),
        entities: await this.count(definition.name),
        deadLetters: letters.length,
        stalledEntities: new Set(letters.map((l) => l.key)).size,
      });
    }
    return { store, head, projections };
  }

  deadLetters(projection?: string) {
    return this.projectionStore.readDeadLetters(projection);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeAppends?.();
    this.ownership?.unsubscribe();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.journalTimer) clearInterval(this.journalTimer);
    this.wake?.();
    await this.pumping;
    await this.rebuilding?.catch(() => undefined);
    await this.pulling;
    this.hub.complete();
    this.progress.complete();
  }

  private projection(name: string): AnyProjection {
    const definition = this.byName.get(name);
    if (!definition) {
      throw new EngineError(
        'unknown_projection',
        `unknown projection "${name}" (known: ${this.projectionNames.join(', ')})`,
      );
    }
    return definition;
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError('closed', 'the engine is closed');
  }
}

function partitionCheckpoint(name: string, partition: number): string {
  return `${name}#p${partition}`;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** States of rows that hold one (an entity whose first event was poison has none). */
function presentStates(rows: readonly StateRow[]): unknown[] {
  return rows
    .filter((row) => row.state !== null && row.state !== undefined)
    .map((row) => row.state);
}

function matches(state: unknown, where: StateFilter | undefined): boolean {
  if (!where) return true;
  const record = state as Record<string, unknown>;
  return Object.entries(where).every(([field, value]) => record[field] === value);
}

function pointFilter(at: TimeTravelPoint): (event: ProjectionEvent) => boolean {
  if ('position' in at) return (event) => event.position <= at.position;
  const time = typeof at.time === 'number' ? at.time : parseSourceTime(at.time);
  if (time === null || !Number.isFinite(time)) {
    throw new EngineError(
      'invalid_time',
      `not a time: ${JSON.stringify(at.time)} (use ISO-8601 or epoch ms)`,
    );
  }
  return (event) => event.sourceTime <= time;
}
