/**
 * Values a store cannot hold, on every store (memory, a real SQLite file, the real PostgreSQL):
 * - an authentic event with a NUL in a key or filter field, or a free-form value nested 100,000
 *   deep, is stored and not projected; projection of the others goes on (no stall, no dead
 *   letter); a NUL inside a free-form value reaches state as U+FFFD, and filters work;
 * - the log's `data` holds any JSON a library caller appends, NUL included (PostgreSQL `json`);
 * - a deterministic failure inside a group commit fails only the delivery that holds it: every
 *   other delivery of the group gets its own outcome;
 * - a projection commit holding a key no store can keep fails with `store_rejected` (the code
 *   the engine turns into a dead letter) on every store alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import { isStoreError } from '../../src/store/errors.js';
import type { EventStoreWithProjections } from '../../src/store/port.js';
import type { SqliteEventStore } from '../../src/store/sqlite/index.js';
import { collect, makeEvent } from '../support/events.js';
import { storeKinds } from '../support/engine.js';
import { adminQuery, openFreshPostgresStore } from '../support/postgres.js';

const NUL = '\u0000';

interface Opened {
  readonly store: EventStoreWithProjections;
  /** Makes the database refuse the event with this id (a constraint: a deterministic failure). */
  refuseId(id: string): Promise<void>;
  cleanup(): Promise<void>;
}

const stores: Record<string, () => Promise<Opened>> = {
  memory: async () => {
    const handle = storeKinds.memory!();
    return { ...handle, refuseId: async () => undefined };
  },
  sqlite: async () => {
    const handle = storeKinds.sqlite!();
    return {
      ...handle,
      async refuseId(id) {
        // A second connection on the same real file installs the constraint.
        const { default: Database } = await import('better-sqlite3');
        const db = new Database((handle.store as SqliteEventStore).path);
        db.exec(
          `CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.id = '${id}'
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
        );
        db.close();
      },
    };
  },
  postgres: async () => {
    const { store, schema, cleanup } = await openFreshPostgresStore();
    return {
      store,
      cleanup,
      refuseId: async (id) => {
        await adminQuery(
          `ALTER TABLE "${schema}".events ADD CONSTRAINT refuse CHECK (id <> '${id}')`,
        );
      },
    };
  },
};

function body(overrides: Record<string, unknown>, payload: Record<string, unknown>): string {
  return JSON.stringify({
    id: 'evt',
    event: 'integrated_account:active',
    created_at: '2024-09-10T12:00:00.000Z',
    ...overrides,
    payload: { id: 'acc', status: 'active', tenant_id: 't-1', ...payload },
  });
}

let opened: Opened | undefined;
afterEach(async () => {
  await opened?.cleanup();
  opened = undefined;
});

describe.each(Object.keys(stores))('%s', (kind) => {
  it('stores NUL-bearing and deeply nested events unprojected; the rest projects, filters work', async () => {
    opened = await stores[kind]!();
    const engine = await createTrutoEngine({ store: opened.store, live: false });
    try {
      const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      const bodies = [
        body({ id: 'e-nul-account' }, { id: `acc${NUL}x` }),
        body({ id: 'e-nul-tenant' }, { id: 'acc-2', tenant_id: `t${NUL}` }),
        body(
          { id: 'e-nul-record', event: 'record:created' },
          { id: 'r', integrated_account_id: `a${NUL}`, resource: 'x' },
        ),
        body({ id: 'e-deep' }, { id: 'acc-3', last_error: '@' }).replace('"@"', deep),
        body({ id: 'e-nul-error' }, { id: 'acc-4', last_error: { message: `bad${NUL}byte` } }),
        body({ id: 'e-fine' }, { id: 'acc-5' }),
      ];
      const results = await Promise.all(bodies.map((b) => engine.ingest(b)));
      expect(results.map((r) => r.status)).toEqual(Array(bodies.length).fill('stored'));
      const projected = results.map((r) =>
        r.status === 'rejected' ? null : r.event.data !== null,
      );
      expect(projected).toEqual([false, false, false, false, true, true]);

      await engine.catchUp();
      const stats = await engine.stats();
      expect(stats.projections.every((p) => p.lag === 0 && p.deadLetters === 0)).toBe(true);
      // A NUL in a free-form value is U+FFFD in facts and state; the body keeps the bytes.
      expect(await engine.get('accounts', 'acc-4')).toMatchObject({
        lastError: { message: 'bad\uFFFDbyte' },
      });
      const kept = await opened.store.readEvent('e-nul-error');
      expect(Buffer.from(kept?.body ?? []).toString()).toBe(bodies[4]);
      const active = await engine.list('accounts', {
        where: { status: 'active', tenantId: 't-1' },
      });
      expect(active.items.map((a) => a.id)).toEqual(['acc-4', 'acc-5']);
      // The deep body is kept as received.
      expect((await opened.store.readEvent('e-deep'))?.body?.byteLength).toBe(
        Buffer.byteLength(bodies[3]!),
      );
    } finally {
      await engine.close();
    }
  });

  it('a deterministic failure in a group commit fails only its own delivery', async () => {
    opened = await stores[kind]!();
    const { store } = opened;
    await opened.refuseId('poison');
    const ids = Array.from({ length: 12 }, (_, i) => (i === 5 ? 'poison' : `ok-${i}`));
    // Issued in one tick: they share a group commit.
    const settled = await Promise.allSettled(
      ids.map((id) =>
        store.append([
          makeEvent(id, id === 'poison' && kind === 'memory' ? { stream: `s${NUL}` } : {}),
        ]),
      ),
    );
    const poisoned = settled[5]!;
    expect(poisoned.status).toBe('rejected');
    const reason = poisoned.status === 'rejected' ? poisoned.reason : undefined;
    expect(isStoreError(reason) && reason.code).toBe('store_rejected');
    settled.forEach((result, i) => {
      if (i === 5) return;
      expect(result).toMatchObject({ status: 'fulfilled', value: [{ status: 'stored' }] });
    });
    expect((await store.stats()).events).toBe(11);
    // A NUL in an id never reaches a store (on any of them), and fails only its caller.
    const mixed = await Promise.allSettled([
      store.append([makeEvent(`id${NUL}`)]),
      store.append([makeEvent('after')]),
    ]);
    expect(mixed[0]).toMatchObject({ status: 'rejected', reason: { code: 'store_rejected' } });
    expect(mixed[1]).toMatchObject({ status: 'fulfilled', value: [{ status: 'stored' }] });
  });

  it("keeps a NUL inside an appended event's data (the log's data column)", async () => {
    opened = await stores[kind]!();
    const event = { ...makeEvent('with-nul'), data: { note: `a${NUL}b`, [`k${NUL}`]: 1 } };
    await opened.store.append([event]);
    expect((await opened.store.readEvent('with-nul'))?.data).toEqual(event.data);
    const { events } = await collect(opened.store.readAll(0));
    expect(events[0]?.data).toEqual(event.data);
  });

  it('a projection commit holding a NUL key or state fails with store_rejected, writing nothing', async () => {
    opened = await stores[kind]!();
    const projections = opened.store.projections;
    const row = (key: string) => ({
      projection: 'p',
      row: { key, state: { n: 1 }, lastTime: 1, lastId: 'e', position: 1 },
    });
    const failure = await projections
      .commit({
        checkpoints: [{ name: 'p', position: 1, version: 1 }],
        states: [row('fine'), row(`bad${NUL}`)],
        deadLetters: [],
        changes: [],
      })
      .catch((error: unknown) => error);
    expect(isStoreError(failure) && failure.code).toBe('store_rejected');
    // The refusal names the entity, for the engine to dead-letter it and commit the rest.
    expect(isStoreError(failure) && failure.subject).toEqual({ projection: 'p', key: `bad${NUL}` });
    const unwritable = await projections
      .commit({
        checkpoints: [{ name: 'p', position: 1, version: 1 }],
        states: [{ ...row('big'), row: { ...row('big').row, state: { n: 1n } } }],
        deadLetters: [],
        changes: [],
      })
      .catch((error: unknown) => error);
    expect(isStoreError(unwritable) && unwritable.code).toBe('store_rejected');
    expect(isStoreError(unwritable) && unwritable.subject).toEqual({ projection: 'p', key: 'big' });
    const inState = await projections
      .commit({
        checkpoints: [{ name: 'p', position: 1, version: 1 }],
        states: [{ ...row('fine'), row: { ...row('fine').row, state: { note: `x${NUL}` } } }],
        deadLetters: [],
        changes: [],
      })
      .catch((error: unknown) => error);
    expect(isStoreError(inState) && inState.code).toBe('store_rejected');
    expect(isStoreError(inState) && inState.subject).toEqual({ projection: 'p', key: 'fine' });
    expect(await projections.readCheckpoint('p')).toBeUndefined();
    // A dead letter whose error text holds a NUL is recorded (the text keeps a visible escape).
    await projections.commit({
      checkpoints: [{ name: 'p', position: 1, version: 1 }],
      states: [],
      deadLetters: [{ projection: 'p', key: 'k', eventId: 'e', position: 1, error: `x${NUL}y` }],
      changes: [],
    });
    expect((await projections.readDeadLetters('p'))[0]?.error).toBe('x\\u0000y');
  });
});
