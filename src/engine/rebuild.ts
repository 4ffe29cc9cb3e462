/**
 * Online rebuild: the normal runner folds the whole log into shadow tables beside the live state,
 * then folds the last stretch and swaps the shadow in atomically. Readers never see a half-built
 * projection; subscribers get a journalled reset after the swap.
 *
 * With several instances on one store (PostgreSQL partitions), nobody stops:
 *
 * - One rebuild at a time per store: the rebuilder first takes the store's rebuild lock
 *   (`lockRebuild`: a PostgreSQL session advisory lock, or a transaction held on a lock file
 *   beside a SQLite database; either is released when the process dies). A
 *   version bump seen by several instances starting at once is therefore rebuilt by the first;
 *   the others wait on the lock, then find (`due`) that the stored version is now their code's
 *   and rebuild nothing. Meanwhile every instance keeps serving and projecting the old state.
 * - The shadow needs no partition: it folds every stream and writes every partition's
 *   checkpoint row under the shadow name, unfenced (no running instance writes shadow names).
 * - The swap is one transaction (`swapProjections`): states, checkpoints and dead letters of
 *   every rebuilt projection and its aggregates, and the journalled resets. On PostgreSQL the
 *   same transaction bumps the epoch of every partition lease (each keeps its owner). That UPDATE
 *   waits for the partition commits in flight (they hold their lease row FOR SHARE), and every
 *   commit made later under an old epoch is refused (`lease_lost`). So no state folded on the
 *   old rows can land on the new ones; the refused runner is dropped, and restarted by its
 *   instance with the new epoch (the leases publish it on their next round), reading the new
 *   checkpoints and nothing cached. Position equality cannot fool this fence (a compare-and-set
 *   on checkpoint positions alone would accept a runner that stood exactly where the shadow did,
 *   with old states in its cache).
 * - No event is lost: events appended during the rebuild are either in the shadow (up to its
 *   position) or after it, and every partition runner resumes from the shadow's checkpoints. The
 *   shadow catches up to the head just before the swap only so that little is left to re-fold.
 * - Running instances follow: their journal poll reads the reset rows (SSE sends `event: reset`)
 *   and their runners restart as above. This instance's own runners are paused by the local
 *   lock for the last stretch and the swap, then told the new checkpoints (`swapped`).
 * - Mixed releases (a rolling upgrade): a restarted runner whose code is older than the version
 *   in the checkpoint rows folds nothing (runner.ts, refuseNewerVersions), and on a shared store
 *   only an older stored version is rebuilt on start (engine.ts), so an old instance neither
 *   writes over nor rebuilds back the newer state.
 */
import { isStoreError } from '../store/errors.js';
import type { Observable } from 'rxjs';
import { Subject } from './rx.js';
import type { ChangeRecord, CheckpointRef, EventStore, ProjectionStore } from '../store/port.js';
import { resetRecord } from './change-hub.js';
import type { EventCodec } from './codec.js';
import { EngineError } from './errors.js';
import type { Lock } from './lock.js';
import type { Logger } from './logger.js';
import type { AnyStreamProjection } from './projection.js';
import type { Registry } from './registry.js';
import { farBehindBatchSize, farBehindCommitSize, ProjectionRunner } from './runner.js';
import type { RebuildOptions, RebuildProgress, RebuildReport } from './types.js';

const SHADOW_SUFFIX = '~rebuild';
export const shadowName = (name: string) => `${name}${SHADOW_SUFFIX}`;

export interface RebuildContext {
  readonly registry: Registry;
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  readonly codec: EventCodec;
  readonly logger: Logger;
  readonly batchSize: number;
  /** The live runners' lock: held for the final catch-up and the swap. */
  readonly lock: Lock;
  /** Every checkpoint row of a projection's storage name (one per partition when shared). */
  checkpointRows(name: string): CheckpointRef[];
  /** After a swap: the live runners follow the new state from its checkpoint. */
  swapped(name: string, position: number): void;
  /** The reset rows journalled after a swap, to publish. */
  publish(records: readonly ChangeRecord[]): void;
}

export class Rebuilder {
  private running: Promise<RebuildReport> | undefined;
  private readonly progress = new Subject<RebuildProgress>();
  readonly progress$: Observable<RebuildProgress> = this.progress.asObservable();

  constructor(private readonly context: RebuildContext) {}

  /** The rebuild under way, if any. */
  get current(): Promise<RebuildReport> | undefined {
    return this.running;
  }

  /**
   * Rebuilds `targets`; `due`, when given, is asked again once the store's rebuild lock is held
   * (a version bump another instance may have rebuilt while this one waited).
   */
  start(
    targets: readonly AnyStreamProjection[],
    options: RebuildOptions = {},
    due?: () => Promise<readonly AnyStreamProjection[]>,
  ): Promise<RebuildReport> {
    if (this.running) {
      return Promise.reject(new EngineError('rebuild_in_progress', 'a rebuild is already running'));
    }
    this.running = this.locked(targets, options, due).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async locked(
    targets: readonly AnyStreamProjection[],
    options: RebuildOptions,
    due: (() => Promise<readonly AnyStreamProjection[]>) | undefined,
  ): Promise<RebuildReport> {
    const release = await this.context.projectionStore.lockRebuild?.();
    try {
      return await this.rebuild(due ? await due() : targets, options);
    } finally {
      await release?.();
    }
  }

  complete(): void {
    this.progress.complete();
  }

  private async rebuild(
    targets: readonly AnyStreamProjection[],
    options: RebuildOptions,
  ): Promise<RebuildReport> {
    const started = performance.now();
    // Aggregates are rebuilt with their sources: their rows are moved by the sources' changes.
    const aggregates = this.context.registry.aggregatesOf(targets);
    const names = [...targets, ...aggregates].map((p) => p.name);
    const { projectionStore, store } = this.context;
    if (targets.length === 0) {
      return { projections: [], events: 0, position: await store.head(), durationMs: 0 };
    }
    const clearShadows = async () => {
      for (const name of names) await projectionStore.clearProjection(shadowName(name));
    };
    await clearShadows();
    const shadow = new ProjectionRunner({
      store,
      projectionStore,
      codec: this.context.codec,
      projections: targets,
      aggregates,
      storageName: (p) => shadowName(p.name),
      // A rebuild for partitioned instances writes every partition's row at once.
      checkpointRows: (name) => this.context.checkpointRows(name),
      groupOf: this.context.registry.groupOf,
      journal: false,
      failFast: true,
      // The swap below commits durably, and its sync covers every shadow batch before it.
      deferDurability: true,
      batchSize: Math.max(this.context.batchSize, farBehindBatchSize(targets)),
      catchUpCommitSize: () => farBehindCommitSize(),
      cacheLimit: 1_000_000,
      // Cleared above, and written by this rebuild alone (it holds the rebuild lock).
      startsEmpty: true,
      logger: this.context.logger,
    });
    await shadow.init();
    let events = 0;
    // Between commits, far apart when far behind, progress is what has been folded.
    const report = (head: number, done: boolean, position = shadow.position, folded = events) => {
      const progress: RebuildProgress = {
        projections: names,
        position,
        head,
        events: folded,
        done,
      };
      options.onProgress?.(progress);
      this.progress.next(progress);
    };
    try {
      const head = await store.head();
      report(head, false);
      await shadow.runTo(
        head,
        (batch) => {
          events += batch.events;
          report(head, false);
        },
        (page) => report(head, false, page.position, page.events),
      );
      await this.context.lock.run(async () => {
        // The last stretch and the swap happen with the live runners paused: no event is applied
        // to the old state after the shadow has caught up and before it replaces it.
        const finalHead = await store.head();
        await shadow.runTo(finalHead, (batch) => {
          events += batch.events;
        });
        const resets = await whileBusy(() =>
          projectionStore.swapProjections(
            names.map((name) => ({ shadow: shadowName(name), live: name })),
            names.map((name) => resetRecord(name, shadow.position)),
          ),
        );
        for (const projection of targets) {
          this.context.swapped(projection.name, shadow.checkpointOf(shadowName(projection.name)));
        }
        for (const aggregate of aggregates) this.context.swapped(aggregate.name, shadow.position);
        this.context.publish(resets);
        report(finalHead, true);
      });
    } catch (error) {
      for (const name of names) {
        await projectionStore.clearProjection(shadowName(name)).catch(() => undefined);
      }
      throw error;
    }
    // The shadows may hold the replaced states (see swapProjections). The rebuild is in: a
    // failure here leaves them to the next rebuild, which clears its shadows first.
    try {
      await clearShadows();
    } catch (error) {
      this.context.logger.warn(
        { err: error },
        'rebuilt and swapped in; clearing the replaced state failed (the next rebuild clears it)',
      );
    }
    return {
      projections: names,
      events,
      position: shadow.position,
      durationMs: performance.now() - started,
    };
  }
}

/** Attempts at a swap its store refused as busy (each rolled back whole), and the first wait. */
const SWAP_ATTEMPTS = 5;
const SWAP_RETRY_MS = 50;

/**
 * Runs a swap again when the store answers `store_busy`. On PostgreSQL the swap rewrites every
 * state row of the projections while running instances commit theirs, and the server may pick
 * the swap as a deadlock's victim (40P01): the transaction rolled back whole, so trying again is
 * safe, and is what PostgreSQL asks of a deadlock's victim.
 */
async function whileBusy<T>(swap: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await swap();
    } catch (error) {
      if (!isStoreError(error) || error.code !== 'store_busy' || attempt >= SWAP_ATTEMPTS)
        throw error;
      await new Promise((resolve) => setTimeout(resolve, SWAP_RETRY_MS * 2 ** (attempt - 1)));
    }
  }
}
