/**
 * The ProjectionStore contract: states, checkpoints, dead letters and the change journal, run
 * against every adapter that holds projected state.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ChangeRecord,
  DeadLetter,
  ProjectionCommit,
  ProjectionStore,
  StateRow,
} from '../../src/store/port.js';
import type { StoreFactory } from './event-store.js';

const row = (key: string, state: unknown, position = 1): StateRow => ({
  key,
  state,
  lastTime: 1_700_000_000_000 + position,
  lastId: `evt-${position}`,
  position,
  poisoned: null,
  group: null,
});

const empty: ProjectionCommit = { checkpoints: [], states: [], deadLetters: [], changes: [] };

/** The journalled changes of a commit that must succeed. */
async function committed(store: ProjectionStore, batch: ProjectionCommit) {
  const result = await store.commit(batch);
  if (!result.ok) throw new Error(`commit refused: ${result.reason}: ${result.message}`);
  return result.changes;
}

const letter = (projection: string, eventId: string, position: number): DeadLetter => ({
  projection,
  key: `k-${eventId}`,
  eventId,
  position,
  error: `reducer threw on ${eventId}`,
});

export function projectionStoreContract(
  name: string,
  factory: StoreFactory<ProjectionStore>,
): void {
  describe(`ProjectionStore contract: ${name}`, () => {
    let store: ProjectionStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    async function put(projection: string, rows: StateRow[]): Promise<void> {
      await store.commit({ ...empty, states: rows.map((r) => ({ projection, row: r })) });
    }

    it('commits states, checkpoint, dead letters and changes together', async () => {
      expect(await store.readCheckpoint('accounts')).toBeUndefined();
      const changes = await committed(store, {
        checkpoints: [{ name: 'accounts', position: 7, version: 2 }],
        states: [
          { projection: 'accounts', row: row('a', { status: 'active' }, 5) },
          {
            projection: 'accounts',
            row: { ...row('b', { status: 'broken' }, 6), poisoned: 'reducer threw' },
          },
        ],
        deadLetters: [letter('accounts', 'e6', 6)],
        changes: [
          {
            projection: 'accounts',
            key: 'a',
            before: undefined,
            after: { status: 'active' },
            eventId: 'e5',
            position: 5,
          },
          {
            projection: 'accounts',
            key: 'a',
            before: { status: 'active' },
            after: { status: 'x' },
            eventId: 'e7',
            position: 7,
          },
        ],
      });
      expect(changes.map((c) => c.seq)).toEqual([changes[0]?.seq, (changes[0]?.seq as number) + 1]);
      expect(changes[0]).toMatchObject({
        key: 'a',
        before: undefined,
        after: { status: 'active' },
        eventId: 'e5',
      });
      expect(await store.readCheckpoint('accounts')).toEqual({
        name: 'accounts',
        position: 7,
        version: 2,
      });
      const states = await store.readStates('accounts', ['a', 'b', 'missing']);
      expect([...states.keys()].sort()).toEqual(['a', 'b']);
      expect(states.get('a')).toEqual(row('a', { status: 'active' }, 5));
      expect(states.get('b')?.poisoned).toBe('reducer threw');
      expect(await store.readDeadLetters('accounts')).toEqual([letter('accounts', 'e6', 6)]);
      expect(await store.readChanges(0)).toEqual(changes);
      expect(await store.lastChangeSeq()).toBe(changes[1]?.seq);
    });

    it('a commit whose expected checkpoint moved writes nothing and answers checkpoint_moved', async () => {
      await committed(store, {
        ...empty,
        checkpoints: [{ name: 'accounts', position: 4, version: 1 }],
      });
      const refused = await store.commit({
        ...empty,
        checkpoints: [{ name: 'accounts', position: 9, version: 1 }],
        expected: [{ name: 'accounts', position: 2 }],
        states: [{ projection: 'accounts', row: row('late', { n: 1 }, 9) }],
        changes: [
          {
            projection: 'accounts',
            key: 'late',
            before: null,
            after: { n: 1 },
            eventId: 'e9',
            position: 9,
          },
        ],
      });
      expect(refused).toMatchObject({ ok: false, reason: 'checkpoint_moved' });
      expect((await store.readCheckpoint('accounts'))?.position).toBe(4);
      expect((await store.readStates('accounts', ['late'])).size).toBe(0);
      expect(await store.readChanges(0)).toEqual([]);
      const accepted = await store.commit({
        ...empty,
        checkpoints: [{ name: 'accounts', position: 9, version: 1 }],
        expected: [{ name: 'accounts', position: 4 }],
      });
      expect(accepted.ok).toBe(true);
      expect((await store.readCheckpoint('accounts'))?.position).toBe(9);
    });

    it('a batch that cannot be stored leaves nothing behind', async () => {
      await store.commit({
        ...empty,
        checkpoints: [{ name: 'accounts', position: 1, version: 1 }],
      });
      const bad = store.commit({
        checkpoints: [{ name: 'accounts', position: 9, version: 1 }],
        states: [{ projection: 'accounts', row: row('a', { n: 1n }) }],
        deadLetters: [letter('accounts', 'e9', 9)],
        changes: [
          {
            projection: 'accounts',
            key: 'a',
            before: undefined,
            after: { n: 1 },
            eventId: 'e9',
            position: 9,
          },
        ],
      });
      await expect(bad).rejects.toThrow();
      expect(await store.readCheckpoint('accounts')).toEqual({
        name: 'accounts',
        position: 1,
        version: 1,
      });
      expect((await store.readStates('accounts', ['a'])).size).toBe(0);
      expect(await store.readDeadLetters()).toEqual([]);
      expect(await store.readChanges(0)).toEqual([]);
    });

    it('overwrites a state and a checkpoint on a later commit', async () => {
      await store.commit({
        ...empty,
        checkpoints: [{ name: 'p', position: 1, version: 1 }],
        states: [{ projection: 'p', row: row('a', { v: 1 }, 1) }],
      });
      await store.commit({
        ...empty,
        checkpoints: [{ name: 'p', position: 3, version: 1 }],
        states: [{ projection: 'p', row: row('a', { v: 2 }, 3) }],
      });
      expect(await store.readCheckpoint('p')).toEqual({ name: 'p', position: 3, version: 1 });
      expect((await store.readStates('p', ['a'])).get('a')).toEqual(row('a', { v: 2 }, 3));
      expect(await store.countStates('p')).toBe(1);
    });

    it('a commit marked not durable (a rebuild shadow batch) is stored and read like any other', async () => {
      await store.commit({
        ...empty,
        durable: false,
        checkpoints: [{ name: 'p', position: 2, version: 1 }],
        states: [{ projection: 'p', row: row('a', { v: 1 }, 2) }],
      });
      expect(await store.readCheckpoint('p')).toEqual({ name: 'p', position: 2, version: 1 });
      expect((await store.readStates('p', ['a'])).get('a')).toEqual(row('a', { v: 1 }, 2));
      // The next (durable) commit goes on from it.
      await store.commit({
        ...empty,
        expected: [{ name: 'p', position: 2 }],
        checkpoints: [{ name: 'p', position: 3, version: 1 }],
        states: [{ projection: 'p', row: row('b', { v: 2 }, 3) }],
      });
      expect(await store.countStates('p')).toBe(2);
    });

    it('lists states sorted by key, paged with afterKey and limit', async () => {
      const keys = ['m', 'b', 'zz', 'a', 'é', '😀', 'B', 'a2'];
      await put(
        'p',
        keys.map((k, i) => row(k, { i }, i + 1)),
      );
      await put('other', [row('c', {})]);
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect((await store.listStates('p')).map((r) => r.key)).toEqual(sorted);
      const page1 = await store.listStates('p', { limit: 3 });
      const page2 = await store.listStates('p', {
        limit: 3,
        afterKey: page1.at(-1)?.key as string,
      });
      const page3 = await store.listStates('p', {
        limit: 3,
        afterKey: page2.at(-1)?.key as string,
      });
      expect([...page1, ...page2, ...page3].map((r) => r.key)).toEqual(sorted);
      expect(await store.listStates('p', { limit: 0 })).toEqual([]);
      expect(await store.listStates('nothing')).toEqual([]);
    });

    it('pages through states in key order while keys come and go between pages', async () => {
      // Lowercase letters only: every adapter's collation agrees on their order.
      const key = fc.stringMatching(/^[a-z]{1,4}$/);
      const step = fc.oneof(
        fc.record({
          kind: fc.constant('put' as const),
          keys: fc.array(key, { minLength: 1, maxLength: 4 }),
          group: fc.constantFrom('g1', 'g2', null),
        }),
        fc.record({
          kind: fc.constant('page' as const),
          limit: fc.integer({ min: 1, max: 4 }),
          group: fc.constantFrom('g1', 'g2', undefined),
        }),
        fc.record({ kind: fc.constant('clear' as const) }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
          const projection = `paged-${run++}`;
          const model = new Map<string, { v: number; group: string | null }>();
          let cursor: string | undefined;
          let version = 0;
          for (const s of steps) {
            if (s.kind === 'put') {
              version++;
              const rows = [...new Set(s.keys)].map((k) => ({
                ...row(k, { v: version }),
                group: s.group,
              }));
              await put(projection, rows);
              for (const r of rows) model.set(r.key, { v: version, group: s.group });
            } else if (s.kind === 'clear') {
              await store.clearProjection(projection);
              model.clear();
            } else {
              const page = await store.listStates(projection, {
                limit: s.limit,
                ...(cursor === undefined ? {} : { afterKey: cursor }),
                ...(s.group === undefined ? {} : { group: s.group }),
              });
              const expected = [...model]
                .filter(
                  ([k, m]) =>
                    (cursor === undefined || k > cursor) &&
                    (s.group === undefined || m.group === s.group),
                )
                .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                .slice(0, s.limit)
                .map(([k, m]) => [k, m.v]);
              expect(page.map((r) => [r.key, (r.state as { v: number }).v])).toEqual(expected);
              cursor = page.at(-1)?.key;
            }
          }
          const all = await store.listStates(projection);
          expect(all.map((r) => r.key)).toEqual([...model.keys()].sort());
        }),
        { numRuns: 40 },
      );
    });

    it('finds the members of a group, sorted by key, and moves a row between groups', async () => {
      const member = (key: string, group: string | null): StateRow => ({
        ...row(key, { key }),
        group,
      });
      await put('runs', [
        member('r3', 'acc-1'),
        member('r1', 'acc-1'),
        member('r2', 'acc-2'),
        member('r4', null),
      ]);
      await put('other', [member('r9', 'acc-1')]);
      const keys = async (group: string) =>
        (await store.listStates('runs', { group })).map((r) => [r.key, r.group]);
      expect(await keys('acc-1')).toEqual([
        ['r1', 'acc-1'],
        ['r3', 'acc-1'],
      ]);
      expect(await keys('acc-2')).toEqual([['r2', 'acc-2']]);
      await put('runs', [member('r3', 'acc-2')]);
      expect(await keys('acc-1')).toEqual([['r1', 'acc-1']]);
      expect(await keys('acc-2')).toEqual([
        ['r2', 'acc-2'],
        ['r3', 'acc-2'],
      ]);
      expect(
        await store.listStates('runs', { group: 'acc-2', limit: 1, afterKey: 'r2' }),
      ).toHaveLength(1);
    });

    it('filters on top-level fields by JSON type and value', async () => {
      await put('p', [
        row('s', { status: 'active', n: 1, flag: true, gone: null }),
        row('t', { status: 'active', n: '1', flag: false }),
        row('u', { status: 'needs_reauth', n: 1.5, flag: 1, gone: 'here' }),
        row('v', { status: 'active', n: 1, flag: 'true', nested: { status: 'x' } }),
      ]);
      const keys = async (where: Record<string, string | number | boolean | null>) =>
        (await store.listStates('p', { where })).map((r) => r.key);
      expect(await keys({ status: 'active' })).toEqual(['s', 't', 'v']);
      expect(await keys({ n: 1 })).toEqual(['s', 'v']);
      expect(await keys({ n: '1' })).toEqual(['t']);
      expect(await keys({ n: 1.5 })).toEqual(['u']);
      expect(await keys({ flag: true })).toEqual(['s']);
      expect(await keys({ flag: false })).toEqual(['t']);
      expect(await keys({ flag: 1 })).toEqual(['u']);
      // null matches an explicit null or an absent field.
      expect(await keys({ gone: null })).toEqual(['s', 't', 'v']);
      expect(await keys({ status: 'active', n: 1 })).toEqual(['s', 'v']);
      expect(await keys({ status: 'x' })).toEqual([]);
      expect(await store.countStates('p', { status: 'active' })).toBe(3);
      expect(await store.countStates('p')).toBe(4);
      expect(
        (await store.listStates('p', { where: { status: 'active' }, afterKey: 's', limit: 1 })).map(
          (r) => r.key,
        ),
      ).toEqual(['t']);
    });

    it('swaps a shadow into the live projection atomically', async () => {
      await store.commit({
        checkpoints: [{ name: 'live', position: 10, version: 1 }],
        states: [
          { projection: 'live', row: row('old', { v: 'old' }) },
          { projection: 'live', row: row('both', { v: 'old' }) },
        ],
        deadLetters: [letter('live', 'e1', 1)],
        changes: [],
      });
      await store.commit({
        checkpoints: [{ name: 'shadow', position: 12, version: 2 }],
        states: [
          { projection: 'shadow', row: row('both', { v: 'new' }) },
          { projection: 'shadow', row: row('new', { v: 'new' }) },
        ],
        deadLetters: [letter('shadow', 'e2', 2)],
        changes: [],
      });
      const before = await store.lastChangeSeq();
      const reset = {
        projection: 'live',
        key: '',
        before: null,
        after: null,
        eventId: '',
        position: 12,
      };
      // The resets are journalled in the swap's own transaction, answered with their seqs.
      const journalled = await store.swapProjections([{ shadow: 'shadow', live: 'live' }], [reset]);
      expect(journalled).toEqual([{ ...reset, seq: before + 1 }]);
      expect(await store.readChanges(before)).toEqual(journalled);
      expect(await store.lastChangeSeq()).toBe(before + 1);
      expect((await store.listStates('live')).map((r) => [r.key, r.state])).toEqual([
        ['both', { v: 'new' }],
        ['new', { v: 'new' }],
      ]);
      expect(await store.readCheckpoint('live')).toEqual({
        name: 'live',
        position: 12,
        version: 2,
      });
      expect(await store.readDeadLetters('live')).toEqual([letter('live', 'e2', 2)]);
      expect(await store.readCheckpoint('shadow')).toBeUndefined();
      expect(await store.readDeadLetters('shadow')).toEqual([]);
      // The shadow may still hold the replaced states: clearing it leaves the live ones be.
      await store.clearProjection('shadow');
      expect(await store.listStates('shadow')).toEqual([]);
      expect((await store.listStates('live')).map((r) => r.key)).toEqual(['both', 'new']);
      expect(await store.readCheckpoint('live')).toMatchObject({ position: 12 });
    });

    it('reads and writes the swapped-in states, swap after swap, and never another projection’s', async () => {
      const member = (key: string, v: string, group: string | null): StateRow => ({
        ...row(key, { v }),
        group,
      });
      const seen = async (projection: string) =>
        (await store.listStates(projection)).map((r) => [r.key, (r.state as { v: string }).v]);
      const swap = () => store.swapProjections([{ shadow: 'shadow', live: 'live' }], []);
      await put('other', [member('a', 'other', 'g1')]);
      await put('live', [member('a', 'gen0', 'g1'), member('b', 'gen0', 'g2')]);

      for (let generation = 1; generation <= 3; generation++) {
        const v = `gen${generation}`;
        // A rebuild writes its shadow beside the live state, which keeps taking commits.
        await put('shadow', [member('b', v, 'g1'), member(`c${generation}`, v, 'g2')]);
        await put('live', [member('z', 'late', 'g2')]);
        expect(await seen('live')).toContainEqual(['z', 'late']);
        await swap();
        // As a rebuild does: the shadow may hold the replaced states until cleared.
        await store.clearProjection('shadow');

        expect(await seen('live')).toEqual([
          ['b', v],
          [`c${generation}`, v],
        ]);
        expect(await seen('shadow')).toEqual([]);
        expect(await store.countStates('shadow')).toBe(0);
        expect(await store.countStates('live')).toBe(2);
        expect(await store.countStates('live', { v })).toBe(2);
        const read = await store.readStates('live', ['a', 'b', `c${generation}`, 'z']);
        expect([...read.keys()].sort()).toEqual(['b', `c${generation}`]);
        expect((await store.listStates('live', { group: 'g1' })).map((r) => r.key)).toEqual(['b']);
        expect(await store.countGroups?.('live')).toBe(2);
        // Written after the swap, under the live name: it lands beside the swapped-in rows.
        await put('live', [member('b', `${v}+`, 'g1')]);
        expect((await store.readStates('live', ['b'])).get('b')?.state).toEqual({ v: `${v}+` });
        expect(await seen('shadow')).toEqual([]);
      }
      expect(await seen('other')).toEqual([['a', 'other']]);
      await store.clearProjection('live');
      expect(await seen('live')).toEqual([]);
      expect(await seen('other')).toEqual([['a', 'other']]);
    });

    it('keeps partition checkpoints as rows of their projection: swapped, cleared, compared with it', async () => {
      const cp = (name: string, partition: number | undefined, position: number) => ({
        name,
        ...(partition === undefined ? {} : { partition }),
        position,
        version: 1,
      });
      await committed(store, {
        ...empty,
        checkpoints: [
          cp('live', 0, 3),
          cp('live', 1, 4),
          cp('live', 10, 5),
          cp('live', undefined, 6),
          cp('liver', 0, 9),
          cp('shadow', 0, 20),
          cp('shadow', 1, 21),
        ],
      });
      expect(await store.readCheckpoint('live', 1)).toEqual(cp('live', 1, 4));
      expect(await store.readCheckpoint('live')).toEqual(cp('live', undefined, 6));
      expect(await store.readCheckpoint('live', 2)).toBeUndefined();
      // Compare-and-set is per partition: another partition's position is not this one's.
      const refused = await store.commit({
        ...empty,
        checkpoints: [cp('live', 1, 7)],
        expected: [{ name: 'live', partition: 1, position: 3 }],
      });
      expect(refused).toMatchObject({ ok: false, reason: 'checkpoint_moved' });
      const accepted = await store.commit({
        ...empty,
        checkpoints: [cp('live', 1, 7)],
        expected: [{ name: 'live', partition: 1, position: 4 }],
      });
      expect(accepted.ok).toBe(true);
      if (store.listCheckpoints) {
        expect((await store.listCheckpoints()).filter((c) => c.name === 'live')).toEqual([
          cp('live', undefined, 6),
          cp('live', 0, 3),
          cp('live', 1, 7),
          cp('live', 10, 5),
        ]);
      }

      await store.swapProjections([{ shadow: 'shadow', live: 'live' }], []);
      expect(await store.readCheckpoint('live', 0)).toEqual(cp('live', 0, 20));
      expect(await store.readCheckpoint('live', 1)).toEqual(cp('live', 1, 21));
      expect(await store.readCheckpoint('live', 10)).toBeUndefined();
      expect(await store.readCheckpoint('live')).toBeUndefined();
      expect(await store.readCheckpoint('shadow', 0)).toBeUndefined();
      // A projection whose name merely starts with another's is left alone.
      expect(await store.readCheckpoint('liver', 0)).toEqual(cp('liver', 0, 9));
      await store.clearProjection('live');
      expect(await store.readCheckpoint('live', 0)).toBeUndefined();
      expect(await store.readCheckpoint('live', 1)).toBeUndefined();
      expect(await store.readCheckpoint('liver', 0)).toEqual(cp('liver', 0, 9));
    });

    it('counts groups and dead letters without reading them, where it can', async () => {
      const grouped = (key: string, group: string | null): StateRow => ({
        ...row(key, { key }),
        group,
      });
      await put('runs', [
        grouped('r1', 'acc-1'),
        grouped('r2', 'acc-1'),
        grouped('r3', 'acc-2'),
        grouped('r4', null),
      ]);
      await put('other', [grouped('x', 'acc-9')]);
      await committed(store, {
        ...empty,
        deadLetters: [
          { ...letter('runs', 'e1', 1), key: 'r1' },
          { ...letter('runs', 'e2', 2), key: 'r1' },
          { ...letter('runs', 'e3', 3), key: 'r2' },
          letter('other', 'e4', 4),
        ],
      });
      if (store.countGroups) expect(await store.countGroups('runs')).toBe(2);
      if (store.countDeadLetters) {
        expect(await store.countDeadLetters('runs')).toEqual({ letters: 3, entities: 2 });
        expect(await store.countDeadLetters('none')).toEqual({ letters: 0, entities: 0 });
      }
    });

    it('clears one projection and leaves the others', async () => {
      await store.commit({
        checkpoints: [
          { name: 'a', position: 3, version: 1 },
          { name: 'b', position: 4, version: 1 },
        ],
        states: [
          { projection: 'a', row: row('k', {}) },
          { projection: 'b', row: row('k', {}) },
        ],
        deadLetters: [letter('a', 'e1', 1), letter('b', 'e2', 2)],
        changes: [],
      });
      await store.clearProjection('a');
      expect(await store.readCheckpoint('a')).toBeUndefined();
      expect(await store.countStates('a')).toBe(0);
      expect(await store.readDeadLetters('a')).toEqual([]);
      expect(await store.readCheckpoint('b')).toEqual({ name: 'b', position: 4, version: 1 });
      expect(await store.countStates('b')).toBe(1);
      expect(await store.readDeadLetters()).toEqual([letter('b', 'e2', 2)]);
    });

    it('keeps one dead letter per projection and event', async () => {
      await store.commit({ ...empty, deadLetters: [letter('a', 'e1', 1), letter('b', 'e1', 1)] });
      await store.commit({
        ...empty,
        deadLetters: [{ ...letter('a', 'e1', 1), error: 'again' }, letter('a', 'e0', 0)],
      });
      expect((await store.readDeadLetters('a')).map((l) => [l.eventId, l.error])).toEqual([
        ['e0', 'reducer threw on e0'],
        ['e1', 'again'],
      ]);
      expect(await store.readDeadLetters()).toHaveLength(3);
    });

    it('journals changes in seq order, reads them after a seq, and prunes without reusing seqs', async () => {
      expect(await store.lastChangeSeq()).toBe(0);
      const change = (i: number): Omit<ChangeRecord, 'seq'> => ({
        projection: 'p',
        key: `k${i}`,
        before: i === 0 ? undefined : { i: i - 1 },
        after: { i },
        eventId: `e${i}`,
        position: i + 1,
      });
      const first = await committed(store, { ...empty, changes: [0, 1, 2].map(change) });
      const second = await committed(store, { ...empty, changes: [3, 4].map(change) });
      const all = [...first, ...second];
      const seqs = all.map((c) => c.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(5);
      expect(await store.readChanges(0)).toEqual(all);
      expect(await store.readChanges(seqs[1] as number, 2)).toEqual(all.slice(2, 4));
      expect(await store.readChanges(seqs[4] as number)).toEqual([]);
      expect(await store.lastChangeSeq()).toBe(seqs[4]);

      await store.pruneChanges(seqs[2] as number);
      expect(await store.readChanges(0)).toEqual(all.slice(3));
      await store.pruneChanges(seqs[4] as number);
      expect(await store.readChanges(0)).toEqual([]);
      expect(await store.lastChangeSeq()).toBe(seqs[4]);
      const [next] = await committed(store, { ...empty, changes: [change(5)] });
      expect(next?.seq).toBeGreaterThan(seqs[4] as number);
    });
  });
}
