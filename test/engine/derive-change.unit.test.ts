/**
 * A derived group's change from the batch's updates indexed by group (`groupUpdates`), against
 * its definition: the group's committed members, with every update of the batch applied (a
 * member updated in place, moved to another group, deleted; an entity joining), derived.
 * Property-tested over random groups, members and updates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deriveChange,
  groupUpdates,
  type ChangeToJournal,
  type Entity,
} from '../../src/engine/fold-step.js';
import { defineDerivedProjection, defineProjection } from '../../src/engine/projection.js';
import type { StateRow } from '../../src/store/port.js';

interface Item {
  readonly group: string | null;
  readonly value: number;
}

const items = defineProjection({
  name: 'items',
  version: 1,
  eventTypes: ['item:set'],
  keyOf: (event) => event.stream,
  initialState: (): Item => ({ group: null, value: 0 }),
  evolve: (state: Item) => state,
});

const summary = defineDerivedProjection({
  name: 'summary',
  version: 1,
  from: items,
  groupOf: (item: Item) => item.group,
  derive: (group: string, members: readonly Item[]) => ({
    group,
    members: members.length,
    values: members.map((m) => m.value),
  }),
});

/** The definition, written the plain way: apply every update to the committed members. */
function expected(
  group: string,
  committed: readonly StateRow[],
  updated: ReadonlyMap<string, Entity>,
): unknown {
  const after = new Map(committed.map((row) => [row.key, row.state as Item]));
  for (const [key, entity] of updated) {
    const item = entity.state as Item;
    if (entity.exists && item.group === group) after.set(key, item);
    else after.delete(key);
  }
  return summary.derive(
    group,
    [...after.keys()].sort().map((key) => after.get(key) as Item),
  );
}

const GROUPS = ['g1', 'g2', 'g3'];
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const cause: ChangeToJournal = {
  projection: 'items',
  key: 'a',
  before: null,
  after: null,
  eventId: 'evt-1',
  position: 1,
};

const row = (key: string, item: Item): StateRow => ({
  key,
  state: item,
  lastTime: 0,
  lastId: '',
  position: 1,
});
const entity = (item: Item | undefined): Entity => ({
  exists: item !== undefined,
  state: item,
  lastTime: 0,
  lastId: '',
  position: 2,
  poisoned: null,
});

const itemArb = fc.record({
  group: fc.constantFrom<string | null>(...GROUPS, null),
  value: fc.integer({ min: 0, max: 99 }),
});

describe('deriveChange over updates grouped once per batch', () => {
  it('equals the group derived from its committed members with every update applied', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...KEYS), itemArb),
        fc.dictionary(fc.constantFrom(...KEYS), fc.option(itemArb, { nil: undefined })),
        (before, updates) => {
          const updated = new Map(
            Object.entries(updates).map(([key, item]) => [key, entity(item)] as const),
          );
          const grouped = groupUpdates(summary, updated);
          for (const group of GROUPS) {
            const committed = Object.entries(before)
              .filter(([, item]) => item.group === group)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([key, item]) => row(key, item));
            const change = deriveChange(summary, group, cause, committed, grouped);
            const after = expected(group, committed, updated);
            const beforeState =
              committed.length > 0
                ? summary.derive(
                    group,
                    committed.map((r) => r.state as Item),
                  )
                : undefined;
            if (JSON.stringify(beforeState) === JSON.stringify(after)) expect(change).toBeNull();
            else expect(change).toMatchObject({ key: group, after, before: beforeState ?? null });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
