/**
 * Scale-out partitions: which partitions this instance holds, and a live runner for each. Entities
 * map to partitions by stream; each partition keeps its own checkpoint row of each projection.
 */
import type { CheckpointRef, ProjectionStore } from '../store/port.js';
import type { ProjectionRunner } from './runner.js';
import type { PartitionSource } from './types.js';

/** Every checkpoint row of a storage name: its own, or one per partition when shared. */
export function checkpointRows(
  name: string,
  partitions: PartitionSource | undefined,
): CheckpointRef[] {
  return partitions
    ? Array.from({ length: partitions.count }, (_, partition) => ({ name, partition }))
    : [{ name }];
}

export class PartitionRunners {
  private readonly runners = new Map<number, ProjectionRunner>();
  /** The store each runner commits through (its lease's fence). */
  private readonly stores = new Map<number, ProjectionStore>();

  constructor(
    private readonly source: PartitionSource,
    private readonly create: (store: ProjectionStore, partition: number) => ProjectionRunner,
  ) {}

  /**
   * Drops runners of partitions lost, starts runners for those gained, and restarts those whose
   * lease changed epoch (a rebuild's swap fenced them: what they cached is the old state).
   */
  async follow(owned: ReadonlySet<number>): Promise<void> {
    for (const partition of [...this.runners.keys()]) {
      if (!owned.has(partition)) this.drop(partition);
    }
    for (const partition of [...owned].sort((a, b) => a - b)) {
      const fenced = this.source.storeFor(partition);
      if (this.runners.has(partition) && this.stores.get(partition) === fenced) continue;
      this.drop(partition);
      if (!fenced) continue;
      const runner = this.create(fenced, partition);
      await runner.init();
      this.runners.set(partition, runner);
      this.stores.set(partition, fenced);
    }
  }

  /** A partition's lease went to another instance: its runner stops until it comes back. */
  drop(partition: number): void {
    this.runners.delete(partition);
    this.stores.delete(partition);
  }

  list(): [number, ProjectionRunner][] {
    return [...this.runners].sort(([a], [b]) => a - b);
  }
}
