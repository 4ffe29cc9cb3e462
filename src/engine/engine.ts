/**
 * The engine: a small facade over single-purpose rooms.
 *
 *   registry.ts     the projections, checked once
 *   runner.ts       the driver of the pure fold step (fold-step.ts): read, fold, commit
 *   live-pump.ts    follows the head, single flight, coalescing, retries
 *   partitions.ts   scale-out: a runner per partition held
 *   change-hub.ts   publication from the durable journal, per-subscriber queues
 *   queries.ts      get, list, count, time travel
 *   rebuild.ts      online rebuild into shadows, atomic swap, reset signal
 *   change-streams.ts  watch and changesSince on the replay-then-live operator
 *   stats.ts        positions, lag, dead letters per projection
 *
 * Concurrency: the live runners and a rebuild's final swap run under one lock, so no event is
 * applied to old state after a rebuild caught up and before its swap. Across instances sharing
 * a store, the store's rebuild lock and the swap's lease fence do the same (see rebuild.ts).
 */
import { filter, Observable, throwError } from './rx.js';
import type { AppendOutcome, EventStore, EventToAppend, ProjectionStore } from '../store/port.js';
import { ChangeHub } from './change-hub.js';
import { changesAfter, watchState } from './change-streams.js';
import { plainJsonCodec, type EventCodec } from './codec.js';
import { EngineError } from './errors.js';
import { LivePump } from './live-pump.js';
import { Lock } from './lock.js';
import { silentLogger, type Logger } from './logger.js';
import { checkpointRows, PartitionRunners } from './partitions.js';
import type { AnyProjection, ProjectionName } from './projection.js';
import { Queries } from './queries.js';
import { Rebuilder } from './rebuild.js';
import { readStats } from './stats.js';
import { Registry } from './registry.js';
import { farBehindBatchSize, farBehindCommitSize, ProjectionRunner } from './runner.js';
import { createTimers, type Timers } from './timers.js';
import type {
  ChangeOf,
  Engine,
  EngineOptions,
  EngineStats,
  IngestResult,
  ListResult,
  RebuildOptions,
  RebuildReport,
  TimeTravelPoint,
} from './types.js';

/**
 * Opens an engine on a store. Resolves once the engine can serve its promises: checkpoints read,
 * and (unless `startupRebuild: 'background'`) any projection whose version changed rebuilt.
 *
 * @example
 * const store = await createSqliteEventStore({ path: './data/app.db' });
 * const engine = await createEngine({ store, projections: [orders] as const, codec });
 * await engine.ingest(rawBody);
 * await engine.catchUp();
 * const order = await engine.get('orders', 'o-1');
 * await engine.close();
 * await store.close();
 */
export async function createEngine<
  const P extends readonly AnyProjection[],
  Parsed extends EventToAppend = EventToAppend,
>(options: EngineOptions<P, Parsed>): Promise<Engine<P, Parsed>> {
  const projectionStore =
    options.projectionStore ?? (options.store as { projections?: ProjectionStore }).projections;
  if (!projectionStore) {
    throw new EngineError(
      'not_supported',
      `the ${options.store.kind} store holds no projected state: pass a projectionStore`,
    );
  }
  const engine = new ProjectionEngine<P, Parsed>(options, projectionStore);
  await engine.open();
  if (options.startupRebuild !== 'background') {
    try {
      await engine.ready;
    } catch (error) {
      await engine.close();
      throw error;
    }
  }
  return engine;
}

class ProjectionEngine<
  P extends readonly AnyProjection[],
  Parsed extends EventToAppend,
> implements Engine<P, Parsed> {
  readonly store: EventStore;
  readonly projectionNames: readonly ProjectionName<P>[];
  readonly changes$: Observable<ChangeOf<P>>;
  readonly rebuildProgress$;
  ready: Promise<void> = Promise.resolve();

  private readonly registry: Registry;
  private readonly codec: EventCodec;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly hub: ChangeHub;
  private readonly queries: Queries;
  private readonly rebuilder: Rebuilder;
  private readonly pump: LivePump;
  private readonly lock = new Lock();
  /** The one runner of a single instance; undefined when partitions are shared. */
  private readonly live: ProjectionRunner | undefined;
  private readonly partitionRunners: PartitionRunners | undefined;
  /** Whether a run has reached the head since opening (the first one is a catch-up). */
  private caughtUpOnce = false;
  /** Projections awaiting a rebuild, with the version their stored state was made by. */
  private readonly staleVersions = new Map<string, number>();
  private readonly batchSize: number;
  private readonly subscriberBuffer: number;
  private readonly retention: number;
  private readonly stops: (() => void)[] = [];
  /** Set once live projection starts (open, unless `live: false`). */
  private following = false;
  /** Ends the subscription to the store's appends, while there is one (followAppends). */
  private appends: (() => void) | undefined;
  private batchesSincePrune = 0;
  private closed = false;

  constructor(
    private readonly options: EngineOptions<P, Parsed>,
    private readonly projectionStore: ProjectionStore,
  ) {
    this.store = options.store;
    this.registry = new Registry(options.projections);
    this.projectionNames = this.registry.names as readonly ProjectionName<P>[];
    this.codec = (options.codec as EventCodec | undefined) ?? plainJsonCodec;
    this.logger = options.logger ?? silentLogger;
    this.timers = createTimers(options.scheduler);
    this.batchSize = options.batchSize ?? 500;
    this.retention = options.changeRetention ?? 100_000;
    this.subscriberBuffer = options.subscriberBuffer ?? 10_000;
    this.hub = new ChangeHub(projectionStore, this.subscriberBuffer, this.logger);
    this.changes$ = this.hub.all$ as Observable<ChangeOf<P>>;
    this.queries = new Queries(this.registry, this.store, projectionStore, this.codec);
    const partitions = options.partitions;
    this.live = partitions ? undefined : this.runner(projectionStore);
    this.partitionRunners = partitions
      ? new PartitionRunners(partitions, (store, partition) => {
          const runner = this.runner(store, partition);
          for (const [name, version] of this.staleVersions) runner.setVersion(name, version);
          return runner;
        })
      : undefined;
    this.rebuilder = new Rebuilder({
      registry: this.registry,
      store: this.store,
      projectionStore,
      codec: this.codec,
      logger: this.logger,
      batchSize: this.batchSize,
      lock: this.lock,
      checkpointRows: (name) => checkpointRows(name, partitions),
      swapped: (name, position) => {
        this.staleVersions.delete(name);
        for (const [, runner] of this.runners()) {
          runner.setVersion(name, undefined);
          runner.forget(name);
          runner.setCheckpoint(name, position);
        }
      },
      publish: (records) => this.hub.offer(records),
    });
    this.rebuildProgress$ = this.rebuilder.progress$;
    this.pump = new LivePump({
      head: () => this.store.head(),
      project: (head) => this.lock.run(() => this.project(head, !this.caughtUpOnce)),
      position: () => Math.min(...this.runners().map(([, runner]) => runner.position)),
      active: () => this.runners().length > 0,
      timers: this.timers,
      logger: this.logger,
    });
  }

  /** The subscriber buffer a catch-up must stay inside, while anyone is subscribed. */
  private watchedBuffer(): number | undefined {
    return this.hub.watched ? this.subscriberBuffer : undefined;
  }

  private runner(projectionStore: ProjectionStore, partition?: number): ProjectionRunner {
    const source = this.options.partitions;
    return new ProjectionRunner({
      store: this.store,
      projectionStore,
      codec: this.codec,
      projections: this.registry.streams,
      derived: this.registry.derived,
      aggregates: this.registry.aggregates,
      groupOf: this.registry.groupOf,
      journal: true,
      batchSize: this.batchSize,
      catchUpBatchSize: () => farBehindBatchSize(this.registry.streams, this.watchedBuffer()),
      catchUpCommitSize: () => farBehindCommitSize(this.watchedBuffer()),
      cacheLimit: 50_000,
      logger: this.logger,
      ...(source && partition !== undefined
        ? {
            acceptStream: (stream: string) => source.partitionOf(stream) === partition,
            ...(source.readFilter ? { readFilter: source.readFilter(partition) } : {}),
            checkpointRows: (name: string) => [{ name, partition }],
            refuseNewerVersions: true,
          }
        : {}),
    });
  }

  private runners(): [number, ProjectionRunner][] {
    return this.live ? [[-1, this.live]] : (this.partitionRunners?.list() ?? []);
  }

  async open(): Promise<void> {
    // A projection whose stored version is not its code's is rebuilt; until the swap its old
    // state keeps its old version, so a rebuild that dies midway is started again next time.
    // Shared (partitions): only an older stored version is. A newer one was rebuilt by a newer
    // release running beside this one (a rolling upgrade): rebuilding it back would undo that,
    // so this instance's runners leave it alone instead (refuseNewerVersions).
    for (const projection of [...this.registry.streams, ...this.registry.aggregates]) {
      const stale = await this.staleVersionOf(projection);
      if (stale !== undefined) this.staleVersions.set(projection.name, stale);
    }
    for (const [name, version] of this.staleVersions) this.live?.setVersion(name, version);
    const seen = new Set(Object.keys((await this.store.stats()).byType));
    this.registry.reportUnknownTypes(this.codec, this.logger, seen);

    const source = this.options.partitions;
    if (source && this.partitionRunners) {
      const runners = this.partitionRunners;
      const subscription = source.owned$.subscribe((owned) => {
        this.lock
          .run(async () => {
            // A new runner must not stamp an old version on state another instance rebuilt.
            await this.refreshStale();
            await runners.follow(owned);
          })
          .then(
            () => {
              this.followAppends();
              this.pump.schedule();
            },
            (error: unknown) => this.logger.error({ err: error }, 'taking over partitions failed'),
          );
      });
      this.stops.push(() => subscription.unsubscribe());
      await this.lock.run(async () => undefined);
    } else {
      await this.live?.init();
    }
    this.hub.publishedSeq = await this.projectionStore.lastChangeSeq();
    this.pollJournal();

    const stale = [...this.staleVersions.keys()];
    if (stale.length > 0) {
      // Online: the old state keeps being served until the rebuilt one is swapped in.
      // Instances starting together all see the bump; the first to get the store's rebuild lock
      // rebuilds, and the others find nothing left to do once they get it.
      this.ready = this.rebuilder
        .start(this.registry.rebuildTargets(stale), {}, async () => {
          await this.refreshStale();
          return this.registry.rebuildTargets([...this.staleVersions.keys()]);
        })
        .then(() => undefined);
      this.ready.catch((error: unknown) =>
        this.logger.error({ err: error, projections: stale }, 'rebuild on start failed'),
      );
    }
    if (this.options.live === false) return;
    this.following = true;
    this.followAppends();
    this.stops.push(() => this.appends?.());
    this.pump.schedule();
  }

  /**
   * Listens to the store's appends only while some live runner would project them: an instance
   * of a shared store that holds no partition would otherwise read the head on every append any
   * instance makes, for nothing.
   */
  private followAppends(): void {
    const wanted = this.following && this.runners().length > 0;
    if (wanted && !this.appends) {
      this.appends = this.store.onAppend((head) => this.pump.schedule(head));
    } else if (!wanted && this.appends) {
      this.appends();
      this.appends = undefined;
    }
  }

  /**
   * The stored version of `projection` that must be rebuilt for this code (see open()), or
   * undefined when every checkpoint row is current. The last stale row's version, as read.
   */
  private async staleVersionOf(projection: {
    readonly name: string;
    readonly version: number;
  }): Promise<number | undefined> {
    let stale: number | undefined;
    for (const row of checkpointRows(projection.name, this.options.partitions)) {
      const checkpoint = await this.projectionStore.readCheckpoint(row.name, row.partition);
      if (!checkpoint) continue;
      const outdated = this.options.partitions
        ? checkpoint.version < projection.version
        : checkpoint.version !== projection.version;
      if (outdated) stale = checkpoint.version;
    }
    return stale;
  }

  /**
   * Forgets a pending version rebuild that another instance has done meanwhile: no stored
   * checkpoint row of the projection is stale for this code any more.
   */
  private async refreshStale(): Promise<void> {
    for (const name of [...this.staleVersions.keys()]) {
      const projection = [...this.registry.streams, ...this.registry.aggregates].find(
        (p) => p.name === name,
      );
      if (!projection || (await this.staleVersionOf(projection)) !== undefined) continue;
      this.staleVersions.delete(name);
      for (const [, runner] of this.runners()) runner.setVersion(name, undefined);
    }
  }

  /** Other processes commit changes too: the journal is read for them between own commits. */
  private pollJournal(): void {
    if (this.closed) return;
    this.stops.push(
      this.timers.after(this.options.journalPollMs ?? 200, () => {
        void this.hub.pull().then(() => this.pollJournal());
      }),
    );
  }

  async ingest(
    body: Uint8Array | string,
    options: { readonly rejectSource?: string } = {},
  ): Promise<IngestResult<Parsed>> {
    this.assertOpen();
    const parsed = this.codec.parse(body);
    if (!parsed.ok) {
      // Kept aside like any refused request, so `stats()` counts it whichever way it came.
      await this.store.recordReject({
        source: options.rejectSource ?? 'ingest',
        reason: parsed.code,
        message: parsed.message,
        body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
      });
      return { status: 'rejected', code: parsed.code, message: parsed.message };
    }
    const [outcome] = await this.store.append([parsed.event]);
    return { ...(outcome as AppendOutcome), event: parsed.event as Parsed };
  }

  async append(events: readonly EventToAppend[]): Promise<AppendOutcome[]> {
    this.assertOpen();
    return this.store.append(events);
  }

  async catchUp(): Promise<number> {
    this.assertOpen();
    // A startup rebuild swaps in first: what catchUp promises is the current code's state.
    await this.rebuilder.current?.catch(() => undefined);
    const head = await this.store.head();
    await this.lock.run(() => this.project(head, true));
    if (!this.live) await this.awaitPartitions(head);
    await this.hub.pull();
    return this.live ? this.live.position : head;
  }

  /** Shared: other instances project the partitions this one does not hold; wait for them. */
  private async awaitPartitions(head: number): Promise<void> {
    const deadline = performance.now() + (this.options.catchUpTimeoutMs ?? 60_000);
    for (;;) {
      const behind = (await this.partitionPositions()).filter(([, position]) => position < head);
      if (behind.length === 0) return;
      if (performance.now() > deadline) {
        throw new EngineError(
          'catch_up_timeout',
          `partitions still behind position ${head}: ${behind.map(([name, position]) => `${name} at ${position}`).join(', ')}`,
        );
      }
      await new Promise<void>((resolve) => this.timers.after(50, resolve));
      await this.lock.run(() => this.project(head));
    }
  }

  /** Every partition checkpoint of every stream projection, with its position. */
  private async partitionPositions(): Promise<[string, number][]> {
    const positions: [string, number][] = [];
    for (const projection of this.registry.streams) {
      for (const row of checkpointRows(projection.name, this.options.partitions)) {
        const checkpoint = await this.projectionStore.readCheckpoint(row.name, row.partition);
        positions.push([
          `${row.name} partition ${row.partition ?? '-'}`,
          checkpoint?.position ?? 0,
        ]);
      }
    }
    return positions;
  }

  /**
   * Runs the live runners to `head`, publishing each batch's changes after its commit.
   *
   * A catch-up (`catchUp()`, and the first run after opening, which is a restarted `serve`'s)
   * runs the partitions side by side: each waits on its own round trips, so with the database
   * across a network they overlap (20k events through ~2 ms of round trip: 7.6 s one after the
   * other, 2.8–3.3 s side by side). A live run takes them in turn: under load, side by side
   * made more and smaller commits, and one instance ingested about a fifth slower.
   */
  private async project(head: number, catchingUp = false): Promise<void> {
    const run = async ([partition, runner]: [number, ProjectionRunner]): Promise<void> => {
      const result = await runner.runTo(head, ({ changes }) => {
        this.hub.offer(changes);
        this.batchesSincePrune++;
      });
      // Another instance holds the partition now; its runner goes until the lease comes back.
      if (!result.ok) this.partitionRunners?.drop(partition);
    };
    const runners = this.runners();
    if (catchingUp) await Promise.all(runners.map(run));
    else for (const entry of runners) await run(entry);
    if (runners.length > 0) this.caughtUpOnce = true;
    this.followAppends();
    if (this.batchesSincePrune >= 100) {
      this.batchesSincePrune = 0;
      const last = await this.projectionStore.lastChangeSeq();
      if (last > this.retention) await this.projectionStore.pruneChanges(last - this.retention);
    }
  }

  async get<N extends ProjectionName<P>>(projection: N, key: string) {
    this.assertOpen();
    return (await this.queries.get(projection, key)) as never;
  }

  async list<N extends ProjectionName<P>>(projection: N, options?: Parameters<Queries['list']>[1]) {
    this.assertOpen();
    return (await this.queries.list(projection, options)) as ListResult<never>;
  }

  async count(projection: ProjectionName<P>, where?: Parameters<Queries['count']>[1]) {
    this.assertOpen();
    return this.queries.count(projection, where);
  }

  changesOf<N extends ProjectionName<P>>(projection: N) {
    if (this.closed) return throwError(() => closedError());
    this.registry.assertPublished(projection);
    return this.hub.all$.pipe(filter((change) => change.projection === projection)) as never;
  }

  watch<N extends ProjectionName<P>>(projection: N, key: string) {
    if (this.closed) return throwError(() => closedError());
    this.registry.assertPublished(projection);
    return watchState(this.hub, this.queries, projection, key) as never;
  }

  changesSince(seq: number): Observable<ChangeOf<P>> {
    if (this.closed) return throwError(() => closedError());
    return changesAfter(this.hub, this.projectionStore, seq) as Observable<ChangeOf<P>>;
  }

  async lastChangeSeq(): Promise<number> {
    this.assertOpen();
    return this.projectionStore.lastChangeSeq();
  }

  async rebuild(
    projections?: readonly ProjectionName<P>[],
    options: RebuildOptions = {},
  ): Promise<RebuildReport> {
    this.assertOpen();
    const targets = this.registry.rebuildTargets(projections ?? this.registry.names);
    const report = await this.rebuilder.start(targets, options);
    this.pump.schedule();
    return report;
  }

  async stateAt<N extends ProjectionName<P>>(projection: N, key: string, at: TimeTravelPoint) {
    this.assertOpen();
    return (await this.queries.stateAt(projection, key, at)) as never;
  }

  async stats(): Promise<EngineStats> {
    this.assertOpen();
    return readStats({
      registry: this.registry,
      store: this.store,
      projectionStore: this.projectionStore,
      queries: this.queries,
      checkpointRows: (name) => checkpointRows(name, this.options.partitions),
    });
  }

  deadLetters(projection?: ProjectionName<P>) {
    this.assertOpen();
    return this.projectionStore.readDeadLetters(projection);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.stops) stop();
    await this.pump.close();
    await this.rebuilder.current?.catch(() => undefined);
    await this.hub.pull();
    this.hub.complete();
    this.rebuilder.complete();
    if (this.options.closeStore) await this.store.close();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): EngineError {
  return new EngineError('closed', 'the engine is closed');
}
