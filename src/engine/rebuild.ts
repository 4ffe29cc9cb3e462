/**
 * Online rebuild: the normal runner folds the whole log into shadow tables beside the live state,
 * then, with the live runners paused, folds the last stretch and swaps the shadow in atomically.
 * Readers never see a half-built projection; subscribers get a journalled reset after the swap.
 */
import { Subject } from 'rxjs';
import type { ChangeRecord, CheckpointRef, EventStore, ProjectionStore } from '../store/port.js';
import { resetRecord } from './change-hub.js';
import type { EventCodec } from './codec.js';
import { EngineError } from './errors.js';
import type { Lock } from './lock.js';
import type { Logger } from './logger.js';
import type { AnyStreamProjection } from './projection.js';
import type { Registry } from './registry.js';
import { ProjectionRunner } from './runner.js';
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
  /** Throws when this instance cannot rebuild now (a shared store with partitions elsewhere). */
  assertCanRebuild(): void;
  /** After a swap: the live runners follow the new state from its checkpoint. */
  swapped(name: string, position: number): void;
  /** The reset rows journalled after a swap, to publish. */
  publish(records: readonly ChangeRecord[]): void;
}

export class Rebuilder {
  private running: Promise<RebuildReport> | undefined;
  private readonly progress = new Subject<RebuildProgress>();
  readonly progress$ = this.progress.asObservable();

  constructor(private readonly context: RebuildContext) {}

  /** The rebuild under way, if any. */
  get current(): Promise<RebuildReport> | undefined {
    return this.running;
  }

  start(
    targets: readonly AnyStreamProjection[],
    options: RebuildOptions = {},
  ): Promise<RebuildReport> {
    if (this.running) {
      return Promise.reject(new EngineError('rebuild_in_progress', 'a rebuild is already running'));
    }
    this.running = this.rebuild(targets, options).finally(() => {
      this.running = undefined;
    });
    return this.running;
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
    this.context.assertCanRebuild();
    for (const name of names) await projectionStore.clearProjection(shadowName(name));
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
      batchSize: Math.max(this.context.batchSize, 5_000),
      cacheLimit: 1_000_000,
      logger: this.context.logger,
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
      const head = await store.head();
      report(head, false);
      await shadow.runTo(head, (batch) => {
        events += batch.events;
        report(head, false);
      });
      await this.context.lock.run(async () => {
        // The last stretch and the swap happen with the live runners paused: no event is applied
        // to the old state after the shadow has caught up and before it replaces it.
        const finalHead = await store.head();
        await shadow.runTo(finalHead, (batch) => {
          events += batch.events;
        });
        for (const projection of targets) {
          await projectionStore.swapProjection(shadowName(projection.name), projection.name);
          this.context.swapped(projection.name, shadow.checkpointOf(shadowName(projection.name)));
        }
        for (const aggregate of aggregates) {
          await projectionStore.swapProjection(shadowName(aggregate.name), aggregate.name);
          this.context.swapped(aggregate.name, shadow.position);
        }
        const resets = await projectionStore.commit({
          checkpoints: [],
          states: [],
          deadLetters: [],
          changes: names.map((name) => resetRecord(name, shadow.position)),
        });
        if (resets.ok) this.context.publish(resets.changes);
        report(finalHead, true);
      });
    } catch (error) {
      for (const name of names) {
        await projectionStore.clearProjection(shadowName(name)).catch(() => undefined);
      }
      throw error;
    }
    return {
      projections: names,
      events,
      position: shadow.position,
      durationMs: performance.now() - started,
    };
  }
}
