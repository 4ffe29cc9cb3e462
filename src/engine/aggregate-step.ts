/**
 * The aggregate step: a batch's member changes applied to the aggregate projections over them,
 * as pure functions that return data (the runner reads the group rows asked for, calls these,
 * and commits what they return with the members, in one transaction).
 *
 *   aggregateGroups   member updates → the group rows to read
 *   aggregateBatch    member updates + group rows → new group rows, changes, dead letters
 *
 * Each member entity the batch updated moves its group once, from its committed state (before
 * the batch) to its new one: `apply(group, before, after)`. The cost is one `apply` per updated
 * member, never a read of the group's other members.
 */
import type { DeadLetter } from '../store/port.js';
import { describeError, PoisonEventError } from './errors.js';
import { compareSourceOrder } from './fold.js';
import {
  historyKey,
  type ChangeToJournal,
  type Entity,
  type EntityLookup,
  type FoldOutput,
} from './fold-step.js';
import { jsonEqual } from './json-equal.js';
import type { AnyAggregateProjection } from './projection.js';

/** An aggregate with the storage names of its rows and of its source's (shadows in a rebuild). */
export interface AggregateTarget {
  readonly projection: AnyAggregateProjection;
  readonly name: string;
  readonly source: string;
}

/** One member's move: its state before the batch and after it (`undefined`: absent). */
interface MemberMove {
  readonly before: unknown;
  readonly after: unknown;
  readonly entity: Entity;
  readonly cause: { readonly id: string; readonly position: number };
}

/** The states of a member before (committed) and after the batch, when it moved at all. */
function* memberMoves(
  target: AggregateTarget,
  updates: FoldOutput['updates'],
  causes: FoldOutput['causes'],
  lookup: EntityLookup,
): Generator<MemberMove> {
  for (const [key, entity] of updates.get(target.source) ?? []) {
    const committed = lookup(target.source, key);
    const before = committed.exists ? committed.state : undefined;
    const after = entity.exists ? entity.state : undefined;
    // A poison event leaves the member's state as it was: nothing moved.
    if (before === after) continue;
    const event = causes.get(historyKey(target.source, key));
    yield {
      before,
      after,
      entity,
      cause: event
        ? { id: event.id, position: event.position }
        : { id: entity.lastId, position: entity.position },
    };
  }
}

/** The groups a member's move touches: the one it left and the one it joined. */
function groupsOf(
  projection: AnyAggregateProjection,
  move: MemberMove,
): { left: string | null; joined: string | null } {
  return {
    left: move.before === undefined ? null : projection.groupOf(move.before),
    joined: move.after === undefined ? null : projection.groupOf(move.after),
  };
}

/** The group rows the batch's member moves touch, by aggregate storage name. */
export function aggregateGroups(
  targets: readonly AggregateTarget[],
  updates: FoldOutput['updates'],
  causes: FoldOutput['causes'],
  lookup: EntityLookup,
): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  for (const target of targets) {
    const keys = new Set<string>();
    for (const move of memberMoves(target, updates, causes, lookup)) {
      const { left, joined } = groupsOf(target.projection, move);
      if (left !== null) keys.add(left);
      if (joined !== null) keys.add(joined);
    }
    if (keys.size > 0) groups.set(target.name, keys);
  }
  return groups;
}

export interface AggregateInput {
  readonly targets: readonly AggregateTarget[];
  readonly fold: Pick<FoldOutput, 'updates' | 'causes'>;
  /** Committed entities: members under the source's name, group rows under the aggregate's. */
  readonly lookup: EntityLookup;
  readonly failFast: boolean;
  readonly journal: boolean;
}

export interface AggregateOutput {
  /** New group rows, by aggregate storage name then group. */
  readonly updates: ReadonlyMap<string, ReadonlyMap<string, Entity>>;
  readonly deadLetters: readonly DeadLetter[];
  /** One change per group whose state changed (journalling runs only). */
  readonly changes: readonly ChangeToJournal[];
}

/**
 * Applies a batch's member moves to their groups. Pure: reads rows through `lookup`, returns new
 * ones. A group whose `apply` throws is marked poisoned (its row stays as it was) and its later
 * moves are dead-lettered; with `failFast` (rebuilds) the first throw ends the batch.
 */
export function aggregateBatch(input: AggregateInput): AggregateOutput {
  const updates = new Map<string, Map<string, Entity>>();
  const deadLetters: DeadLetter[] = [];
  const causes = new Map<string, MemberMove['cause']>();
  for (const target of input.targets) {
    const rows = new Map<string, Entity>();
    const current = (group: string) => rows.get(group) ?? input.lookup(target.name, group);
    // Each group's initial state, once per batch, for the "emptied" comparison after every move
    // (a busy group meets thousands of moves in one batch). Never handed to `apply`, which gets
    // a fresh one, so a reducer that writes into its input cannot change it.
    const initials = new Map<string, unknown>();
    const initialOf = (group: string): unknown => {
      if (!initials.has(group)) initials.set(group, target.projection.initialState(group));
      return initials.get(group);
    };
    const move = (group: string, step: MemberMove, before: unknown, after: unknown) => {
      const row = current(group);
      const letter = (error: string): DeadLetter => ({
        projection: target.name,
        key: group,
        eventId: step.cause.id,
        position: step.cause.position,
        error,
      });
      if (row.poisoned !== null) {
        deadLetters.push(letter(`group stalled by an earlier failure: ${row.poisoned}`));
        return;
      }
      try {
        // A stored emptied group reads back as a row without state.
        const base = present(row) ? row.state : target.projection.initialState(group);
        const state = target.projection.apply(base, before, after);
        const newer =
          !row.exists ||
          compareSourceOrder(
            { sourceTime: step.entity.lastTime, id: step.entity.lastId },
            { sourceTime: row.lastTime, id: row.lastId },
          ) > 0;
        // Back at its initial state, the group has no row: as if it never had a member, which is
        // what it is after its last member left (the rows then depend on no arrival order).
        const emptied = jsonEqual(state, initialOf(group));
        rows.set(group, {
          exists: !emptied,
          state: emptied ? undefined : state,
          // The latest event in source order among the members folded in.
          lastTime: newer ? step.entity.lastTime : row.lastTime,
          lastId: newer ? step.entity.lastId : row.lastId,
          position: Math.max(row.position, step.cause.position),
          poisoned: null,
        });
        causes.set(historyKey(target.name, group), step.cause);
      } catch (error) {
        const dead = letter(describeError(error));
        if (input.failFast) throw new PoisonEventError(dead);
        deadLetters.push(dead);
        rows.set(group, { ...row, poisoned: `${dead.error} (event ${dead.eventId})` });
      }
    };
    for (const step of memberMoves(target, input.fold.updates, input.fold.causes, input.lookup)) {
      const { left, joined } = groupsOf(target.projection, step);
      if (left !== null && left === joined) move(left, step, step.before, step.after);
      else {
        // A member that changed group leaves one and joins the other.
        if (left !== null) move(left, step, step.before, undefined);
        if (joined !== null) move(joined, step, undefined, step.after);
      }
    }
    if (rows.size > 0) updates.set(target.name, rows);
  }

  const changes: ChangeToJournal[] = [];
  if (input.journal) {
    for (const [name, rows] of updates) {
      for (const [group, row] of rows) {
        const committed = input.lookup(name, group);
        const before = present(committed) ? committed.state : undefined;
        const after = present(row) ? row.state : undefined;
        const cause = causes.get(historyKey(name, group));
        if (!cause || jsonEqual(before, after)) continue;
        changes.push({
          projection: name,
          key: group,
          before: before ?? null,
          // `null`: the group emptied (its row is gone).
          after: after ?? null,
          eventId: cause.id,
          position: cause.position,
        });
      }
    }
  }
  return { updates, deadLetters, changes };
}

/** Whether a row holds a state (an emptied group's row does not). */
function present(row: Entity): boolean {
  return row.exists && row.state !== null && row.state !== undefined;
}
