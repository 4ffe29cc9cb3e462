/**
 * Aggregate projections in the engine, on real stores: the persisted summary equals the summary
 * recomputed from its members for any history, arrival order, duplicates and batch cuts (live,
 * after a rebuild, and by `verify`), whether the members refold late events from their streams
 * or are commutative; changes are journalled; a version bump rebuilds it; it cannot time-travel.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { EngineError } from '../../src/engine/errors.js';
import {
  defineAggregateProjection,
  defineDerivedProjection,
  defineProjection,
  type ProjectionEvent,
} from '../../src/engine/projection.js';
import { verifyProjections } from '../../src/engine/verify.js';
import type { EventToAppend } from '../../src/store/port.js';
import { aggregateAll, foldAll } from '../../src/testing/index.js';
import { allStates, storeKinds, type StoreHandle } from '../support/engine.js';

interface Score {
  readonly id: string;
  readonly item: string;
  readonly group: string;
  readonly points: number;
  readonly time: number;
}

const payloadOf = (event: ProjectionEvent) => event.payload as Omit<Score, 'id' | 'time'>;

/** An item's group is its latest event's (order matters: late events refold the item). */
const items = defineProjection({
  name: 'items',
  version: 1,
  eventTypes: ['item:scored'],
  keyOf: (event) => payloadOf(event).item,
  initialState: (id) => ({ id, group: '', total: 0, scores: 0 }),
  evolve: (state, event) => ({
    id: state.id,
    group: payloadOf(event).group,
    total: state.total + payloadOf(event).points,
    scores: state.scores + 1,
  }),
  streamOf: (key) => `item:${key}`,
});

/**
 * A tally per item that does not depend on order: folded on top of late events. Unpublished:
 * only the aggregate over it journals changes.
 */
const tallies = defineProjection({
  name: 'tallies',
  version: 1,
  eventTypes: ['item:scored'],
  commutative: true,
  publish: false,
  keyOf: (event) => payloadOf(event).item,
  initialState: (id) => ({ id, scores: 0, best: 0, latest: 0 }),
  evolve: (state, event) => ({
    id: state.id,
    scores: state.scores + 1,
    best: Math.max(state.best, payloadOf(event).points),
    latest: Math.max(state.latest, event.sourceTime),
  }),
});

const byGroup = (version = 1) =>
  defineAggregateProjection({
    name: 'groups',
    version,
    from: items,
    groupOf: (item) => item.group,
    initialState: (group) => ({ group, items: 0, total: 0, scores: 0 }),
    apply: (state, before, after) => ({
      group: state.group,
      items: state.items + Number(after !== undefined) - Number(before !== undefined),
      total: state.total + (after?.total ?? 0) - (before?.total ?? 0),
      scores: state.scores + (after?.scores ?? 0) - (before?.scores ?? 0),
    }),
  });

const overall = defineAggregateProjection({
  name: 'overall',
  version: 1,
  from: tallies,
  groupOf: () => 'all',
  initialState: () => ({ items: 0, scores: 0, latest: 0 }),
  apply: (state, before, after) => ({
    items: state.items + Number(after !== undefined) - Number(before !== undefined),
    scores: state.scores + (after?.scores ?? 0) - (before?.scores ?? 0),
    latest: Math.max(state.latest, after?.latest ?? 0),
  }),
});

const projections = [items, byGroup(), tallies, overall] as const;

const toAppend = (score: Score): EventToAppend => ({
  id: score.id,
  type: 'item:scored',
  stream: `item:${score.item}`,
  sourceTime: score.time,
  data: null,
  body: new TextEncoder().encode(
    JSON.stringify({ item: score.item, group: score.group, points: score.points }),
  ),
});

/** The events as reducers see them (the reference fold needs no store). */
const asEvents = (scores: readonly Score[]): ProjectionEvent[] =>
  scores.map((score, i) => ({
    position: i + 1,
    id: score.id,
    type: 'item:scored',
    sourceTime: score.time,
    stream: `item:${score.item}`,
    envelope: {},
    payload: { item: score.item, group: score.group, points: score.points },
    facts: null,
  }));

const scoreArbitrary = fc.record({
  item: fc.constantFrom('i1', 'i2', 'i3', 'i4'),
  group: fc.constantFrom('g1', 'g2', 'g3'),
  points: fc.integer({ min: 0, max: 9 }),
  time: fc.integer({ min: 0, max: 6 }),
});

const history = fc
  .array(scoreArbitrary, { minLength: 1, maxLength: 25 })
  .map((drafts) => drafts.map((d, i): Score => ({ ...d, id: `e${String(i).padStart(2, '0')}` })))
  .chain((scores) =>
    fc.record({
      scores: fc.constant(scores),
      // Arrival: shuffled, with re-deliveries; a catch-up after some of them.
      order: fc
        .shuffledSubarray(scores, { minLength: scores.length, maxLength: scores.length })
        .chain((shuffled) =>
          fc
            .array(fc.constantFrom(...scores), { maxLength: 4 })
            .map((again) => [...shuffled, ...again]),
        ),
      cuts: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
      batchSize: fc.integer({ min: 1, max: 6 }),
    }),
  );

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function open(kind: string): StoreHandle {
  const handle = (storeKinds[kind] as () => StoreHandle)();
  cleanups.push(() => handle.cleanup());
  return handle;
}

describe.each(Object.keys(storeKinds))('aggregate projections (%s store)', (kind) => {
  it('equal the summary recomputed from their members, live, rebuilt and verified', async () => {
    await fc.assert(
      fc.asyncProperty(history, async ({ scores, order, cuts, batchSize }) => {
        const handle = (storeKinds[kind] as () => StoreHandle)();
        const engine = await createEngine({
          store: handle.store,
          projections,
          live: false,
          batchSize,
        });
        try {
          for (const [i, score] of order.entries()) {
            await engine.append([toAppend(score)]);
            if (cuts[i]) await engine.catchUp();
          }
          const head = await engine.catchUp();
          const events = asEvents(scores);
          const expectedGroups = [...aggregateAll(byGroup(), foldAll(items, events)).values()];
          const expectedOverall = [...aggregateAll(overall, foldAll(tallies, events)).values()];
          expect(await allStates(engine, 'groups')).toEqual(expectedGroups);
          expect(await allStates(engine, 'overall')).toEqual(expectedOverall);
          expect(await allStates(engine, 'tallies')).toEqual([
            ...foldAll(tallies, events).values(),
          ]);
          const report = await verifyProjections({
            store: handle.store,
            projectionStore: handle.store.projections,
            projections,
            upTo: head,
          });
          expect(report.differences).toEqual([]);
          await engine.rebuild(['groups']);
          expect(await allStates(engine, 'groups')).toEqual(expectedGroups);
        } finally {
          await engine.close();
          await handle.cleanup();
        }
      }),
      { numRuns: kind === 'memory' ? 100 : 25 },
    );
  });

  it('journals its changes, counts and lists its rows, and cannot time-travel', async () => {
    const handle = open(kind);
    const engine = await createEngine({ store: handle.store, projections, live: false });
    cleanups.push(() => engine.close());
    const seen: unknown[] = [];
    const subscription = engine.changesOf('groups').subscribe((change) => seen.push(change));
    const published = new Set<string>();
    const all = engine.changes$.subscribe((change) => published.add(change.projection));
    await engine.append([
      toAppend({ id: 'a', item: 'i1', group: 'g1', points: 2, time: 1 }),
      toAppend({ id: 'b', item: 'i2', group: 'g1', points: 3, time: 2 }),
    ]);
    await engine.catchUp();
    // The item moves to g2: it leaves g1 and joins g2.
    await engine.append([toAppend({ id: 'c', item: 'i1', group: 'g2', points: 1, time: 3 })]);
    await engine.catchUp();
    subscription.unsubscribe();
    all.unsubscribe();
    // `tallies` is not published; the aggregate over it is.
    expect([...published].sort()).toEqual(['groups', 'items', 'overall']);
    expect(() => engine.changesOf('tallies')).toThrow(/publishes no changes/);
    expect(() => engine.watch('tallies', 'i1')).toThrow(/publishes no changes/);
    expect(await engine.get('tallies', 'i1')).toMatchObject({ scores: 2 });
    expect(await engine.get('groups', 'g1')).toEqual({
      group: 'g1',
      items: 1,
      total: 3,
      scores: 1,
    });
    expect(await engine.get('groups', 'g2')).toEqual({
      group: 'g2',
      items: 1,
      total: 3,
      scores: 2,
    });
    expect(await engine.count('groups')).toBe(2);
    expect(seen).toEqual([
      expect.objectContaining({
        kind: 'change',
        key: 'g1',
        before: undefined,
        after: { group: 'g1', items: 2, total: 5, scores: 2 },
      }),
      expect.objectContaining({
        key: 'g1',
        before: { group: 'g1', items: 2, total: 5, scores: 2 },
        after: { group: 'g1', items: 1, total: 3, scores: 1 },
        eventId: 'c',
      }),
      expect.objectContaining({ key: 'g2', before: undefined, eventId: 'c' }),
    ]);
    await expect(engine.stateAt('groups', 'g1', { position: 1 })).rejects.toMatchObject({
      code: 'not_supported',
    });
    await expect(engine.stateAt('groups', 'g1', { position: 1 })).rejects.toBeInstanceOf(
      EngineError,
    );
    expect((await engine.stats()).projections.find((p) => p.name === 'groups')).toMatchObject({
      kind: 'aggregate',
      entities: 2,
      lag: 0,
    });
  });
});

describe('aggregate registration', () => {
  it('refuses an aggregate without a stream source before it, and a derived one over an unpublished source', async () => {
    const handle = open('memory');
    await expect(
      createEngine({ store: handle.store, projections: [byGroup()], live: false }),
    ).rejects.toThrow(/aggregate projection "groups" reads "items"/);
    const derived = defineDerivedProjection({
      name: 'tally-count',
      version: 1,
      from: tallies,
      groupOf: () => 'all',
      derive: (_, members) => members.length,
    });
    await expect(
      createEngine({ store: handle.store, projections: [tallies, derived], live: false }),
    ).rejects.toThrow(/publishes no changes/);
  });
});

describe('aggregate versions', () => {
  it('a version bump rebuilds the aggregate with its source on start', async () => {
    const handle = open('sqlite');
    const reopen = handle.reopen as NonNullable<StoreHandle['reopen']>;
    const first = await createEngine({ store: handle.store, projections, live: false });
    await first.append([
      toAppend({ id: 'a', item: 'i1', group: 'g1', points: 2, time: 1 }),
      toAppend({ id: 'b', item: 'i2', group: 'g1', points: 3, time: 2 }),
    ]);
    await first.catchUp();
    await first.close();

    // Version 2 counts differently: its rows must be made by it from the whole log.
    const doubled = {
      ...byGroup(2),
      apply: (
        state: { group: string; items: number; total: number; scores: number },
        before: { total: number } | undefined,
        after: { total: number } | undefined,
      ) => ({ ...state, total: state.total + 2 * ((after?.total ?? 0) - (before?.total ?? 0)) }),
    };
    const second = await createEngine({
      store: reopen(),
      projections: [items, doubled] as const,
      live: false,
    });
    cleanups.push(() => second.close());
    expect(await second.get('groups', 'g1')).toEqual({
      group: 'g1',
      items: 0,
      total: 10,
      scores: 0,
    });
    await second.append([toAppend({ id: 'c', item: 'i3', group: 'g1', points: 1, time: 3 })]);
    await second.catchUp();
    expect(await second.get('groups', 'g1')).toMatchObject({ total: 12 });
  });
});
