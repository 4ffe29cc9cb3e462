/**
 * The projection runner: folds log batches into entity states and commits each batch's states,
 * checkpoints, dead letters and journalled changes in one transaction.
 *
 * One runner serves a set of stream projections in a single pass over the log (each keeps its
 * own checkpoint, so a freshly rebuilt projection and the others can stand at different
 * positions). The live engine and a rebuild use the same runner; a rebuild writes to shadow names
 * and journals nothing.
 *
 * Source-time order: an event newer (by source time, then id) than everything already folded
 * into its entity is folded on top; an older one (a late delivery) makes the runner re-read the
 * entity's stream up to that event and fold it again in order, so state always equals the fold
 * of the entity's distinct events sorted by (source time, id).
 */
import type {
  ChangeRecord,
  DeadLetter,
  EventStore,
  ProjectionStore,
  StateRow,
  StoredEvent,
} from '../store/port.js';
import { compareSourceOrder, foldInOrder } from './fold.js';
import { jsonEqual } from './json-equal.js';
import type { DerivedProjection, Projection, ProjectionEvent } from './projection.js';

type AnyStream = Projection<unknown, unknown>;
type AnyDerived = DerivedProjection<unknown, unknown>;

export interface RunnerOptions {
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  readonly projections: readonly AnyStream[];
  /** Derived projections whose changes are journalled alongside their sources' (live only). */
  readonly derived?: readonly AnyDerived[];
  /** Storage name of a projection (the shadow name during a rebuild). */
  readonly storageName?: (projection: AnyStream) => string;
  /** Journal and return changes (live); a rebuild does not. */
  readonly journal: boolean;
  /** A rebuild stops at the first poison event instead of dead-lettering it. */
  readonly failFast?: boolean;
  /**
   * For projections that derived projections read: the group of a state (e.g. a run's account),
   * stored with each row so a group's members are found by index.
   */
  readonly groupOf?: ReadonlyMap<string, (state: unknown) => string | null>;
  /** Restricts the runner to some entity streams (scale-out partitions). */
  readonly acceptStream?: (stream: string) => boolean;
  /**
   * The checkpoint rows of a projection (default: its storage name). A partition runner keeps
   * `<name>#p<i>`; a rebuild for partitioned instances writes every partition's row at once.
   */
  readonly checkpointNames?: (storageName: string) => readonly string[];
  readonly batchSize: number;
  /** Entity states kept in memory between batches. */
  readonly cacheLimit: number;
}

/** One event to fold into one projection's entity (`key` undefined: keyOf threw). */
interface WorkItem {
  projection: AnyStream;
  name: string;
  key: string | undefined;
  keyError?: string;
  event: StoredEvent;
}

interface Entity {
  exists: boolean;
  state: unknown;
  lastTime: number;
  lastId: string;
  position: number;
  poisoned: string | null;
}

/** A reducer threw during a rebuild: the same diagnostic a dead letter carries. */
export class PoisonEventError extends Error {
  override readonly name = 'PoisonEventError';
  readonly code = 'poison_event';
  constructor(readonly deadLetter: DeadLetter) {
    super(
      `projection "${deadLetter.projection}" failed on event ${deadLetter.eventId} ` +
        `(position ${deadLetter.position}, entity ${deadLetter.key}): ${deadLetter.error}`,
    );
  }
}

export interface BatchResult {
  readonly events: number;
  readonly position: number;
  readonly changes: ChangeRecord[];
}

export class ProjectionRunner {
  private readonly checkpoints = new Map<string, number>();
  /** Versions to stamp instead of the projection's own (its state is older: a rebuild is due). */
  private readonly versions = new Map<string, number>();
  private readonly cache = new Map<string, Map<string, Entity>>();
  private readonly handled: Map<AnyStream, Set<string>>;
  private readonly names: Map<AnyStream, string>;
  private cached = 0;

  constructor(private readonly options: RunnerOptions) {
    this.handled = new Map(options.projections.map((p) => [p, new Set(p.eventTypes)]));
    this.names = new Map(
      options.projections.map((p) => [p, options.storageName ? options.storageName(p) : p.name]),
    );
    for (const name of this.names.values()) this.cache.set(name, new Map());
  }

  /** Reads the checkpoints; call before the first batch. */
  async init(): Promise<void> {
    for (const name of this.names.values()) {
      let position = Number.POSITIVE_INFINITY;
      for (const row of this.checkpointRows(name)) {
        const checkpoint = await this.options.projectionStore.readCheckpoint(row);
        position = Math.min(position, checkpoint?.position ?? 0);
      }
      this.checkpoints.set(name, Number.isFinite(position) ? position : 0);
    }
  }

  private checkpointRows(name: string): readonly string[] {
    return this.options.checkpointNames ? this.options.checkpointNames(name) : [name];
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
    this.checkpoints.set(name, position);
  }

  private clearCache(): void {
    for (const entities of this.cache.values()) entities.clear();
    this.cached = 0;
  }

  /** Forgets cached states (after a swap replaced them underneath). */
  forget(name: string): void {
    const entities = this.cache.get(name);
    if (entities) {
      this.cached -= entities.size;
      entities.clear();
    }
  }

  /**
   * Applies everything after the current position up to `upTo` (default: the head as it is
   * now), one committed batch at a time; `onBatch` runs after each commit.
   */
  async runTo(upTo: number, onBatch: (result: BatchResult) => void): Promise<number> {
    let total = 0;
    while (this.position < upTo) {
      const from = this.position;
      let progressed = false;
      try {
        for await (const events of this.options.store.readAll(from, {
          batchSize: this.options.batchSize,
          upTo,
        })) {
          if (events.length === 0) continue;
          const changes = await this.applyBatch(events);
          total += events.length;
          progressed = true;
          onBatch({ events: events.length, position: this.position, changes });
          // A store that answers synchronously (SQLite) would otherwise hold the event loop for
          // the whole backlog: no change delivered, no request served until the end.
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (error) {
        // Another projector (a CLI command beside `serve`) committed first: what this runner
        // holds in memory is stale. Start again from what is committed.
        if ((error as { code?: unknown }).code !== 'checkpoint_moved') throw error;
        this.clearCache();
        await this.init();
        continue;
      }
      // Nothing readable below `upTo` (e.g. a position never committed): stop instead of spinning.
      if (!progressed) break;
    }
    return total;
  }

  /** Folds one batch and commits it. Exposed for tests of the batch boundary. */
  async applyBatch(events: readonly StoredEvent[]): Promise<ChangeRecord[]> {
    const planned = this.plan(events);
    await this.prefetch(planned);
    const work =
      this.options.failFast && !this.options.journal ? this.sourceOrdered(planned) : planned;
    const dirty = new Map<string, Map<string, Entity>>();
    const deadLetters: DeadLetter[] = [];
    // One change per entity per batch: its state before the batch, after it, and the last event.
    const touched = new Map<
      string,
      { name: string; key: string; before: unknown; event: StoredEvent }
    >();

    try {
      for (const item of work) {
        const { projection, name, key, event } = item;
        if (key === undefined) {
          deadLetters.push(this.deadLetter(name, '?', event, item.keyError ?? 'keyOf failed'));
          continue;
        }
        const entity = this.entity(name, key);
        if (entity.poisoned !== null) {
          deadLetters.push(
            this.deadLetter(
              name,
              key,
              event,
              `entity stalled by an earlier poison event: ${entity.poisoned}`,
            ),
          );
          continue;
        }
        const projected = toProjectionEvent(event);
        const touchKey = `${name}\u0000${key}`;
        const before = touched.has(touchKey)
          ? touched.get(touchKey)?.before
          : entity.exists
            ? entity.state
            : undefined;
        const order = entity.exists
          ? compareSourceOrder(projected, { sourceTime: entity.lastTime, id: entity.lastId })
          : 1;
        // Already folded (a batch re-read after a failure): folding it again would count it twice.
        if (order === 0) continue;
        const late = order < 0;
        // Reading the stream is I/O: a failure there fails the batch (retried), not the entity.
        const history = late ? await this.entityEvents(projection, key, projected) : undefined;
        try {
          const next = history
            ? foldInOrder(projection, key, history)
            : projection.evolve(
                entity.exists ? entity.state : projection.initialState(key),
                projected,
              );
          if (!late) {
            entity.lastTime = projected.sourceTime;
            entity.lastId = projected.id;
          }
          entity.state = next;
          entity.exists = true;
          // The highest position applied (work may be in source order, see sourceOrdered).
          entity.position = Math.max(entity.position, event.position);
          markDirty(dirty, name, key, entity);
          touched.delete(touchKey);
          touched.set(touchKey, { name, key, before, event });
        } catch (error) {
          const letter = this.deadLetter(name, key, event, describe(error));
          if (this.options.failFast) throw new PoisonEventError(letter);
          entity.poisoned = `${letter.error} (event ${event.id})`;
          entity.position = event.position;
          markDirty(dirty, name, key, entity);
          deadLetters.push(letter);
        }
      }

      const last = events[events.length - 1] as StoredEvent;
      const changes: Omit<ChangeRecord, 'seq'>[] = [];
      if (this.options.journal) {
        // Map order is the order of each entity's last event in the batch.
        for (const { name, key, before, event } of touched.values()) {
          const after = this.cache.get(name)?.get(key);
          if (after?.exists && !jsonEqual(before, after.state)) {
            changes.push({
              projection: name,
              key,
              before: before ?? null,
              after: after.state,
              eventId: event.id,
              position: event.position,
            });
          }
        }
        changes.push(...(await this.derivedChanges(changes, dirty)));
      }
      const advancing = [...this.names].filter(
        ([, name]) => this.checkpointOf(name) < last.position,
      );
      const checkpoints = advancing.flatMap(([projection, name]) =>
        this.checkpointRows(name).map((row) => ({
          name: row,
          position: last.position,
          version: this.versions.get(name) ?? projection.version,
        })),
      );
      const states = [...dirty].flatMap(([name, entities]) => {
        const projection = [...this.names].find(([, n]) => n === name)?.[0];
        const groupOf = projection ? this.options.groupOf?.get(projection.name) : undefined;
        return [...entities].map(([key, entity]) => ({
          projection: name,
          row: toRow(key, entity, groupOf && entity.exists ? groupOf(entity.state) : null),
        }));
      });
      const expected = advancing.flatMap(([, name]) =>
        this.checkpointRows(name).map((row) => ({ name: row, position: this.checkpointOf(name) })),
      );
      const committed = await this.options.projectionStore.commit({
        checkpoints,
        expected,
        states,
        deadLetters,
        changes,
      });
      for (const [, name] of advancing) this.checkpoints.set(name, last.position);
      this.trimCache();
      return committed;
    } catch (error) {
      // Nothing of this batch was committed, but the cache already holds its states: drop them
      // so the retry re-reads what was committed and folds each event once.
      for (const [name, entities] of dirty)
        for (const key of entities.keys()) this.evict(name, key);
      throw error;
    }
  }

  /**
   * A rebuild's shortcut past most late deliveries: when every event an entity has in this batch
   * comes after its state (by source order), applying them sorted by source order gives the fold
   * rule's state directly, where position order would re-read the entity's stream for each one
   * that arrived late within the batch. Entities with an event older than their state keep
   * position order (and the re-read). Only for a fail-fast rebuild, which publishes no changes:
   * live batches publish per entity the last event by position.
   */
  private sourceOrdered(work: WorkItem[]): WorkItem[] {
    const groups = new Map<string, WorkItem[]>();
    const out: (WorkItem | WorkItem[])[] = [];
    for (const item of work) {
      if (item.key === undefined) {
        out.push(item);
        continue;
      }
      const id = `${item.name}\u0000${item.key}`;
      const group = groups.get(id);
      if (group) group.push(item);
      else {
        const created = [item];
        groups.set(id, created);
        out.push(created);
      }
    }
    if (groups.size === work.length) return work;
    const ordered: WorkItem[] = [];
    for (const entry of out) {
      if (!Array.isArray(entry)) ordered.push(entry);
      else if (entry.length === 1) ordered.push(entry[0] as WorkItem);
      else {
        const first = entry[0] as WorkItem;
        const entity = this.cache.get(first.name)?.get(first.key as string);
        const sorted = [...entry].sort((a, b) => compareSourceOrder(a.event, b.event));
        const after =
          entity === undefined ||
          !entity.exists ||
          compareSourceOrder(sorted[0]!.event, { sourceTime: entity.lastTime, id: entity.lastId }) >
            0;
        ordered.push(...(after ? sorted : entry));
      }
    }
    return ordered;
  }

  private plan(events: readonly StoredEvent[]) {
    const work: WorkItem[] = [];
    for (const event of events) {
      if (event.stream === null) continue;
      if (this.options.acceptStream && !this.options.acceptStream(event.stream)) continue;
      for (const [projection, name] of this.names) {
        if (event.position <= this.checkpointOf(name)) continue;
        if (!this.handled.get(projection)?.has(event.type)) continue;
        try {
          const key = projection.keyOf(toProjectionEvent(event));
          if (key !== null) work.push({ projection, name, key, event });
        } catch (error) {
          work.push({ projection, name, key: undefined, keyError: describe(error), event });
        }
      }
    }
    return work;
  }

  private async prefetch(work: ReturnType<ProjectionRunner['plan']>): Promise<void> {
    const missing = new Map<string, Set<string>>();
    for (const { name, key } of work) {
      if (key === undefined || this.cache.get(name)?.has(key)) continue;
      let keys = missing.get(name);
      if (!keys) missing.set(name, (keys = new Set()));
      keys.add(key);
    }
    for (const [name, keys] of missing) {
      const rows = await this.options.projectionStore.readStates(name, [...keys]);
      const entities = this.cache.get(name) as Map<string, Entity>;
      for (const key of keys) {
        const row = rows.get(key);
        entities.set(key, row ? fromRow(row) : blankEntity());
        this.cached++;
      }
    }
  }

  private entity(name: string, key: string): Entity {
    const entities = this.cache.get(name) as Map<string, Entity>;
    let entity = entities.get(key);
    if (!entity) {
      entity = blankEntity();
      entities.set(key, entity);
      this.cached++;
    }
    return entity;
  }

  private evict(name: string, key: string): void {
    if (this.cache.get(name)?.delete(key)) this.cached--;
  }

  private trimCache(): void {
    if (this.cached <= this.options.cacheLimit) return;
    // Maps iterate in insertion order: drop the oldest entries first.
    for (const entities of this.cache.values()) {
      for (const key of entities.keys()) {
        if (this.cached <= this.options.cacheLimit / 2) return;
        entities.delete(key);
        this.cached--;
      }
    }
  }

  /** An entity's events up to (and including) a late one: what the fold rule re-folds. */
  private async entityEvents(
    projection: AnyStream,
    key: string,
    late: ProjectionEvent,
  ): Promise<ProjectionEvent[]> {
    const handled = this.handled.get(projection) as Set<string>;
    const events: ProjectionEvent[] = [];
    for await (const batch of this.options.store.readStream(late.stream, { upTo: late.position })) {
      for (const stored of batch) {
        if (!handled.has(stored.type) || stored.stream === null) continue;
        const event = toProjectionEvent(stored);
        if (projection.keyOf(event) === key) events.push(event);
      }
    }
    return events;
  }

  private async derivedChanges(
    changes: readonly Omit<ChangeRecord, 'seq'>[],
    dirty: ReadonlyMap<string, ReadonlyMap<string, Entity>>,
  ): Promise<Omit<ChangeRecord, 'seq'>[]> {
    const out: Omit<ChangeRecord, 'seq'>[] = [];
    for (const derived of this.options.derived ?? []) {
      const source = [...this.names].find(([p]) => p.name === derived.from)?.[1];
      if (source === undefined) continue;
      const lastCause = new Map<string, Omit<ChangeRecord, 'seq'>>();
      for (const change of changes) {
        if (change.projection !== source) continue;
        for (const state of [change.before, change.after]) {
          const group = state === null || state === undefined ? null : derived.groupOf(state);
          if (group !== null) lastCause.set(group, change);
        }
      }
      const touched = dirty.get(source) ?? new Map<string, Entity>();
      for (const [group, cause] of lastCause) {
        const committed = await this.options.projectionStore.listStates(source, { group });
        const after = new Map(committed.map((row) => [row.key, row.state]));
        for (const [key, entity] of touched) {
          if (entity.exists && derived.groupOf(entity.state) === group)
            after.set(key, entity.state);
          else after.delete(key);
        }
        let beforeState: unknown;
        let afterState: unknown;
        try {
          beforeState =
            committed.length > 0
              ? derived.derive(
                  group,
                  committed.map((r) => r.state),
                )
              : undefined;
          afterState = derived.derive(group, sortedValues(after));
        } catch (error) {
          // A derivation that throws must not stall its source: it is derived again when read.
          console.error(
            `truto-state: derived projection "${derived.name}" failed for ${group}:`,
            error,
          );
          continue;
        }
        if (!jsonEqual(beforeState, afterState)) {
          out.push({
            projection: derived.name,
            key: group,
            before: beforeState ?? null,
            after: afterState,
            eventId: cause.eventId,
            position: cause.position,
          });
        }
      }
    }
    return out;
  }

  private deadLetter(
    projection: string,
    key: string,
    event: StoredEvent,
    error: string,
  ): DeadLetter {
    return { projection, key, eventId: event.id, position: event.position, error };
  }
}

export function toProjectionEvent(event: StoredEvent): ProjectionEvent {
  return {
    position: event.position,
    id: event.id,
    type: event.type,
    sourceTime: event.sourceTime,
    stream: event.stream ?? '',
    data: event.data,
  };
}

function sortedValues(map: ReadonlyMap<string, unknown>): unknown[] {
  return [...map.keys()].sort().map((key) => map.get(key));
}

function markDirty(
  dirty: Map<string, Map<string, Entity>>,
  name: string,
  key: string,
  entity: Entity,
) {
  let entities = dirty.get(name);
  if (!entities) dirty.set(name, (entities = new Map()));
  entities.set(key, entity);
}

function blankEntity(): Entity {
  return {
    exists: false,
    state: undefined,
    lastTime: Number.NEGATIVE_INFINITY,
    lastId: '',
    position: 0,
    poisoned: null,
  };
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

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
