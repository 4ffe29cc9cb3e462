/**
 * A version bump with several instances on one PostgreSQL schema, real partition leases, no
 * instance stopped (see the design in src/engine/rebuild.ts).
 *
 * Two instances start with the bumped version on the old state. Both see the bump; the first
 * to get the store's rebuild lock rebuilds and swaps, the other waits, finds nothing left to do
 * and rebuilds nothing (one reset journalled). Meanwhile the waiting instance projects its
 * partitions on the old state, and stands exactly at the position the shadow is swapped in at,
 * with old-state entities cached: a fence on checkpoint positions alone would let its next
 * commit write that cached entity over the rebuilt one. The swap's lease fence makes it reload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import type { AnyProjection } from '../../src/engine/projection.js';
import type { Engine } from '../../src/engine/types.js';
import {
  createPartitionLeases,
  createPostgresEventStore,
  leasedPartitions,
  type PostgresEventStore,
} from '../../src/store/postgres/index.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { defineTrutoProjection } from '../../src/truto/events.js';
import {
  adminQuery,
  lockWaiters,
  openFreshPostgresStore,
  pgUrl,
  waitUntil,
} from '../support/postgres.js';

const T0 = Date.UTC(2024, 8, 10, 12);
const PARTITIONS = 4;

function body(id: string, seconds: number, account = 'acc-1') {
  return JSON.stringify({
    id,
    event: 'integrated_account:updated',
    created_at: new Date(T0 + seconds * 1000).toISOString(),
    payload: { id: account, status: 'active' },
  });
}

/** Counts events per account; the version is in every state it makes. */
function counting(version: number) {
  return defineTrutoProjection({
    name: 'counting',
    version,
    eventTypes: ['integrated_account:updated'],
    keyOf: (event) => event.facts.accountId,
    initialState: (key) => ({ id: key, events: 0, version }),
    evolve: (state) => ({ ...state, events: state.events + 1 }),
    streamOf: (key) => `integrated_account:${key}`,
  });
}

type AnyEngine = Engine<readonly AnyProjection[]>;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** An instance: its own pool, and leases (`observe`: holds none) under a readable name. */
async function instance(
  schema: string,
  name: string,
  version: number,
  options: { observe?: boolean; live?: boolean } = {},
): Promise<{ engine: AnyEngine; store: PostgresEventStore; stop: () => Promise<void> }> {
  const store = await createPostgresEventStore({
    connectionString: pgUrl(),
    schema,
    poolSize: 4,
    applicationName: name,
  });
  cleanups.push(() => store.close());
  const leases = await createPartitionLeases({
    connectionString: pgUrl(),
    schema,
    instanceId: name,
    partitions: PARTITIONS,
    leaseMs: 2_000,
    renewEveryMs: 200,
    ...(options.observe ? { observe: true } : {}),
  });
  cleanups.push(() => leases.close());
  const engine = (await createEngine({
    store,
    codec: trutoCodec,
    projections: [counting(version)],
    partitions: leasedPartitions(store.projections, leases),
    live: options.live ?? false,
    startupRebuild: 'background',
    journalPollMs: 20,
  })) as unknown as AnyEngine;
  cleanups.push(() => engine.close());
  const stop = async () => {
    await engine.close();
    await leases.close();
    await store.close();
  };
  return { engine, store, stop };
}

/** Every checkpoint row of `counting` has reached `position`. */
async function projectedTo(store: PostgresEventStore, position: number): Promise<boolean> {
  for (let p = 0; p < PARTITIONS; p++) {
    const checkpoint = await store.projections.readCheckpoint('counting', p);
    if ((checkpoint?.position ?? 0) < position) return false;
  }
  return true;
}

describe('a version bump with instances running', () => {
  it('is rebuilt once, and an instance that projected the old state meanwhile follows the new one', async () => {
    const fresh = await openFreshPostgresStore();
    cleanups.push(fresh.cleanup);
    const { schema } = fresh;

    // Version 1 state, made by an instance that then goes away.
    const old = await instance(schema, 'v1', 1);
    await old.engine.ingest(body('e1', 1));
    await old.engine.ingest(body('e2', 2));
    await old.engine.catchUp();
    expect(await old.engine.get('counting', 'acc-1')).toMatchObject({ events: 2, version: 1 });
    for (const cleanup of cleanups.splice(1).reverse()) await cleanup();

    // Someone else is rebuilding: both new instances queue for the lock, the rebuilder first.
    const gate = await fresh.store.projections.lockRebuild?.();
    if (!gate) throw new Error('the PostgreSQL store has a rebuild lock');
    const rebuilder = await instance(schema, 'v2-rebuilder', 2, { observe: true });
    await waitUntil(
      async () => (await lockWaiters('v2-rebuilder')).length === 1,
      'rebuilder waits',
    );
    const follower = await instance(schema, 'v2-follower', 2, { live: true });
    await waitUntil(async () => (await lockWaiters('v2-follower')).length === 1, 'follower waits');

    // The follower projects the old state (v2 code, v1 stamp) up to the head.
    await follower.engine.ingest(body('e3', 3));
    const at = await follower.store.head();
    await waitUntil(() => projectedTo(follower.store, at), 'the follower projected e3');
    expect(await follower.engine.get('counting', 'acc-1')).toMatchObject({
      events: 3,
      version: 1,
    });

    // The rebuilder gets the lock and swaps in version 2 at the follower's very position.
    await gate();
    await (rebuilder.engine as unknown as { ready: Promise<void> }).ready;
    expect(await rebuilder.engine.get('counting', 'acc-1')).toEqual({
      id: 'acc-1',
      events: 3,
      version: 2,
    });
    await (follower.engine as unknown as { ready: Promise<void> }).ready;

    // The next event reaches the follower's partition: it must fold it onto the rebuilt state.
    await follower.engine.ingest(body('e4', 4));
    const last = await follower.store.head();
    await waitUntil(() => projectedTo(follower.store, last), 'the follower projected e4');
    expect(await follower.engine.get('counting', 'acc-1')).toEqual({
      id: 'acc-1',
      events: 4,
      version: 2,
    });
    const checkpoints = await adminQuery(
      `SELECT DISTINCT version FROM "${schema}".checkpoints WHERE name = 'counting'`,
    );
    expect(checkpoints.rows).toEqual([{ version: 2 }]);
    // Rebuilt once: one reset journalled for the bump.
    const resets = await adminQuery(
      `SELECT count(*)::int AS n FROM "${schema}".changes WHERE projection = 'counting' AND event_id = ''`,
    );
    expect(resets.rows).toEqual([{ n: 1 }]);
  });

  it('an instance of the older release beside it never writes over the newer state, and restarts onto it without a rebuild', async () => {
    const fresh = await openFreshPostgresStore();
    cleanups.push(fresh.cleanup);
    const { schema } = fresh;
    const accounts = Array.from({ length: 8 }, (_, i) => `acc-${i}`);

    // The older release runs on, holding every partition at first.
    const older = await instance(schema, 'v1', 1, { live: true });
    for (const [i, account] of accounts.entries()) {
      await older.engine.ingest(body(`a${i}`, i, account));
    }
    await older.engine.catchUp();

    // The newer release starts beside it: rebuilds (nobody else can), swaps, takes half the
    // partitions. The older one's runners restart on the new epoch and find a newer version.
    const newer = await instance(schema, 'v2', 2, { live: true });
    await (newer.engine as unknown as { ready: Promise<void> }).ready;
    for (const [i, account] of accounts.entries()) {
      await newer.engine.ingest(body(`b${i}`, 100 + i, account));
    }
    const head = await newer.store.head();
    const counts = async () =>
      (
        await adminQuery(
          `SELECT part, position, version FROM "${schema}".checkpoints WHERE name = 'counting' ORDER BY part`,
        )
      ).rows as { part: number; position: number; version: number }[];
    // Some partitions (the newer instance's) reach the head; the older instance's wait.
    await waitUntil(
      async () => (await counts()).some((row) => Number(row.position) >= head),
      'the newer instance projected its partitions',
    );
    const versionOne = async () =>
      (
        await adminQuery(
          `SELECT count(*)::int AS n FROM "${schema}".states WHERE projection = 'counting' AND (state->>'version')::int = 1`,
        )
      ).rows[0] as { n: number };
    expect(await versionOne()).toEqual({ n: 0 });
    expect(new Set((await counts()).map((row) => row.version))).toEqual(new Set([2]));

    // The older instance restarts on the newer release: nothing to rebuild, everything projected.
    await older.stop();
    const restarted = await instance(schema, 'v2-restarted', 2, { live: true });
    await (restarted.engine as unknown as { ready: Promise<void> }).ready;
    await waitUntil(
      async () => (await counts()).every((row) => Number(row.position) >= head),
      'every partition projected',
    );
    for (const account of accounts) {
      expect(await restarted.engine.get('counting', account)).toEqual({
        id: account,
        events: 2,
        version: 2,
      });
    }
    expect(await versionOne()).toEqual({ n: 0 });
    const resets = await adminQuery(
      `SELECT count(*)::int AS n FROM "${schema}".changes WHERE projection = 'counting' AND event_id = ''`,
    );
    expect(resets.rows).toEqual([{ n: 1 }]);
  });
});
