/** The engine's figures: the store's counters and, per projection, position, lag and health. */
import type { CheckpointRef, DeadLetter, EventStore, ProjectionStore } from '../store/port.js';
import type { Queries } from './queries.js';
import type { Registry } from './registry.js';
import type { EngineStats, ProjectionStatus } from './types.js';

export interface StatsSources {
  readonly registry: Registry;
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  readonly queries: Queries;
  /** Every checkpoint row of a projection (one per partition when shared). */
  checkpointRows(name: string): CheckpointRef[];
}

export async function readStats(sources: StatsSources): Promise<EngineStats> {
  const { registry, store: eventStore, projectionStore, queries } = sources;
  const [store, head] = await Promise.all([eventStore.stats(), eventStore.head()]);
  const projections: ProjectionStatus[] = [];
  for (const name of registry.names) {
    const definition = registry.get(name);
    // A derived or aggregate projection stands where its source does.
    const source = definition.kind === 'stream' ? definition.name : definition.from;
    let position = Number.POSITIVE_INFINITY;
    for (const row of sources.checkpointRows(source)) {
      const checkpoint = await projectionStore.readCheckpoint(row.name, row.partition);
      position = Math.min(position, checkpoint?.position ?? 0);
    }
    if (!Number.isFinite(position)) position = 0;
    const letters = projectionStore.countDeadLetters
      ? await projectionStore.countDeadLetters(definition.name)
      : countLetters(await projectionStore.readDeadLetters(definition.name));
    projections.push({
      name: definition.name,
      kind: definition.kind,
      version: definition.version,
      position,
      lag: Math.max(0, head - position),
      entities: await queries.count(definition.name),
      deadLetters: letters.letters,
      stalledEntities: letters.entities,
    });
  }
  return { store, head, projections };
}

function countLetters(letters: readonly DeadLetter[]): { letters: number; entities: number } {
  return { letters: letters.length, entities: new Set(letters.map((l) => l.key)).size };
}
