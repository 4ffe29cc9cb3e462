/**
 * The fold step: one batch of log events folded into entity states, as functions that return
 * data (or, for a fold over several pages, add to a pending fold their caller owns). The runner
 * (runner.ts) is the thin driver around them: it reads the pages and the histories asked for,
 * calls these, and commits what they return.
 *
 *   planBatch     events → work items (which projection folds which event into which entity)
 *   historyReads  work items → the entity streams a late event needs re-read
 *   foldPage      work items + entities + histories → a pending fold's new entity states
 *   finishFold    a pending fold → new entity states, changes, dead letters (foldBatch: one page)
 *   derivedGroups / deriveChange   the changes of derived projections from their sources' changes
 *
 * Source-time order: an event newer (by source time, then id) than everything already folded
 * into its entity is folded on top; an older one (a late delivery) refolds the entity from its
 * stream's events up to that one, so state always equals the fold of the entity's distinct events
 * sorted by (source time, id).
 */
import type { ChangeRecord, DeadLetter, StateRow } from '../store/port.js';
import { describeError, PoisonEventError } from './errors.js';
import { compareSourceOrder, foldInOrder } from './fold.js';
import { jsonEqual } from './json-equal.js';
import type { AnyDerivedProjection, AnyStreamProjection, ProjectionEvent } from './projection.js';

/** What the runner knows of one entity of one projection. */
export interface Entity {
  readonly exists: boolean;
  readonly state: unknown;
  /** Source order of the latest event folded in. */
  readonly lastTime: number;
  readonly lastId: string;
  /** Highest log position folded in. */
  readonly position: number;
  /** Set when a reducer threw: the entity is stalled until a fix and rebuild. */
  readonly poisoned: string | null;
}

export const BLANK_ENTITY: Entity = {
  exists: false,
  state: undefined,
  lastTime: Number.NEGATIVE_INFINITY,
  lastId: '',
  position: 0,
  poisoned: null,
};

/** One event to fold into one projection's entity (`key` undefined: keyOf threw). */
export interface WorkItem {
  readonly projection: AnyStreamProjection;
  /** Storage name (the shadow's during a rebuild). */
  readonly name: string;
  readonly key: string | undefined;
  /** `historyKey(name, key)`, made once here for every map of the batch ('' without a key). */
  readonly id: string;
  readonly keyError?: string;
  readonly event: ProjectionEvent;
  /** Its place in log order (planBatch), whatever order the fold takes it in. */
  readonly order: number;
}

export type ChangeToJournal = Omit<ChangeRecord, 'seq'>;

/** Reads entities by storage name and key (the runner's cache, prefetched). */
export type EntityLookup = (name: string, key: string) => Entity;

const entityId = (name: string, key: string) => `${name}\u0000${key}`;

/**
 * Which projection folds which event into which entity, in log order. Events at or below a
 * projection's checkpoint, of types it does not fold, or without a stream are left out.
 */
export function planBatch(
  events: readonly ProjectionEvent[],
  projections: ReadonlyMap<AnyStreamProjection, string>,
  checkpointOf: (name: string) => number,
  handles: (projection: AnyStreamProjection, type: string) => boolean,
): WorkItem[] {
  const work: WorkItem[] = [];
  for (const event of events) {
    if (event.stream === '') continue;
    for (const [projection, name] of projections) {
      if (event.position <= checkpointOf(name) || !handles(projection, event.type)) continue;
      try {
        const key = projection.keyOf(event);
        if (key !== null) {
          work.push({ projection, name, key, id: entityId(name, key), event, order: work.length });
        }
      } catch (error) {
        work.push({
          projection,
          name,
          key: undefined,
          id: '',
          keyError: describeError(error),
          event,
          order: work.length,
        });
      }
    }
  }
  return work;
}

/** A stream to re-read up to a position, for the late events of one entity. */
export interface HistoryRead {
  readonly name: string;
  readonly key: string;
  readonly stream: string;
  readonly upTo: number;
}

/**
 * The histories the fold will need: for each entity with an event older than what precedes it
 * (its stored state, then earlier events of the batch), its stream up to the last such event.
 */
export function historyReads(
  work: readonly WorkItem[],
  lookup: EntityLookup,
  streamOf: (projection: AnyStreamProjection, key: string, event: ProjectionEvent) => string,
): HistoryRead[] {
  const last = new Map<string, { sourceTime: number; id: string } | null>();
  const reads = new Map<string, HistoryRead>();
  for (const { projection, name, key, id, event } of work) {
    if (key === undefined) continue;
    if (!last.has(id)) {
      const entity = lookup(name, key);
      if (entity.poisoned !== null) continue;
      last.set(id, entity.exists ? { sourceTime: entity.lastTime, id: entity.lastId } : null);
    }
    const previous = last.get(id);
    const order = previous ? compareSourceOrder(event, previous) : 1;
    if (order > 0) last.set(id, event);
    // A commutative projection folds a late event on top: nothing to re-read.
    else if (order < 0 && projection.commutative !== true) {
      const upTo = Math.max(reads.get(id)?.upTo ?? 0, event.position);
      reads.set(id, { name, key, stream: streamOf(projection, key, event), upTo });
    }
  }
  return [...reads.values()];
}

export interface FoldInput {
  readonly work: readonly WorkItem[];
  readonly lookup: EntityLookup;
  /** The stream events read for `historyReads`, by `name\0key`. */
  readonly histories: ReadonlyMap<string, readonly ProjectionEvent[]>;
  /** Stop at the first reducer that throws (rebuilds) instead of dead-lettering it. */
  readonly failFast: boolean;
  readonly handles: (projection: AnyStreamProjection, type: string) => boolean;
}

export interface FoldOutput {
  /** New states of the entities the batch touched, by storage name then key. */
  readonly updates: ReadonlyMap<string, ReadonlyMap<string, Entity>>;
  readonly deadLetters: readonly DeadLetter[];
  /** Stream projections' changes, in the order of each entity's last event in the batch. */
  readonly changes: readonly ChangeToJournal[];
  /** The last event folded into each updated entity, by `historyKey(name, key)`. */
  readonly causes: ReadonlyMap<string, ProjectionEvent>;
}

export function historyKey(name: string, key: string): string {
  return entityId(name, key);
}

/** An entity touched by a pending fold: its state before the fold and its last event. */
interface Touched {
  readonly name: string;
  readonly key: string;
  readonly before: unknown;
  event: ProjectionEvent;
  /** Its last event's place in log order, counted over every page of the fold. */
  order: number;
  readonly publish: boolean;
}

/**
 * A fold over one or more pages of the log, not yet committed: what `foldPage` has built, owned
 * by its caller and changed by nobody else. A far-behind run folds several pages into one
 * commit (runner.ts): each entity is then written, and journalled, once per commit instead of
 * once per page, while each page's events can be dropped once folded.
 */
export interface PendingFold {
  readonly updates: Map<string, Map<string, Entity>>;
  readonly deadLetters: DeadLetter[];
  /** One entry per entity (the change it will journal), moved on in place. */
  readonly touched: Map<string, Touched>;
  /** Each entity's last work item that folded nothing (a duplicate, a dead letter), if later. */
  readonly unfolded: Map<string, { readonly event: ProjectionEvent; readonly order: number }>;
  /** Work items folded so far: the next page's orders start here. */
  folded: number;
}

export function startFold(): PendingFold {
  return {
    updates: new Map(),
    deadLetters: [],
    touched: new Map(),
    unfolded: new Map(),
    folded: 0,
  };
}

/** What a pending fold's next page sees: its own updates, then `lookup` (what is committed). */
export function pendingLookup(pending: PendingFold, lookup: EntityLookup): EntityLookup {
  return (name, key) => pending.updates.get(name)?.get(key) ?? lookup(name, key);
}

/**
 * Folds a batch. Pure: reads entities through `lookup`, returns new ones without changing any;
 * `journal`: one change per touched entity (live runs; a rebuild journals nothing). The same as
 * `startFold`, `foldPage` and `finishFold` in turn.
 */
export function foldBatch(input: FoldInput & { readonly journal: boolean }): FoldOutput {
  const pending = startFold();
  foldPage(pending, input);
  return finishFold(pending, input.journal);
}

/**
 * Folds one page of work into `pending`. `input.lookup` reads what is committed (the states
 * before the pending fold); its work and histories were planned against
 * `pendingLookup(pending, …)`.
 */
export function foldPage(pending: PendingFold, input: FoldInput): void {
  const { updates, deadLetters, touched, unfolded } = pending;
  const base = pending.folded;
  const foldedNothing = (id: string, event: ProjectionEvent, order: number) => {
    const last = unfolded.get(id);
    if (last === undefined || order > last.order) unfolded.set(id, { event, order });
  };
  const current = (name: string, key: string): Entity =>
    updates.get(name)?.get(key) ?? input.lookup(name, key);
  const put = (name: string, key: string, entity: Entity) => {
    let entities = updates.get(name);
    if (!entities) updates.set(name, (entities = new Map()));
    entities.set(key, entity);
  };

  for (const item of input.work) {
    const { projection, name, key, id, event } = item;
    if (key === undefined) {
      deadLetters.push(deadLetter(name, '?', event, item.keyError ?? 'keyOf failed'));
      continue;
    }
    const entity = current(name, key);
    if (entity.poisoned !== null) {
      foldedNothing(id, event, base + item.order);
      deadLetters.push(
        deadLetter(
          name,
          key,
          event,
          `entity stalled by an earlier poison event: ${entity.poisoned}`,
        ),
      );
      continue;
    }
    const last = touched.get(id);
    const order = entity.exists
      ? compareSourceOrder(event, { sourceTime: entity.lastTime, id: entity.lastId })
      : 1;
    // Already folded (a batch re-read after a failure): folding it again would count it twice.
    if (order === 0) {
      foldedNothing(id, event, base + item.order);
      continue;
    }
    const late = order < 0;
    // A commutative projection's late event folds on top, like an in-order one.
    const refold = late && projection.commutative !== true;
    const history = refold ? input.histories.get(id) : undefined;
    // historyReads asked for it: a missing one is the driver's bug, and fails the batch.
    if (refold && !history) throw new Error(`no history read for late event ${event.id} of ${id}`);
    try {
      const next = history
        ? foldInOrder(projection, key, lateHistory(history, projection, input.handles, key, event))
        : projection.evolve(entity.exists ? entity.state : projection.initialState(key), event);
      put(name, key, {
        exists: true,
        state: next,
        lastTime: late ? entity.lastTime : event.sourceTime,
        lastId: late ? entity.lastId : event.id,
        // The highest position applied (work may be in source order, see sourceOrdered).
        position: Math.max(entity.position, event.position),
        poisoned: null,
      });
      const inLog = base + item.order;
      if (last === undefined) {
        touched.set(id, {
          name,
          key,
          before: entity.exists ? entity.state : undefined,
          event,
          order: inLog,
          publish: projection.publish !== false,
        });
      } else if (inLog > last.order) {
        last.event = event;
        last.order = inLog;
      }
    } catch (error) {
      const letter = deadLetter(name, key, event, describeError(error));
      if (input.failFast) throw new PoisonEventError(letter);
      foldedNothing(id, event, base + item.order);
      put(name, key, {
        ...entity,
        poisoned: `${letter.error} (event ${event.id})`,
        position: event.position,
      });
      deadLetters.push(letter);
    }
  }
  pending.folded = base + input.work.length;
}

/** The fold's result: one change per entity touched (`journal`), in log order of their causes. */
export function finishFold(pending: PendingFold, journal: boolean): FoldOutput {
  const { updates, touched } = pending;
  // In the order of each entity's last event in the log, however the work was ordered.
  const inLogOrder = [...touched.entries()].sort(([, a], [, b]) => a.order - b.order);
  const changes: ChangeToJournal[] = [];
  if (journal) {
    for (const [, { name, key, before, event, publish }] of inLogOrder) {
      const after = updates.get(name)?.get(key);
      if (publish && after?.exists && !jsonEqual(before, after.state)) {
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
  }
  const causes = new Map<string, ProjectionEvent>();
  for (const [id, { event }] of inLogOrder) causes.set(id, event);
  return { updates, deadLetters: pending.deadLetters, changes, causes };
}

/** An entity's events up to (and including) a late one: what the fold rule refolds. */
function lateHistory(
  history: readonly ProjectionEvent[],
  projection: AnyStreamProjection,
  handles: FoldInput['handles'],
  key: string,
  late: ProjectionEvent,
): ProjectionEvent[] {
  const events: ProjectionEvent[] = [];
  for (const event of history) {
    if (event.position > late.position || !handles(projection, event.type)) continue;
    if (projection.keyOf(event) === key) events.push(event);
  }
  return events;
}

/**
 * A shortcut past most late deliveries: when every event an entity has in this batch comes after
 * its state (by source order), applying them sorted by source order gives the fold rule's state
 * directly, where position order would re-read the entity's stream for each one that arrived
 * late within the batch (a tenth of a 100k-event catch-up went to those re-reads). Entities with
 * an event older than their state keep position order (and the re-read). The fold still blames
 * each change on the entity's last event in log order (`WorkItem.order`), and journals changes
 * in that order, as a batch folded in log order would.
 */
export function sourceOrdered(
  work: readonly WorkItem[],
  lookup: EntityLookup,
): readonly WorkItem[] {
  const groups = new Map<string, WorkItem[]>();
  const out: (WorkItem | WorkItem[])[] = [];
  for (const item of work) {
    if (item.key === undefined) {
      out.push(item);
      continue;
    }
    const group = groups.get(item.id);
    if (group) group.push(item);
    else {
      const created = [item];
      groups.set(item.id, created);
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
      const entity = lookup(first.name, first.key as string);
      const sorted = [...entry].sort((a, b) => compareSourceOrder(a.event, b.event));
      const after =
        !entity.exists ||
        compareSourceOrder((sorted[0] as WorkItem).event, {
          sourceTime: entity.lastTime,
          id: entity.lastId,
        }) > 0;
      ordered.push(...(after ? sorted : entry));
    }
  }
  return ordered;
}

/** For one derived projection: the groups whose members changed, with the change to blame. */
export function derivedGroups(
  derived: AnyDerivedProjection,
  source: string,
  changes: readonly ChangeToJournal[],
): Map<string, ChangeToJournal> {
  const lastCause = new Map<string, ChangeToJournal>();
  for (const change of changes) {
    if (change.projection !== source) continue;
    for (const state of [change.before, change.after]) {
      const group = state === null || state === undefined ? null : derived.groupOf(state);
      if (group !== null) lastCause.set(group, change);
    }
  }
  return lastCause;
}

/** A batch's updates of a derived projection's source, indexed by group once per batch. */
export interface GroupedUpdates {
  /** Each updated key, and the group its entity is in after the batch (null: none, or deleted). */
  readonly groupOfKey: ReadonlyMap<string, string | null>;
  /** Each group, and its members the batch updated, with their states after it. */
  readonly members: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
}

/**
 * Indexes the batch's updates by group: once per batch, so deriving each touched group costs its
 * own members, not every update of the batch (a catch-up batch of 20,000 events touching 5,000
 * groups called `groupOf` 25 million times). Throws what `groupOf` throws.
 */
export function groupUpdates(
  derived: AnyDerivedProjection,
  updated: ReadonlyMap<string, Entity>,
): GroupedUpdates {
  const groupOfKey = new Map<string, string | null>();
  const members = new Map<string, Map<string, unknown>>();
  for (const [key, entity] of updated) {
    const group = entity.exists ? derived.groupOf(entity.state) : null;
    groupOfKey.set(key, group);
    if (group === null) continue;
    let inGroup = members.get(group);
    if (!inGroup) members.set(group, (inGroup = new Map()));
    inGroup.set(key, entity.state);
  }
  return { groupOfKey, members };
}

/**
 * A derived group's change: its state derived from the committed members before the batch, and
 * from those members with the batch's updates applied. `null` when nothing changed; throws what
 * `derive` throws.
 */
export function deriveChange(
  derived: AnyDerivedProjection,
  group: string,
  cause: ChangeToJournal,
  committed: readonly StateRow[],
  updates: GroupedUpdates,
): ChangeToJournal | null {
  const after = new Map<string, unknown>();
  // Members the batch did not touch stay; touched ones are where the batch left them.
  for (const row of committed) {
    if (!updates.groupOfKey.has(row.key)) after.set(row.key, row.state);
  }
  for (const [key, state] of updates.members.get(group) ?? []) after.set(key, state);
  const beforeState =
    committed.length > 0
      ? derived.derive(
          group,
          committed.map((row) => row.state),
        )
      : undefined;
  const afterState = derived.derive(
    group,
    [...after.keys()].sort().map((key) => after.get(key)),
  );
  if (jsonEqual(beforeState, afterState)) return null;
  return {
    projection: derived.name,
    key: group,
    before: beforeState ?? null,
    after: afterState,
    eventId: cause.eventId,
    position: cause.position,
  };
}

function deadLetter(
  projection: string,
  key: string,
  event: ProjectionEvent,
  error: string,
): DeadLetter {
  return { projection, key, eventId: event.id, position: event.position, error };
}

/**
 * Entities the store refused (`store_rejected`), by `name\0key`: why, and whether even a row
 * for their key cannot be kept (the key itself is what the store refuses).
 */
export type Stalled = ReadonlyMap<
  string,
  { readonly reason: string; readonly unstorableKey: boolean }
>;

/** A key as a dead letter can keep it when the key itself was refused (a NUL in it). */
const storableKey = (key: string) => key.replaceAll('\u0000', '\uFFFD');

/** An entity's last event in log order among the pending fold's work, folded or not. */
export function lastInLog(
  pending: PendingFold,
  name: string,
  key: string,
): ProjectionEvent | undefined {
  const id = entityId(name, key);
  const folded = pending.touched.get(id);
  const unfolded = pending.unfolded.get(id);
  if (!folded) return unfolded?.event;
  return unfolded && unfolded.order > folded.order ? unfolded.event : folded.event;
}

/**
 * A batch's updates and changes with some entities stalled instead: the store refused their
 * state or key, a deterministic error that a retry would meet for ever. Each keeps its state from
 * before the batch, marked poisoned (so later events dead-letter as after a reducer's throw); its
 * changes are dropped; a dead letter names its last event of the batch.
 */
export function stallRejected(
  updates: ReadonlyMap<string, ReadonlyMap<string, Entity>>,
  changes: readonly ChangeToJournal[],
  stalled: Stalled,
  lookup: EntityLookup,
  lastEvent: (name: string, key: string) => ProjectionEvent | undefined,
): {
  updates: Map<string, Map<string, Entity>>;
  changes: ChangeToJournal[];
  deadLetters: DeadLetter[];
} {
  const kept = new Map<string, Map<string, Entity>>();
  const deadLetters: DeadLetter[] = [];
  for (const [name, entities] of updates) {
    const out = new Map<string, Entity>();
    for (const [key, entity] of entities) {
      const refused = stalled.get(entityId(name, key));
      if (refused === undefined) {
        out.set(key, entity);
        continue;
      }
      // Stalled where a row can mark it; an entity whose very key is refused has no row at all,
      // so each of its later events is refused, and dead-lettered, the same way.
      if (!refused.unstorableKey) {
        out.set(key, {
          ...lookup(name, key),
          poisoned: `the store refused this entity's state: ${refused.reason}`,
          position: entity.position,
        });
      }
      const event = lastEvent(name, key);
      deadLetters.push({
        projection: name,
        key: refused.unstorableKey ? storableKey(key) : key,
        eventId: event?.id ?? entity.lastId,
        position: event?.position ?? entity.position,
        error: refused.reason,
      });
    }
    kept.set(name, out);
  }
  const keptChanges: ChangeToJournal[] = [];
  for (const change of changes) {
    const refused = stalled.get(entityId(change.projection, change.key));
    if (refused === undefined) {
      keptChanges.push(change);
    } else if (!updates.get(change.projection)?.has(change.key)) {
      // A derived change has no entity of its own: its letter names the change's cause.
      deadLetters.push({
        projection: change.projection,
        key: refused.unstorableKey ? storableKey(change.key) : change.key,
        eventId: change.eventId,
        position: change.position,
        error: refused.reason,
      });
    }
  }
  return { updates: kept, changes: keptChanges, deadLetters };
}
