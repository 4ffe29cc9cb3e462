/**
 * The in-memory ProjectionStore: states, checkpoints, dead letters and the change journal in
 * maps. Values are kept as JSON text, like a database would, so callers never share objects with
 * the store and `undefined` fields vanish the same way they do in SQLite.
 */
import type {
  ChangeRecord,
  Checkpoint,
  DeadLetter,
  ListOptions,
  ProjectionStore,
  StateRow,
} from '../port.js';
import { checkpointMoved, commitResult } from '../errors.js';
import { checkFilterField, compareKeys, matchesFilter } from '../shared/filter.js';
import {
  checkCommitText,
  decodeOptional,
  encodeChangeStates,
  encodeState,
  storableLetter,
} from '../shared/json.js';
import { derivedChanges } from '../shared/derived.js';

interface KeptState {
  readonly key: string;
  readonly state: string;
  readonly lastTime: number;
  readonly lastId: string;
  readonly position: number;
  readonly poisoned: string | null;
  readonly group: string | null;
}

interface KeptChange {
  readonly seq: number;
  readonly projection: string;
  readonly key: string;
  readonly before: string | null;
  readonly after: string | null;
  readonly eventId: string;
  readonly position: number;
}

/** A projection store that can list its checkpoints (the port makes that optional). */
export type ListableProjectionStore = ProjectionStore &
  Required<Pick<ProjectionStore, 'listCheckpoints'>>;

/** Creates an empty in-memory projection store. */
export function createMemoryProjectionStore(): ListableProjectionStore {
  const states = new Map<string, Map<string, KeptState>>();
  const checkpoints = new Map<string, Checkpoint>();
  /** Dead letters by projection, then by event id (one per event and projection). */
  const deadLetters = new Map<string, Map<string, DeadLetter>>();
  let changes: KeptChange[] = [];
  let lastSeq = 0;

  function statesOf(projection: string): Map<string, KeptState> {
    let map = states.get(projection);
    if (!map) {
      map = new Map();
      states.set(projection, map);
    }
    return map;
  }

  /** A checkpoint's map key: the name and the partition (none: -1, never a partition's). */
  const checkpointKey = (name: string, partition?: number) => `${partition ?? -1}:${name}`;

  /** Every checkpoint row of a projection: its own, or each partition's. */
  function checkpointsOf(name: string): Checkpoint[] {
    return [...checkpoints.values()].filter((c) => c.name === name);
  }

  /**
   * Each projection's keys in order, kept until a key is added or removed. Listings read a page
   * at a time (`afterKey`, `limit`): sorting and parsing every state for each page made paging
   * through a projection quadratic (`truto-state verify` of a million events: 69 s).
   */
  const sortedKeys = new Map<string, string[]>();
  function keysInOrder(projection: string): string[] {
    let keys = sortedKeys.get(projection);
    if (!keys) {
      keys = [...(states.get(projection)?.keys() ?? [])].sort(compareKeys);
      sortedKeys.set(projection, keys);
    }
    return keys;
  }

  /** The rows of a listing in key order, parsing only the states it looks at. */
  function listed(projection: string, options: ListOptions): StateRow[] {
    const { afterKey, limit, group, where } = options;
    if (where) Object.keys(where).forEach(checkFilterField);
    const map = states.get(projection);
    if (!map) return [];
    // A group's members are few (derived projections read them on every commit): found and
    // ordered without ordering the whole projection.
    const keys =
      group === undefined
        ? keysInOrder(projection)
        : [...map.values()]
            .filter((kept) => kept.group === group)
            .map((kept) => kept.key)
            .sort(compareKeys);
    const max = limit === undefined ? Infinity : Math.max(0, Math.trunc(limit) || 0);
    const out: StateRow[] = [];
    for (let i = afterKey === undefined ? 0 : firstAfter(keys, afterKey); i < keys.length; i++) {
      if (out.length >= max) break;
      const row = toRow(map.get(keys[i] as string) as KeptState);
      if (matchesFilter(row.state, where)) out.push(row);
    }
    return out;
  }

  function swapOne(shadow: string, live: string): void {
    const shadowStates = states.get(shadow) ?? new Map<string, KeptState>();
    const shadowLetters = deadLetters.get(shadow);
    states.set(live, shadowStates);
    states.delete(shadow);
    sortedKeys.delete(live);
    sortedKeys.delete(shadow);
    const moved = checkpointsOf(shadow);
    for (const c of [...moved, ...checkpointsOf(live)])
      checkpoints.delete(checkpointKey(c.name, c.partition));
    for (const checkpoint of moved) {
      checkpoints.set(checkpointKey(live, checkpoint.partition), { ...checkpoint, name: live });
    }
    deadLetters.delete(shadow);
    if (shadowLetters) {
      deadLetters.set(
        live,
        new Map([...shadowLetters].map(([id, l]) => [id, { ...l, projection: live }])),
      );
    } else {
      deadLetters.delete(live);
    }
  }

  function journal(kept: readonly Omit<KeptChange, 'seq'>[]): ChangeRecord[] {
    const journalled: ChangeRecord[] = [];
    for (const change of kept) {
      lastSeq += 1;
      const row: KeptChange = { ...change, seq: lastSeq };
      changes.push(row);
      journalled.push(fromKeptChange(row));
    }
    return journalled;
  }

  return {
    async readCheckpoint(name, partition) {
      const checkpoint = checkpoints.get(checkpointKey(name, partition));
      return checkpoint ? { ...checkpoint } : undefined;
    },

    async listCheckpoints() {
      return [...checkpoints.values()]
        .map((c) => ({ ...c }))
        .sort((a, b) => compareKeys(a.name, b.name) || (a.partition ?? -1) - (b.partition ?? -1));
    },

    async readStates(projection, keys) {
      const map = states.get(projection);
      const out = new Map<string, StateRow>();
      for (const key of keys) {
        const kept = map?.get(key);
        if (kept) out.set(key, toRow(kept));
      }
      return out;
    },

    async listStates(projection, options: ListOptions = {}) {
      return listed(projection, options);
    },

    async countStates(projection, where) {
      return listed(projection, where === undefined ? {} : { where }).length;
    },

    async countGroups(projection) {
      const groups = new Set<string>();
      for (const kept of states.get(projection)?.values() ?? []) {
        const group = kept.group;
        if (group !== null && group !== undefined) groups.add(group);
      }
      return groups.size;
    },

    async countDeadLetters(projection) {
      const letters = [...(deadLetters.get(projection)?.values() ?? [])];
      return { letters: letters.length, entities: new Set(letters.map((l) => l.key)).size };
    },

    commit(batch) {
      return commitResult(async () => {
        // Everything is serialised before anything changes, so a bad value leaves no half commit.
        const keptStates = batch.states.map(({ projection, row }) => ({
          projection,
          kept: toKept(row, projection),
        }));
        checkCommitText(
          batch,
          keptStates.map(({ projection, kept }) => ({ projection, ...kept })),
        );
        const moved = (batch.expected ?? [])
          .map((e) => ({
            ...e,
            expected: e.position,
            actual: checkpoints.get(checkpointKey(e.name, e.partition))?.position ?? 0,
          }))
          .filter((m) => m.actual !== m.expected);
        if (moved.length > 0) throw checkpointMoved(moved);
        // Read before this batch's states are written: the members as committed.
        const derived = derivedChanges(batch.derived ?? [], (read) =>
          listed(read.source, { group: read.group }),
        );
        const keptChanges = [...batch.changes, ...derived].map((change) =>
          encodeChangeStates(change),
        );
        for (const checkpoint of batch.checkpoints)
          checkpoints.set(checkpointKey(checkpoint.name, checkpoint.partition), { ...checkpoint });
        for (const { projection, kept } of keptStates) {
          const map = statesOf(projection);
          if (!map.has(kept.key)) sortedKeys.delete(projection);
          map.set(kept.key, kept);
        }
        for (const letter of batch.deadLetters) {
          const map = deadLetters.get(letter.projection) ?? new Map<string, DeadLetter>();
          map.set(letter.eventId, storableLetter(letter));
          deadLetters.set(letter.projection, map);
        }
        return journal(keptChanges);
      });
    },

    async clearProjection(name) {
      states.delete(name);
      sortedKeys.delete(name);
      for (const c of checkpointsOf(name)) checkpoints.delete(checkpointKey(c.name, c.partition));
      deadLetters.delete(name);
    },

    async swapProjections(swaps, resets) {
      // Synchronous from here to the end: no reader can observe a half swap.
      const kept = resets.map((change) => encodeChangeStates(change));
      for (const { shadow, live } of swaps) swapOne(shadow, live);
      return journal(kept);
    },

    async readDeadLetters(projection) {
      const maps =
        projection === undefined
          ? [...deadLetters.values()]
          : [deadLetters.get(projection) ?? new Map()];
      return maps
        .flatMap((map) => [...map.values()])
        .map((l) => ({ ...l }))
        .sort(
          (a, b) =>
            compareKeys(a.projection, b.projection) ||
            a.position - b.position ||
            compareKeys(a.eventId, b.eventId),
        );
    },

    async readChanges(after, limit) {
      const start = changes.findIndex((c) => c.seq > after);
      if (start < 0) return [];
      const end = limit === undefined ? changes.length : start + Math.max(0, limit);
      return changes.slice(start, end).map(fromKeptChange);
    },

    async pruneChanges(upTo) {
      changes = changes.filter((c) => c.seq > upTo);
    },

    async lastChangeSeq() {
      return lastSeq;
    },
  };
}

function toKept(row: StateRow, projection: string): KeptState {
  return {
    key: row.key,
    state: encodeState(row.state, { projection, key: row.key }),
    lastTime: row.lastTime,
    lastId: row.lastId,
    position: row.position,
    poisoned: row.poisoned ?? null,
    group: row.group ?? null,
  };
}

function toRow(kept: KeptState): StateRow {
  return { ...kept, state: JSON.parse(kept.state) as unknown };
}

function fromKeptChange(kept: KeptChange): ChangeRecord {
  return { ...kept, before: decodeOptional(kept.before), after: decodeOptional(kept.after) };
}

/** The index of the first key after `after` in `keys` (sorted by compareKeys). */
function firstAfter(keys: readonly string[], after: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(keys[mid] as string, after) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
