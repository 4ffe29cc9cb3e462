/**
 * A batch folded in source order per entity (sourceOrdered, which skips the stream re-reads of
 * deliveries late within the batch) answers exactly what the same batch folded in log order
 * answers: the same states, the same journalled changes in the same order, blamed on the same
 * events, and the same causes for derived and aggregate projections. So does the batch folded a
 * page at a time into one pending fold (what a far-behind run commits at once).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLANK_ENTITY,
  finishFold,
  foldBatch,
  foldPage,
  historyKey,
  historyReads,
  pendingLookup,
  planBatch,
  sourceOrdered,
  startFold,
  type Entity,
  type FoldOutput,
  type WorkItem,
} from '../../src/engine/fold-step.js';
import {
  defineProjection,
  type AnyStreamProjection,
  type ProjectionEvent,
} from '../../src/engine/projection.js';

/** Order-sensitive on purpose: the ids in the order folded, so any misordering shows. */
const trail = defineProjection({
  name: 'trail',
  version: 1,
  eventTypes: ['thing:happened'],
  keyOf: (event) => event.stream,
  initialState: () => [] as string[],
  evolve: (ids: string[], event) => [...ids, event.id],
});
/** A second projection over the same events: one event touches two entities. */
const count = defineProjection({
  name: 'count',
  version: 1,
  eventTypes: ['thing:happened'],
  keyOf: (event) => `n:${event.stream}`,
  initialState: () => 0,
  evolve: (n: number) => n + 1,
});
const projections = new Map<AnyStreamProjection, string>([
  [trail as AnyStreamProjection, 'trail'],
  [count as AnyStreamProjection, 'count'],
]);

function event(position: number, stream: string, sourceTime: number): ProjectionEvent {
  return {
    position,
    id: `e${position}`,
    type: 'thing:happened',
    sourceTime,
    stream,
    envelope: {} as ProjectionEvent['envelope'],
    payload: null,
    facts: null,
  };
}

/** Stored states before the batch: each entity's earlier events, folded in source order. */
function storedBefore(earlier: readonly ProjectionEvent[]): Map<string, Entity> {
  const entities = new Map<string, Entity>();
  const sorted = [...earlier].sort((a, b) => a.sourceTime - b.sourceTime || (a.id < b.id ? -1 : 1));
  for (const e of sorted) {
    for (const [projection, name] of projections) {
      const key = projection.keyOf(e) as string;
      const id = historyKey(name, key);
      const entity = entities.get(id);
      const state = projection.evolve(
        (entity?.state ?? projection.initialState(key)) as never,
        e as never,
      );
      entities.set(id, {
        exists: true,
        state,
        lastTime: e.sourceTime,
        lastId: e.id,
        position: Math.max(entity?.position ?? 0, e.position),
        poisoned: null,
      });
    }
  }
  return entities;
}

function readHistories(
  work: readonly WorkItem[],
  lookup: (name: string, key: string) => Entity,
  all: ProjectionEvent[],
): Map<string, ProjectionEvent[]> {
  const histories = new Map<string, ProjectionEvent[]>();
  for (const read of historyReads(work, lookup, (_p, _k, e) => e.stream)) {
    histories.set(
      historyKey(read.name, read.key),
      all.filter((e) => e.stream === read.stream && e.position <= read.upTo),
    );
  }
  return histories;
}

function fold(work: readonly WorkItem[], stored: Map<string, Entity>, all: ProjectionEvent[]) {
  const lookup = (name: string, key: string) => stored.get(historyKey(name, key)) ?? BLANK_ENTITY;
  return foldBatch({
    work,
    lookup,
    histories: readHistories(work, lookup, all),
    failFast: false,
    journal: true,
    handles: () => true,
  });
}

const comparable = (out: FoldOutput) => ({
  updates: [...out.updates].map(([name, entities]) => [name, [...entities].sort()]).sort(),
  changes: out.changes,
  causes: [...out.causes].map(([id, e]) => [id, e.id]),
  deadLetters: out.deadLetters,
});

/**
 * A log of events over three streams, cut in two: the states stored from before the cut, and
 * the batch after it.
 */
const batchArbitrary = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 1, max: 30 })), {
      minLength: 1,
      maxLength: 40,
    }),
    fc.integer({ min: 0, max: 40 }),
  )
  .map(([spec, split]) => {
    const all = spec.map(([stream, time], i) => event(i + 1, stream, time * 10 + (i % 7)));
    const cut = Math.min(split, all.length - 1);
    return {
      all,
      stored: storedBefore(all.slice(0, cut)),
      batch: all.slice(cut),
      checkpointOf: () => cut,
    };
  });

describe('folding a batch in source order per entity', () => {
  it('answers what folding it in log order answers', () => {
    fc.assert(
      fc.property(batchArbitrary, ({ all, stored, batch, checkpointOf }) => {
        const planned = planBatch(batch, projections, checkpointOf, () => true);
        const lookup = (name: string, key: string) =>
          stored.get(historyKey(name, key)) ?? BLANK_ENTITY;
        const inLog = fold(planned, stored, all);
        const bySource = fold(sourceOrdered(planned, lookup), stored, all);
        expect(comparable(bySource)).toEqual(comparable(inLog));
      }),
      { numRuns: 300 },
    );
  });

  it('answers the same folded a page at a time into one pending fold', () => {
    fc.assert(
      fc.property(
        batchArbitrary,
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
        ({ all, stored, batch, checkpointOf }, pageSizes) => {
          const committed = (name: string, key: string) =>
            stored.get(historyKey(name, key)) ?? BLANK_ENTITY;
          const whole = fold(
            sourceOrdered(
              planBatch(batch, projections, checkpointOf, () => true),
              committed,
            ),
            stored,
            all,
          );

          // As the runner folds a page: planned against the pending fold's states.
          const pending = startFold();
          for (let at = 0, p = 0; at < batch.length; p++) {
            const size = pageSizes[p % pageSizes.length] as number;
            const page = batch.slice(at, at + size);
            at += size;
            const lookup = pendingLookup(pending, committed);
            const work = sourceOrdered(
              planBatch(page, projections, checkpointOf, () => true),
              lookup,
            );
            foldPage(pending, {
              work,
              lookup: committed,
              histories: readHistories(work, lookup, all),
              failFast: false,
              handles: () => true,
            });
          }
          expect(comparable(finishFold(pending, true))).toEqual(comparable(whole));
        },
      ),
      { numRuns: 300 },
    );
  });
});
