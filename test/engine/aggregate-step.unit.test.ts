/**
 * The aggregate step, pure: which group rows a batch's member changes touch, and how each moves
 * its group (a member that changed group leaves one and joins the other; a poisoned group is
 * stalled and named in dead letters; a rebuild fails fast; changes carry before and after).
 */
import { describe, expect, it } from 'vitest';
import {
  aggregateBatch,
  aggregateGroups,
  type AggregateTarget,
} from '../../src/engine/aggregate-step.js';
import { PoisonEventError } from '../../src/engine/errors.js';
import { BLANK_ENTITY, historyKey, type Entity } from '../../src/engine/fold-step.js';
import { defineAggregateProjection, defineProjection } from '../../src/engine/projection.js';

interface Item {
  readonly id: string;
  readonly group: string;
  readonly total: number;
}

const items = defineProjection({
  name: 'items',
  version: 1,
  eventTypes: ['item:scored'],
  keyOf: (event) => (event.payload as { id: string }).id,
  initialState: (id): Item => ({ id, group: '', total: 0 }),
  evolve: (state) => state,
});

const totals = defineAggregateProjection({
  name: 'totals',
  version: 1,
  from: items,
  groupOf: (item) => item.group,
  initialState: (group) => ({ group, items: 0, total: 0 }),
  apply: (state, before, after) => {
    if (after && after.total < 0) throw new Error('negative total');
    return {
      group: state.group,
      items: state.items + (after ? 1 : 0) - (before ? 1 : 0),
      total: state.total + (after?.total ?? 0) - (before?.total ?? 0),
    };
  },
});

const target: AggregateTarget = { projection: totals, name: 'totals', source: 'items' };

const entity = (state: unknown, time: number, position: number, poisoned: string | null = null) =>
  ({
    exists: true,
    state,
    lastTime: time,
    lastId: `e${position}`,
    position,
    poisoned,
  }) satisfies Entity;

/** Committed rows, by storage name then key. */
function lookupOf(rows: Record<string, Record<string, Entity>>) {
  return (name: string, key: string) => rows[name]?.[key] ?? BLANK_ENTITY;
}

const cause = (id: string, position: number) => ({
  id,
  position,
  type: 'item:scored',
  sourceTime: 0,
  stream: '',
  envelope: {},
  payload: null,
  facts: null,
});

describe('aggregateGroups', () => {
  it('names the group a member left and the one it joined', () => {
    const lookup = lookupOf({ items: { a: entity({ id: 'a', group: 'g1', total: 1 }, 1, 1) } });
    const updates = new Map([
      [
        'items',
        new Map([
          ['a', entity({ id: 'a', group: 'g2', total: 1 }, 2, 5)],
          ['b', entity({ id: 'b', group: 'g3', total: 2 }, 2, 6)],
        ]),
      ],
    ]);
    expect(aggregateGroups([target], updates, new Map(), lookup)).toEqual(
      new Map([['totals', new Set(['g1', 'g2', 'g3'])]]),
    );
  });
});

describe('aggregateBatch', () => {
  const before = { id: 'a', group: 'g1', total: 1 };
  const committed = {
    items: { a: entity(before, 1, 1) },
    totals: { g1: entity({ group: 'g1', items: 1, total: 1 }, 1, 1) },
  };

  it('moves one group by a member change, once per member, from its committed state', () => {
    const after = { id: 'a', group: 'g1', total: 4 };
    const out = aggregateBatch({
      targets: [target],
      fold: {
        updates: new Map([
          [
            'items',
            new Map([
              ['a', entity(after, 3, 7)],
              ['b', entity({ id: 'b', group: 'g1', total: 2 }, 2, 6)],
            ]),
          ],
        ]),
        causes: new Map([
          [historyKey('items', 'a'), cause('e7', 7)],
          [historyKey('items', 'b'), cause('e6', 6)],
        ]),
      },
      lookup: lookupOf(committed),
      failFast: false,
      journal: true,
    });
    const row = out.updates.get('totals')?.get('g1');
    expect(row?.state).toEqual({ group: 'g1', items: 2, total: 6 });
    // The latest member event in source order, and the highest position.
    expect(row).toMatchObject({ lastTime: 3, lastId: 'e7', position: 7, poisoned: null });
    expect(out.changes).toEqual([
      {
        projection: 'totals',
        key: 'g1',
        before: { group: 'g1', items: 1, total: 1 },
        after: { group: 'g1', items: 2, total: 6 },
        eventId: 'e6',
        position: 6,
      },
    ]);
  });

  it('a member that changed group leaves the old one (emptied: no row) and joins the new one', () => {
    const out = aggregateBatch({
      targets: [target],
      fold: {
        updates: new Map([['items', new Map([['a', entity({ ...before, group: 'g2' }, 2, 3)]])]]),
        causes: new Map([[historyKey('items', 'a'), cause('e3', 3)]]),
      },
      lookup: lookupOf(committed),
      failFast: false,
      journal: false,
    });
    // Back at its initial state, g1 has no row.
    expect(out.updates.get('totals')?.get('g1')).toMatchObject({ exists: false, state: undefined });
    expect(out.updates.get('totals')?.get('g2')?.state).toEqual({
      group: 'g2',
      items: 1,
      total: 1,
    });
    expect(out.changes).toEqual([]);
  });

  it('a member whose state did not move (a poison event) moves nothing', () => {
    const out = aggregateBatch({
      targets: [target],
      fold: {
        updates: new Map([['items', new Map([['a', { ...committed.items.a, poisoned: 'boom' }]])]]),
        causes: new Map(),
      },
      lookup: lookupOf(committed),
      failFast: false,
      journal: true,
    });
    expect(out.updates.size).toBe(0);
  });

  it('an apply that throws stalls the group and dead-letters its later moves', () => {
    const bad = { id: 'a', group: 'g1', total: -1 };
    const fold = {
      updates: new Map([['items', new Map([['a', entity(bad, 2, 4)]])]]),
      causes: new Map([[historyKey('items', 'a'), cause('e4', 4)]]),
    };
    const out = aggregateBatch({
      targets: [target],
      fold,
      lookup: lookupOf(committed),
      failFast: false,
      journal: true,
    });
    const row = out.updates.get('totals')?.get('g1');
    expect(row?.state).toEqual(committed.totals.g1.state);
    expect(row?.poisoned).toContain('negative total');
    expect(out.deadLetters).toEqual([
      expect.objectContaining({ projection: 'totals', key: 'g1', eventId: 'e4', position: 4 }),
    ]);
    expect(out.changes).toEqual([]);

    const stalled = aggregateBatch({
      targets: [target],
      fold: {
        updates: new Map([['items', new Map([['a', entity({ ...before, total: 9 }, 3, 5)]])]]),
        causes: new Map([[historyKey('items', 'a'), cause('e5', 5)]]),
      },
      lookup: lookupOf({ ...committed, totals: { g1: row as Entity } }),
      failFast: false,
      journal: true,
    });
    expect(stalled.updates.size).toBe(0);
    expect(stalled.deadLetters[0]?.error).toMatch(/stalled/);

    expect(() =>
      aggregateBatch({
        targets: [target],
        fold,
        lookup: lookupOf(committed),
        failFast: true,
        journal: false,
      }),
    ).toThrow(PoisonEventError);
  });
});
