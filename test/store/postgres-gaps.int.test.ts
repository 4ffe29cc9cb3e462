/**
 * Gap safety on PostgreSQL: a reader following "everything after my position" (the projector's
 * catch-up loop, SSE resume on the change journal) must never skip a row that commits late with a
 * lower position or seq, and must not stall on one that rolls back.
 *
 * How the late commit is forced: a trigger makes the insert of a "held" row wait on an advisory
 * lock the test holds, so that transaction has its xid (hence its positions) but cannot commit.
 * Meanwhile a second store (standing for another process) appends and COMMITS: appends take no
 * global lock, so its rows, with higher positions, are committed while the held one is not. A
 * reader follows. Without the fence on the transaction horizon the reader would advance past the
 * held position, and the held row would never be seen: these tests would fail.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import type { PostgresEventStore } from '../../src/store/postgres/index.js';
import type { ChangeRecord, StoredEvent } from '../../src/store/port.js';
import { makeEvent } from '../support/events.js';
import {
  holdInsertsSql,
  lockWaiters,
  openFreshPostgresStore,
  pgUrl,
  uniqueName,
  waitUntil,
} from '../support/postgres.js';

/** A reader that keeps a cursor and records everything it is shown, as the projector does. */
function follower(store: PostgresEventStore) {
  let cursor = 0;
  const seen: StoredEvent[] = [];
  return {
    seen,
    get cursor() {
      return cursor;
    },
    async poll(): Promise<void> {
      for await (const batch of store.readAll(cursor, { batchSize: 2 })) {
        for (const event of batch) {
          expect(event.position).toBeGreaterThan(cursor);
          seen.push(event);
          cursor = event.position;
        }
      }
    },
    /**
     * Polls until `count` events were seen. A commit is read once every older write transaction
     * in the cluster has ended, and other test files share this server, so "at once" is not a
     * promise; a reader that skipped an event would wait here for ever (and time out).
     */
    async catchUp(count: number): Promise<void> {
      await waitUntil(async () => {
        await this.poll();
        return seen.length >= count;
      }, `the reader saw ${count} events`);
    },
  };
}

function changeFollower(store: PostgresEventStore) {
  let cursor = 0;
  const seen: ChangeRecord[] = [];
  return {
    seen,
    async poll(): Promise<void> {
      for (const change of await store.projections.readChanges(cursor)) {
        expect(change.seq).toBeGreaterThan(cursor);
        seen.push(change);
        cursor = change.seq;
      }
    },
  };
}

/** Whether a promise has settled, without waiting for it. */
function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

describe('postgres gap safety', () => {
  const lockKey = Math.floor(Math.random() * 1_000_000_000);
  const heldApp = uniqueName('held');
  const laterApp = uniqueName('later');
  let schema: string;
  let held: PostgresEventStore;
  let later: PostgresEventStore;
  /** A third process that only reads (the projector's view): it has no appends of its own to wait for. */
  let watcher: PostgresEventStore;
  let gate: pg.Client;
  let cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    const first = await openFreshPostgresStore({ applicationName: heldApp });
    held = first.store;
    schema = first.schema;
    const second = await openFreshPostgresStore({ schema, applicationName: laterApp });
    later = second.store;
    const third = await openFreshPostgresStore({ schema });
    watcher = third.store;
    cleanups = [
      third.store.close.bind(third.store),
      second.store.close.bind(second.store),
      first.cleanup,
    ];

    gate = new pg.Client({ connectionString: pgUrl() });
    await gate.connect();
    // Inserting a row whose id / projection starts with "held" waits for the gate lock.
    await gate.query(holdInsertsSql(schema, lockKey, { changes: true }));
    await gate.query('SELECT pg_advisory_lock($1)', [lockKey]);
  });

  afterEach(async () => {
    await gate.end();
    for (const cleanup of cleanups) await cleanup();
  });

  /** Waits until the later writer either committed or is itself blocked on a lock. */
  async function laterWriterStuckOrDone(done: () => boolean): Promise<void> {
    await waitUntil(
      async () => done() || (await lockWaiters(laterApp)).length > 0,
      'the later writer committed or waits',
    );
  }

  it('a reader never passes an append that commits late with a lower position', async () => {
    await held.append([makeEvent('before')]);
    const reader = follower(watcher);
    await reader.catchUp(1);
    expect(reader.seen.map((e) => e.id)).toEqual(['before']);

    const heldAppend = held.append([makeEvent('held-1')]);
    await waitUntil(
      async () => (await lockWaiters(heldApp)).length === 1,
      'the held append waits on the gate',
    );

    // The later writer commits while the held one is still open: no global lock between them.
    const laterOutcomes = (
      await Promise.all([
        later.append([makeEvent('later-1')]),
        later.append([makeEvent('later-2'), makeEvent('later-3')]),
      ])
    ).flat();
    const heldSettled = settledFlag(heldAppend);
    expect(laterOutcomes.map((o) => o.status)).toEqual(['stored', 'stored', 'stored']);
    expect((await later.readEvent('later-3'))?.id).toBe('later-3');
    expect(heldSettled()).toBe(false);

    // The held transaction has its positions but has not committed: committed rows above it are
    // fenced off, so the reader sees nothing new, and the head does not move past the cursor.
    await reader.poll();
    expect(reader.seen.map((e) => e.id)).toEqual(['before']);
    expect(await watcher.head()).toBe(reader.cursor);
    expect(await watcher.fenceLag()).toBeGreaterThan(0);

    await gate.query('SELECT pg_advisory_unlock($1)', [lockKey]);
    const [heldOutcome] = await heldAppend;
    await reader.catchUp(5);

    expect(heldOutcome?.status).toBe('stored');
    // The held event was numbered before the later ones (its transaction began first) and is
    // read first, once it committed.
    expect(reader.seen.map((e) => e.id)).toEqual([
      'before',
      'held-1',
      'later-1',
      'later-2',
      'later-3',
    ]);
    expect(heldOutcome?.position).toBeLessThan(Math.min(...laterOutcomes.map((o) => o.position)));
    // Everything exactly once, in position order, the held event included.
    expect(reader.seen.map((e) => e.id).sort()).toEqual([
      'before',
      'held-1',
      'later-1',
      'later-2',
      'later-3',
    ]);
    const positions = reader.seen.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(positions).size).toBe(positions.length);
  });

  it('a held append that rolls back leaves a gap the reader passes without stalling, while later appends commit', async () => {
    const reader = follower(watcher);
    const heldAppend = held.append([makeEvent('held-doomed')]);
    const heldFailure = heldAppend.catch((error: unknown) => error);
    await waitUntil(
      async () => (await lockWaiters(heldApp)).length === 1,
      'the held append waits on the gate',
    );
    // Committed while the held transaction is open, and fenced off until it ends.
    const laterOutcomes = await later.append([makeEvent('later-1'), makeEvent('later-2')]);
    expect(laterOutcomes.map((o) => o.status)).toEqual(['stored', 'stored']);
    await reader.poll();
    expect(reader.seen).toEqual([]);

    // The writer dies mid-transaction (as if its process crashed): the server rolls it back.
    const [pid] = await lockWaiters(heldApp);
    await gate.query('SELECT pg_terminate_backend($1)', [pid]);

    const failure = await heldFailure;
    expect(isStoreError(failure) && failure.retryable).toBe(true);
    // Its positions stay a gap; the reader passes it without waiting for anything.
    await reader.catchUp(2);
    expect(reader.seen.map((e) => e.id)).toEqual(['later-1', 'later-2']);
    expect(await later.readEvent('held-doomed')).toBeUndefined();

    // The lost event can be sent again and is stored, after the others.
    await gate.query('SELECT pg_advisory_unlock($1)', [lockKey]);
    await held.append([makeEvent('held-doomed')]);
    await reader.catchUp(3);
    expect(reader.seen.map((e) => e.id)).toEqual(['later-1', 'later-2', 'held-doomed']);
  });

  const empty = { checkpoints: [], states: [], deadLetters: [] };
  const change = (projection: string, key: string, position: number) => ({
    projection,
    key,
    before: undefined,
    after: { key },
    eventId: `e-${key}`,
    position,
  });

  it('a change-journal reader never passes a commit that lands late with a lower seq', async () => {
    const reader = changeFollower(later);
    const heldCommit = held.projections.commit({ ...empty, changes: [change('held', 'h1', 1)] });
    await waitUntil(
      async () => (await lockWaiters(heldApp)).length === 1,
      'the held commit waits on the gate',
    );
    const laterCommit = later.projections.commit({
      ...empty,
      changes: [change('live', 'l1', 2), change('live', 'l2', 3)],
    });
    await laterWriterStuckOrDone(settledFlag(laterCommit));

    await reader.poll();
    expect(reader.seen).toEqual([]);
    expect(await later.projections.lastChangeSeq()).toBe(0);

    await gate.query('SELECT pg_advisory_unlock($1)', [lockKey]);
    await Promise.all([heldCommit, laterCommit]);
    await reader.poll();
    expect(reader.seen.map((c) => c.key).sort()).toEqual(['h1', 'l1', 'l2']);
    expect(reader.seen.map((c) => c.seq)).toEqual(
      [1, 2, 3].map((_, i) => (reader.seen[i] as ChangeRecord).seq).sort((a, b) => a - b),
    );
  });

  it('a held journal commit that rolls back does not stall the change reader', async () => {
    const reader = changeFollower(later);
    const heldCommit = held.projections
      .commit({ ...empty, changes: [change('held', 'h1', 1)] })
      .catch((error: unknown) => error);
    await waitUntil(
      async () => (await lockWaiters(heldApp)).length === 1,
      'the held commit waits on the gate',
    );
    const laterCommit = later.projections.commit({ ...empty, changes: [change('live', 'l1', 2)] });
    await laterWriterStuckOrDone(settledFlag(laterCommit));
    const [pid] = await lockWaiters(heldApp);
    await gate.query('SELECT pg_terminate_backend($1)', [pid]);

    expect(isStoreError(await heldCommit)).toBe(true);
    const later$ = await laterCommit;
    const [committed] = later$.ok ? later$.changes : [];
    await reader.poll();
    expect(reader.seen.map((c) => c.key)).toEqual(['l1']);
    expect(await later.projections.lastChangeSeq()).toBe(committed?.seq);
  });
});

describe('postgres reads below a fence already seen', () => {
  it('a read up to a position the fence has passed does not wait for this process’s newer appends', async () => {
    // A projection reads up to the head it was told (read under the fence). Its own newer
    // appends lie past that head, so waiting for the fence to pass them (up to 5 s while an
    // older transaction is open anywhere) would only delay it.
    const { store, cleanup } = await openFreshPostgresStore();
    const holder = new pg.Client({ connectionString: pgUrl() });
    try {
      await holder.connect();
      await store.append([makeEvent('before')]);
      const head = await store.head();
      // An open write transaction: the fence stays below everything committed after it.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_current_xact_id()');
      await store.append([makeEvent('after')]);

      const read = (async () => {
        const events: StoredEvent[] = [];
        for await (const page of store.readAll(0, { upTo: head })) events.push(...page);
        return events.map((e) => e.id);
      })();
      const outcome = await Promise.race([
        read,
        new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_500)),
      ]);
      expect(outcome).toEqual(['before']);
      // Reading past the fence still waits for this process's own append, as before.
      const all = (async () => {
        const events: StoredEvent[] = [];
        for await (const page of store.readAll(0)) events.push(...page);
        return events.map((e) => e.id);
      })();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await holder.query('ROLLBACK');
      expect(await all).toEqual(['before', 'after']);
    } finally {
      await holder.end();
      await cleanup();
    }
  });
});
