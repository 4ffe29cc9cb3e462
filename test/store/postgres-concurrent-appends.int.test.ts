/**
 * Appends without a global lock, as a property: several stores on one schema (separate pools,
 * standing for separate processes) append concurrently: random batch sizes, the same ids racing
 * between appenders (duplicates, and conflicts when the bytes differ), and sometimes a transaction
 * held open mid-run that then commits or rolls back. A follower polls `readAll` with a cursor all
 * along, as the projector does. At the end it must have seen every committed event exactly once,
 * positions strictly increasing, and a fresh `readAll(0)` must give the identical sequence.
 *
 * The held transaction is forced as in postgres-gaps.int.test.ts: a trigger makes the insert of an
 * id starting with "held" wait on an advisory lock the test holds.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import {
  createPostgresEventStore,
  type PostgresEventStore,
} from '../../src/store/postgres/index.js';
import type { AppendOutcome, StoredEvent } from '../../src/store/port.js';
import { collect, makeEvent } from '../support/events.js';
import {
  adminQuery,
  holdInsertsSql,
  lockWaiters,
  pgUrl,
  uniqueName,
  waitUntil,
} from '../support/postgres.js';

const APPENDERS = 3;

/** One appender's work: batches of (id index, body variant). */
const batchArb = fc.array(fc.record({ id: fc.nat(29), variant: fc.nat(5) }), {
  minLength: 1,
  maxLength: 12,
});
const planArb = fc.record({
  appenders: fc.array(fc.array(batchArb, { minLength: 1, maxLength: 6 }), {
    minLength: APPENDERS,
    maxLength: APPENDERS,
  }),
  /** A transaction held open from the start, released after this many batches, then ended so. */
  hold: fc.option(
    fc.record({
      releaseAfter: fc.nat(18),
      ending: fc.constantFrom('commit' as const, 'rollback' as const),
    }),
  ),
  readBatch: fc.integer({ min: 1, max: 7 }),
});

describe('postgres appends without a global lock (property)', () => {
  const lockKey = Math.floor(Math.random() * 1_000_000_000);
  let gate: pg.Client;

  beforeAll(async () => {
    gate = new pg.Client({ connectionString: pgUrl() });
    await gate.connect();
  });
  afterAll(async () => {
    await gate.end();
  });

  it('a follower sees every committed event exactly once, in a stable increasing order', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const schema = uniqueName('prop');
        const heldApp = uniqueName('held');
        const open = (applicationName: string): Promise<PostgresEventStore> =>
          createPostgresEventStore({
            connectionString: pgUrl(),
            schema,
            poolSize: 3,
            pollIntervalMs: 50,
            applicationName,
          });
        const reader = await open(uniqueName('reader'));
        const stores = [reader];
        try {
          const appenders = await Promise.all(
            plan.appenders.map(async () => open(uniqueName('appender'))),
          );
          const holder = await open(heldApp);
          stores.push(...appenders, holder);
          await gate.query(holdInsertsSql(schema, lockKey));

          // The follower: polls from its cursor until told to stop, checking order as it goes.
          const seen: StoredEvent[] = [];
          let cursor = 0;
          const poll = async (): Promise<void> => {
            for await (const batch of reader.readAll(cursor, { batchSize: plan.readBatch })) {
              for (const event of batch) {
                expect(event.position).toBeGreaterThan(cursor);
                seen.push(event);
                cursor = event.position;
              }
            }
          };
          let following = true;
          const follower = (async () => {
            while (following) {
              await poll();
              await new Promise((resolve) => setImmediate(resolve));
            }
          })();

          // The held transaction: its xid (hence its positions) is taken before any other append.
          let held: Promise<AppendOutcome[] | unknown> | undefined;
          let release: (() => Promise<void>) | undefined;
          if (plan.hold) {
            const ending = plan.hold.ending;
            await gate.query('SELECT pg_advisory_lock($1)', [lockKey]);
            held = holder.append([makeEvent('held-1')]).catch((error: unknown) => error);
            await waitUntil(
              async () => (await lockWaiters(heldApp)).length === 1,
              'the held append waits on the gate',
            );
            let released: Promise<void> | undefined;
            release = () =>
              (released ??= (async () => {
                if (ending === 'rollback') {
                  const [pid] = await lockWaiters(heldApp);
                  await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
                }
                await gate.query('SELECT pg_advisory_unlock($1)', [lockKey]);
              })());
          }

          // The appenders, concurrently; the hold ends after `releaseAfter` batches overall.
          let batchesDone = 0;
          const results = await Promise.all(
            plan.appenders.map(async (batches, a) => {
              const store = appenders[a] as PostgresEventStore;
              const outcomes: { outcome: AppendOutcome; variant: number }[] = [];
              for (const batch of batches) {
                const events = batch.map(({ id, variant }) => makeEvent(`e${id}`, { variant }));
                const answered = await store.append(events);
                answered.forEach((outcome, i) =>
                  outcomes.push({ outcome, variant: (batch[i] as { variant: number }).variant }),
                );
                batchesDone += 1;
                if (plan.hold && batchesDone === plan.hold.releaseAfter) void release?.();
              }
              return outcomes;
            }),
          );
          // Every appender finished, whether or not the held transaction has ended yet.
          await release?.();
          const heldResult = await held;

          // Each id stored exactly once; its duplicates and conflicts point at that position.
          const all = results.flat();
          const storedAt = new Map<string, number>();
          for (const { outcome } of all) {
            if (outcome.status !== 'stored') continue;
            expect(storedAt.has(outcome.id)).toBe(false);
            storedAt.set(outcome.id, outcome.position);
          }
          for (const { outcome } of all) expect(outcome.position).toBe(storedAt.get(outcome.id));
          if (plan.hold?.ending === 'commit') {
            const [outcome] = heldResult as AppendOutcome[];
            expect(outcome?.status).toBe('stored');
            storedAt.set('held-1', outcome?.position as number);
          } else if (plan.hold) {
            expect(isStoreError(heldResult)).toBe(true);
          }

          // The follower catches up with everything committed, then stops.
          await waitUntil(
            async () => seen.length >= storedAt.size,
            'the follower caught up',
            10_000,
          );
          following = false;
          await follower;
          await poll();

          const positions = seen.map((e) => e.position);
          for (let i = 1; i < positions.length; i += 1) {
            expect(positions[i]).toBeGreaterThan(positions[i - 1] as number);
          }
          expect(new Map(seen.map((e) => [e.id, e.position]))).toEqual(storedAt);
          expect(seen).toHaveLength(storedAt.size);
          const again = await collect(reader.readAll(0, { batchSize: 5 }));
          expect(again.events.map((e) => [e.id, e.position])).toEqual(
            seen.map((e) => [e.id, e.position]),
          );
          expect((await reader.stats()).events).toBe(storedAt.size);
        } finally {
          await gate.query('SELECT pg_advisory_unlock_all()');
          for (const store of stores) await store.close().catch(() => undefined);
          await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        }
      }),
      // A failing run waits for a follower that never catches up: report it rather than shrink.
      { numRuns: 20, endOnFailure: true },
    );
  });
});
