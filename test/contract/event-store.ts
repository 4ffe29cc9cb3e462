/**
 * The EventStore contract: one suite every adapter runs (memory, SQLite; PostgreSQL and KurrentDB
 * later). Call it from a test file with a factory that opens a fresh, empty store.
 *
 * @example
 * eventStoreContract('sqlite', async () => {
 *   const dir = await createTempDir();
 *   const store = createSqliteEventStore({ path: dir.path('log.db') });
 *   return { store, cleanup: async () => { await store.close(); await dir.cleanup(); } };
 * });
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import type { AppendOutcome, EventStore, StoredEvent } from '../../src/store/port.js';
import { partitionOf } from '../../src/store/shared/partition.js';
import { collect, makeEvent } from '../support/events.js';

export type StoreFactory<S> = () => Promise<{ store: S; cleanup: () => Promise<void> }>;

export interface EventStoreContractOptions {
  /** fast-check runs per property (each opens a fresh store; keep it modest for slow stores). */
  readonly propertyRuns?: number;
}

const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

export function eventStoreContract(
  name: string,
  factory: StoreFactory<EventStore>,
  options: EventStoreContractOptions = {},
): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('starts empty', async () => {
      expect(await store.head()).toBe(0);
      expect((await collect(store.readAll(0))).events).toEqual([]);
      expect(await store.stats()).toEqual({
        events: 0,
        byType: {},
        duplicates: 0,
        conflicts: 0,
        rejects: 0,
        skipped: {},
        headPosition: 0,
      });
    });

    it('assigns increasing positions and reports them in input order', async () => {
      const first = await store.append([makeEvent('a'), makeEvent('b')]);
      const second = await store.append([makeEvent('c')]);
      const outcomes = [...first, ...second];
      expect(outcomes.map((o) => [o.status, o.id])).toEqual([
        ['stored', 'a'],
        ['stored', 'b'],
        ['stored', 'c'],
      ]);
      const positions = outcomes.map((o) => o.position);
      expect(positions[0]).toBeGreaterThan(0);
      expect([...positions].sort((x, y) => x - y)).toEqual(positions);
      expect(new Set(positions).size).toBe(3);
      expect(await store.head()).toBe(positions[2]);
    });

    it('appending an empty batch stores nothing', async () => {
      expect(await store.append([])).toEqual([]);
      expect(await store.head()).toBe(0);
    });

    it('a repeated id with the same bytes is a duplicate, not stored again', async () => {
      const [stored] = await store.append([makeEvent('a')]);
      const [again] = await store.append([makeEvent('a')]);
      expect(again).toEqual({ status: 'duplicate', id: 'a', position: stored?.position });
      expect(await store.head()).toBe(stored?.position);
      const stats = await store.stats();
      expect(stats).toMatchObject({ events: 1, duplicates: 1, conflicts: 0 });
    });

    it('a repeated id with other bytes is a conflict: the first stays, the second is counted', async () => {
      const [stored] = await store.append([makeEvent('a', { variant: 1 })]);
      const [clash] = await store.append([makeEvent('a', { variant: 2 })]);
      expect(clash).toEqual({ status: 'conflict', id: 'a', position: stored?.position });
      const kept = await store.readEvent('a');
      expect(text(kept?.body)).toBe(text(makeEvent('a', { variant: 1 }).body));
      expect(kept?.data).toEqual({ kind: 'test', id: 'a', variant: 1 });
      expect(await store.stats()).toMatchObject({ events: 1, duplicates: 0, conflicts: 1 });
    });

    it('resolves repeated ids inside one batch against their first occurrence', async () => {
      const outcomes = await store.append([
        makeEvent('a'),
        makeEvent('a'),
        makeEvent('b'),
        makeEvent('a', { variant: 9 }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['stored', 'duplicate', 'stored', 'conflict']);
      expect(outcomes[1]?.position).toBe(outcomes[0]?.position);
      expect(outcomes[3]?.position).toBe(outcomes[0]?.position);
      expect(await store.stats()).toMatchObject({ events: 2, duplicates: 1, conflicts: 1 });
    });

    it('reads everything after a position, in batches, up to a bound', async () => {
      const outcomes = await store.append(Array.from({ length: 25 }, (_, i) => makeEvent(`e${i}`)));
      const positions = outcomes.map((o) => o.position);

      const all = await collect(store.readAll(0, { batchSize: 10 }));
      expect(all.sizes).toEqual([10, 10, 5]);
      expect(all.events.map((e) => e.id)).toEqual(outcomes.map((o) => o.id));
      expect(all.events.map((e) => e.position)).toEqual(positions);

      const after = await collect(store.readAll(positions[4] as number, { batchSize: 7 }));
      expect(after.events.map((e) => e.id)).toEqual(outcomes.slice(5).map((o) => o.id));
      expect(Math.max(...after.sizes)).toBeLessThanOrEqual(7);

      const bounded = await collect(
        store.readAll(positions[2] as number, { upTo: positions[9] as number, batchSize: 4 }),
      );
      expect(bounded.events.map((e) => e.position)).toEqual(positions.slice(3, 10));

      expect((await collect(store.readAll(positions[24] as number))).events).toEqual([]);
    });

    it('returns bodies only when asked, and data as stored', async () => {
      const event = makeEvent('a', { stream: null });
      const [outcome] = await store.append([event]);
      const [plain] = (await collect(store.readAll(0))).events;
      expect(plain).toEqual({
        position: outcome?.position as number,
        id: 'a',
        type: 'integrated_account:active',
        stream: null,
        sourceTime: event.sourceTime,
        data: event.data,
      } satisfies StoredEvent);
      const [withBody] = (await collect(store.readAll(0, { withBody: true }))).events;
      expect(text(withBody?.body)).toBe(text(event.body));
    });

    it('reads one stream in position order; a missing stream is empty', async () => {
      await store.append([
        makeEvent('a1', { stream: 'account:a' }),
        makeEvent('b1', { stream: 'account:b' }),
        makeEvent('a2', { stream: 'account:a' }),
        makeEvent('x', { stream: null }),
        makeEvent('a3', { stream: 'account:a' }),
      ]);
      const a = await collect(store.readStream('account:a', { batchSize: 2 }));
      expect(a.events.map((e) => e.id)).toEqual(['a1', 'a2', 'a3']);
      expect(a.sizes).toEqual([2, 1]);
      const positions = a.events.map((e) => e.position);
      expect([...positions].sort((x, y) => x - y)).toEqual(positions);
      expect((await collect(store.readStream('account:none'))).events).toEqual([]);
      const upTo = await collect(store.readStream('account:a', { upTo: positions[1] as number }));
      expect(upTo.events.map((e) => e.id)).toEqual(['a1', 'a2']);
    });

    it('a read for one partition returns at least its events and those without a stream, in order', async () => {
      // A hint (ReadOptions.partition): PostgreSQL leaves the other partitions' events out, the
      // other stores may not. Either way nothing of the partition is missing or out of order.
      const streams = Array.from({ length: 24 }, (_, i) => `account:s${i}`);
      await store.append([
        ...streams.map((stream, i) => makeEvent(`e${i}`, { stream })),
        makeEvent('none', { stream: null }),
      ]);
      const all = (await collect(store.readAll(0))).events;
      const head = all.at(-1)?.position as number;
      for (const modulo of [1, 3]) {
        for (let remainder = 0; remainder < modulo; remainder++) {
          const mine = (event: StoredEvent) =>
            event.stream === null || partitionOf(event.stream, modulo) === remainder;
          const read = await collect(
            store.readAll(0, { batchSize: 4, upTo: head, partition: { modulo, remainder } }),
          );
          const ids = read.events.map((e) => e.id);
          expect(ids.filter((id) => mine(all.find((e) => e.id === id) as StoredEvent))).toEqual(
            all.filter(mine).map((e) => e.id),
          );
          const positions = read.events.map((e) => e.position);
          expect([...positions].sort((x, y) => x - y)).toEqual(positions);
          expect(new Set(ids).size).toBe(ids.length);
        }
      }
    });

    it('reads one event by id, with its body', async () => {
      const event = makeEvent('a');
      const [outcome] = await store.append([event]);
      const read = await store.readEvent('a');
      expect(read).toMatchObject({
        id: 'a',
        position: outcome?.position,
        type: event.type,
        stream: event.stream,
        data: event.data,
      });
      expect(text(read?.body)).toBe(text(event.body));
      expect(await store.readEvent('missing')).toBeUndefined();
    });

    it('tells listeners the new head after an append, until they unsubscribe', async () => {
      const heads: number[] = [];
      const seen = new Promise<number>((resolve) => {
        const stop = store.onAppend((head) => {
          heads.push(head);
          stop();
          resolve(head);
        });
      });
      const [outcome] = await store.append([makeEvent('a')]);
      expect(await seen).toBe(outcome?.position);
      await store.append([makeEvent('b')]);
      expect(heads).toEqual([outcome?.position]);
    });

    it('a throwing listener breaks neither the append nor other listeners', async () => {
      const stopBad = store.onAppend(() => {
        throw new Error('listener bug');
      });
      const heard = new Promise<number>((resolve) => {
        const stop = store.onAppend((head) => {
          stop();
          resolve(head);
        });
      });
      const [outcome] = await store.append([makeEvent('a')]);
      expect(outcome?.status).toBe('stored');
      expect(await heard).toBe(outcome?.position);
      stopBad();
    });

    it('concurrent appends (group commit) store each distinct id exactly once', async () => {
      // 40 callers at once, ids overlapping between callers: 100 distinct ids in all.
      const calls = Array.from({ length: 40 }, (_, c) =>
        Array.from({ length: 10 }, (_, i) => makeEvent(`id-${(c * 7 + i) % 100}`)),
      );
      const results = await Promise.all(calls.map((batch) => store.append(batch)));
      const outcomes = results.flat();
      const stored = outcomes.filter((o) => o.status === 'stored');
      expect(stored).toHaveLength(100);
      expect(new Set(stored.map((o) => o.id)).size).toBe(100);
      expect(outcomes.filter((o) => o.status === 'conflict')).toEqual([]);
      // Every duplicate points at the position its id was stored at.
      const positionOf = new Map(stored.map((o) => [o.id, o.position]));
      for (const o of outcomes) expect(o.position).toBe(positionOf.get(o.id));
      const { events } = await collect(store.readAll(0));
      expect(events).toHaveLength(100);
      expect(new Set(events.map((e) => e.position)).size).toBe(100);
      expect(await store.stats()).toMatchObject({ events: 100, duplicates: 300, conflicts: 0 });
    });

    it('keeps rejects aside, once per source, reason and body', async () => {
      const body = new TextEncoder().encode('{not json');
      await store.recordReject({
        source: 'import:x.ndjson:3',
        reason: 'invalid_json',
        message: 'bad',
        body,
      });
      await store.recordReject({
        source: 'import:x.ndjson:3',
        reason: 'invalid_json',
        message: 'bad',
        body,
      });
      await store.recordReject({ source: 'http', reason: 'missing_id', message: 'no id', body });
      const stats = await store.stats();
      expect(stats.rejects).toBe(2);
      expect(stats.events).toBe(0);
      expect(await store.head()).toBe(0);
    });

    it('counts stored events by type and skipped reason', async () => {
      await store.append([
        makeEvent('a', { type: 'integrated_account:active' }),
        makeEvent('b', { type: 'integrated_account:active' }),
        makeEvent('c', { type: 'sync_job_run:started' }),
        makeEvent('d', { type: 'mystery:thing', stream: null, skipped: 'unknown_type' }),
        makeEvent('a', { type: 'integrated_account:active' }),
      ]);
      const stats = await store.stats();
      expect(stats).toMatchObject({
        events: 4,
        duplicates: 1,
        byType: { 'integrated_account:active': 2, 'sync_job_run:started': 1, 'mystery:thing': 1 },
        skipped: { unknown_type: 1 },
        headPosition: await store.head(),
      });
    });

    it('refuses appends once closed', async () => {
      await store.close();
      const failure = await store.append([makeEvent('a')]).catch((error: unknown) => error);
      expect(isStoreError(failure) && failure.code).toBe('store_closed');
    });
  });

  describe(`EventStore contract: ${name}: idempotency properties`, () => {
    // An append history: batches of (id, variant) from a small pool so repeats are frequent.
    const history = fc.array(
      fc.array(
        fc.record({ id: fc.integer({ min: 0, max: 7 }), variant: fc.integer({ min: 0, max: 2 }) }),
        {
          minLength: 0,
          maxLength: 6,
        },
      ),
      { minLength: 1, maxLength: 6 },
    );

    it('stores each distinct id once, keeps the first body, and counts duplicates and conflicts', async () => {
      await fc.assert(
        fc.asyncProperty(history, fc.boolean(), async (batches, concurrent) => {
          const { store, cleanup } = await factory();
          try {
            const requests = batches.map((batch) =>
              batch.map(({ id, variant }) => makeEvent(`p${id}`, { variant })),
            );
            // Sequentially, or all at once (then the order between batches is the store's to choose).
            const results: AppendOutcome[][] = concurrent
              ? await Promise.all(requests.map((r) => store.append(r)))
              : await requests.reduce<Promise<AppendOutcome[][]>>(
                  async (acc, r) => [...(await acc), await store.append(r)],
                  Promise.resolve([]),
                );

            const outcomes = results.flat();
            const inputs = batches.flat();
            const stored = outcomes.filter((o) => o.status === 'stored');
            const distinct = new Set(inputs.map((e) => `p${e.id}`));
            expect(stored.length).toBe(distinct.size);
            expect(new Set(stored.map((o) => o.id))).toEqual(distinct);

            // The winner of each id is the input whose outcome is 'stored'; every other input is a
            // duplicate exactly when its bytes equal the winner's.
            const winner = new Map<string, number>();
            outcomes.forEach((o, i) => {
              if (o.status === 'stored') winner.set(o.id, inputs[i]?.variant as number);
            });
            let duplicates = 0;
            let conflicts = 0;
            outcomes.forEach((o, i) => {
              if (o.status === 'stored') return;
              const expected = inputs[i]?.variant === winner.get(o.id) ? 'duplicate' : 'conflict';
              expect(o.status).toBe(expected);
              if (expected === 'duplicate') duplicates += 1;
              else conflicts += 1;
            });
            if (!concurrent) {
              // In sequence the first occurrence wins.
              const first = new Map<string, number>();
              for (const e of inputs) if (!first.has(`p${e.id}`)) first.set(`p${e.id}`, e.variant);
              expect(winner).toEqual(first);
            }

            const { events } = await collect(store.readAll(0, { withBody: true, batchSize: 3 }));
            expect(events.map((e) => e.id).sort()).toEqual([...distinct].sort());
            for (const e of events) {
              expect(text(e.body)).toBe(
                text(makeEvent(e.id, { variant: winner.get(e.id) as number }).body),
              );
            }
            expect(await store.stats()).toMatchObject({
              events: distinct.size,
              duplicates,
              conflicts,
            });
          } finally {
            await cleanup();
          }
        }),
        { numRuns: options.propertyRuns ?? 50 },
      );
    });
  });
}
