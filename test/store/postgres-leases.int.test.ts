/**
 * Scale-out on PostgreSQL: partition leases. The property that matters is that two instances
 * never both APPLY (commit state for) one partition. Every holder runs, for each partition it
 * holds, a worker committing "n -> n + 1" under its fence and journalling it; afterwards each
 * partition's journal must be one unbroken chain 0 -> 1 -> 2 … . Two instances applying the same
 * partition would both journal a step from the same n, which breaks the chain.
 *
 * In-process holders (each with its own connections, as separate instances have) check the
 * local view too: at every change, no partition is believed held by two holders. Real processes
 * cover SIGKILL (takeover within 10 s) and a holder stalled (SIGSTOP) past its lease with a commit
 * in flight, which must be refused when it wakes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createPartitionLeases,
  createPostgresEventStore,
  partitionOf,
  type PartitionLeases,
  type PostgresEventStore,
} from '../../src/store/postgres/index.js';
import { adminQuery, openFreshPostgresStore, pgUrl, waitUntil } from '../support/postgres.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every partition's journal is a chain 0 -> 1 -> … with no step taken twice. */
async function expectLinearChains(store: PostgresEventStore, partitions: number): Promise<number> {
  const changes = await store.projections.readChanges(0);
  const byKey = new Map<string, { before: number; after: number }[]>();
  for (const change of changes) {
    const steps = byKey.get(change.key) ?? [];
    steps.push({
      before: (change.before as { n: number }).n,
      after: (change.after as { n: number }).n,
    });
    byKey.set(change.key, steps);
  }
  for (const [key, steps] of byKey) {
    expect(
      steps.map((s) => s.before),
      `journal of ${key}`,
    ).toEqual(steps.map((_, i) => i));
    expect(
      steps.map((s) => s.after),
      `journal of ${key}`,
    ).toEqual(steps.map((_, i) => i + 1));
  }
  expect(byKey.size).toBeLessThanOrEqual(partitions);
  return changes.length;
}

/** Instance `a` holding the leases of a two-partition schema (closed after the test). */
async function twoPartitionHolder(
  schema: string,
  options: { leaseMs: number; renewEveryMs: number; applicationName?: string },
): Promise<PartitionLeases> {
  const leases = await createPartitionLeases({
    connectionString: pgUrl(),
    schema,
    instanceId: 'a',
    partitions: 2,
    ...options,
  });
  cleanups.push(() => leases.close());
  return leases;
}

/** An in-process instance: leases plus per-partition workers, like the child process. */
async function startHolder(
  schema: string,
  instanceId: string,
  partitions: number,
  timing = { leaseMs: 1500, renewEveryMs: 250 },
) {
  const store = await createPostgresEventStore({
    connectionString: pgUrl(),
    schema,
    poolSize: 3,
    applicationName: `store ${instanceId}`,
  });
  const leases = await createPartitionLeases({
    connectionString: pgUrl(),
    schema,
    instanceId,
    partitions,
    ...timing,
  });
  let stopping = false;
  const running = new Set<number>();
  let commits = 0;

  async function work(partition: number): Promise<void> {
    const fence = leases.fence(partition);
    if (!fence || running.has(partition)) return;
    running.add(partition);
    const key = `p${partition}`;
    try {
      while (!stopping && leases.fence(partition)?.epoch === fence.epoch) {
        const n =
          (
            (await store.projections.readStates('lease-test', [key])).get(key)?.state as
              { n: number } | undefined
          )?.n ?? 0;
        try {
          const result = await store.projections.commit(
            {
              checkpoints: [],
              deadLetters: [],
              states: [
                {
                  projection: 'lease-test',
                  row: {
                    key,
                    state: { n: n + 1 },
                    lastTime: 0,
                    lastId: instanceId,
                    position: n + 1,
                    poisoned: null,
                  },
                },
              ],
              changes: [
                {
                  projection: 'lease-test',
                  key,
                  before: { n },
                  after: { n: n + 1 },
                  eventId: instanceId,
                  position: n + 1,
                },
              ],
            },
            { fence },
          );
          if (!result.ok && result.reason === 'lease_lost') return;
          commits += 1;
        } catch {
          await pause(20);
        }
        await pause(5);
      }
    } finally {
      running.delete(partition);
      if (!stopping && leases.fence(partition) && leases.fence(partition)?.epoch !== fence.epoch)
        void work(partition);
    }
  }

  const subscription = leases.owned$.subscribe((owned) => {
    for (const partition of owned) void work(partition);
  });
  const holder = {
    instanceId,
    leases,
    store,
    get commits() {
      return commits;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      subscription.unsubscribe();
      await leases.close();
      await store.close();
    },
  };
  cleanups.push(() => holder.stop());
  return holder;
}

/** Watches holders' local views and records any partition believed held by two at once. */
function watchOverlaps(
  holders: readonly { leases: PartitionLeases; instanceId: string }[],
): string[] {
  const overlaps: string[] = [];
  const check = (): void => {
    const owner = new Map<number, string>();
    for (const h of holders) {
      for (const p of h.leases.owned()) {
        const other = owner.get(p);
        if (other !== undefined) overlaps.push(`partition ${p}: ${other} and ${h.instanceId}`);
        owner.set(p, h.instanceId);
      }
    }
  };
  for (const h of holders) h.leases.owned$.subscribe(check);
  return overlaps;
}

const sizes = (holders: readonly { leases: PartitionLeases }[]) =>
  holders.map((h) => h.leases.owned().size).sort();
const union = (holders: readonly { leases: PartitionLeases }[]) =>
  new Set(holders.flatMap((h) => [...h.leases.owned()]));

describe('partitionOf', () => {
  it('is stable and in range', () => {
    expect(partitionOf('integrated_account:abc', 8)).toBe(partitionOf('integrated_account:abc', 8));
    for (let i = 0; i < 200; i += 1) {
      const p = partitionOf(`stream-${i}`, 5);
      expect(Number.isInteger(p) && p >= 0 && p < 5).toBe(true);
    }
  });
});

describe('the partition count', () => {
  const join = async (schema: string, instanceId: string, partitions?: number) => {
    const leases = await createPartitionLeases({
      connectionString: pgUrl(),
      schema,
      instanceId,
      ...(partitions === undefined ? {} : { partitions }),
    });
    cleanups.push(() => leases.close());
    return leases;
  };

  it('is 1 on a new schema when none is given, and the stored one afterwards', async () => {
    const { schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    // Several instances starting at once, none given a count: they agree on one.
    const first = await Promise.all(['a', 'b', 'c'].map((id) => join(schema, id)));
    expect(first.map((l) => l.partitions)).toEqual([1, 1, 1]);
    await waitUntil(
      async () => first.reduce((n, l) => n + l.owned().size, 0) === 1,
      'one instance holds the one partition',
    );
    expect(await join(schema, 'd', 1)).toMatchObject({ partitions: 1 });
  });

  it('is the stored one when none is given, and a different given one is refused', async () => {
    const { schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    expect((await join(schema, 'a', 8)).partitions).toBe(8);
    expect((await join(schema, 'b')).partitions).toBe(8);
    // Fewer or more than stored: either would map entities to partitions another way.
    for (const other of [4, 16]) {
      await expect(join(schema, `c${other}`, other)).rejects.toThrow(
        new RegExp(`has 8 partitions but this instance was started with ${other}`),
      );
    }
    const { rows } = await adminQuery(`SELECT count(*)::int AS n FROM "${schema}".leases`);
    expect(rows).toEqual([{ n: 8 }]);
  });
});

describe('partition leases (in-process instances)', () => {
  it('two, then three holders split the partitions fairly and never hold one twice; a leaver hands over', async () => {
    const { store, schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    const a = await startHolder(schema, 'a', 8);
    const b = await startHolder(schema, 'b', 8);
    const overlaps = watchOverlaps([a, b]);
    await waitUntil(
      async () => sizes([a, b]).join() === '4,4' && union([a, b]).size === 8,
      'two holders hold 4 + 4',
    );

    const c = await startHolder(schema, 'c', 8);
    const all = [a, b, c];
    overlaps.push(...watchOverlaps(all));
    await waitUntil(
      async () => sizes(all).join() === '2,3,3' && union(all).size === 8,
      'three holders hold 3 + 3 + 2',
    );
    await waitUntil(async () => c.commits > 0, 'the newcomer applies its partitions');

    await b.stop();
    await waitUntil(
      async () => sizes([a, c]).join() === '4,4' && union([a, c]).size === 8,
      'the two left hold everything',
    );
    await a.stop();
    await c.stop();
    expect(overlaps).toEqual([]);
    expect(await expectLinearChains(store, 8)).toBeGreaterThan(0);
  });

  it('a holder whose lease connection the server kills never shares a partition', async () => {
    const { store, schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    const holders = [
      await startHolder(schema, 'a', 6),
      await startHolder(schema, 'b', 6),
      await startHolder(schema, 'c', 6),
    ];
    const overlaps = watchOverlaps(holders);
    await waitUntil(
      async () => union(holders).size === 6 && sizes(holders).join() === '2,2,2',
      'balanced',
    );

    // Kill b's lease connection several times, sometimes long enough for its leases to lapse.
    for (let round = 0; round < 6; round += 1) {
      await adminQuery(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'truto-state-leases b'`,
      );
      await pause(round % 2 === 0 ? 100 : 400);
    }
    await waitUntil(
      async () => union(holders).size === 6 && sizes(holders).join() === '2,2,2',
      'balanced again',
    );
    for (const h of holders) await h.stop();
    expect(overlaps).toEqual([]);
    await expectLinearChains(store, 6);
  });

  it('a renewal locks its lease rows in partition order, as a swap does: no lock cycle with a swap', async () => {
    const { schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    // Renewed only when the test ticks.
    const a = await twoPartitionHolder(schema, {
      leaseMs: 60_000,
      renewEveryMs: 20_000,
      applicationName: `renewal-order ${schema}`,
    });
    expect([...a.owned()].sort()).toEqual([0, 1]);
    // Partition 0's row updated last: a scan of the table meets partition 1 first.
    await adminQuery(`UPDATE "${schema}".leases SET epoch = epoch WHERE partition = 0`);

    // A swap in the middle of taking every lease row in order: it holds partition 0.
    const swap = new pg.Client({ connectionString: pgUrl() });
    await swap.connect();
    cleanups.push(() => swap.end());
    await swap.query('BEGIN');
    await swap.query(`SELECT 1 FROM "${schema}".leases WHERE partition = 0 FOR UPDATE`);
    const renewal = a.tick();
    await waitUntil(
      async () =>
        (
          await adminQuery(
            `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [`renewal-order ${schema}`],
          )
        ).rowCount === 1,
      'the renewal waits for the row the swap holds',
    );
    // The swap's next row is free: the renewal waits holding nothing. Locking partition 1 first
    // (scan order) would have made this fail at once, and a real swap wait for ever: a deadlock.
    await expect(
      swap.query(`SELECT 1 FROM "${schema}".leases WHERE partition = 1 FOR UPDATE NOWAIT`),
    ).resolves.toMatchObject({ rowCount: 1 });
    await swap.query('COMMIT');
    await renewal;
    expect([...a.owned()].sort()).toEqual([0, 1]);
  });

  it('a commit under a stale fence is refused and writes nothing', async () => {
    const { store, schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    const a = await twoPartitionHolder(schema, { leaseMs: 1500, renewEveryMs: 250 });
    const stale = a.fence(0);
    expect(stale).toBeDefined();
    await a.close();
    const b = await createPartitionLeases({
      connectionString: pgUrl(),
      schema,
      instanceId: 'b',
      partitions: 2,
      leaseMs: 1500,
      renewEveryMs: 250,
    });
    cleanups.push(() => b.close());
    expect([...b.owned()]).toEqual([0, 1]);

    const batch = {
      checkpoints: [{ name: 'p', partition: 0, position: 9, version: 1 }],
      states: [],
      deadLetters: [],
      changes: [
        { projection: 'p', key: 'k', before: undefined, after: 1, eventId: 'e', position: 9 },
      ],
    };
    const refused = await store.projections.commit(batch, {
      fence: stale as NonNullable<typeof stale>,
    });
    expect(refused).toMatchObject({ ok: false, reason: 'lease_lost' });
    expect(await store.projections.readCheckpoint('p', 0)).toBeUndefined();
    expect(await store.projections.lastChangeSeq()).toBe(0);
    await store.projections.commit(batch, {
      fence: b.fence(0) as NonNullable<ReturnType<typeof b.fence>>,
    });
    expect(await store.projections.readCheckpoint('p', 0)).toMatchObject({ position: 9 });
  });
});

const HOLDER = fileURLToPath(new URL('../support/postgres-lease-holder.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/src/store/postgres/index.js', import.meta.url));

interface Child {
  readonly id: string;
  readonly process: ChildProcess;
  owned: number[];
  readonly messages: { type: string; partition?: number }[];
  send(line: string): void;
}

function spawnHolder(
  schema: string,
  id: string,
  partitions: number,
  leaseMs = 5000,
  renewEveryMs = 1000,
): Child {
  const child = spawn(
    process.execPath,
    [HOLDER, pgUrl(), schema, id, String(partitions), String(leaseMs), String(renewEveryMs)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const handle: Child = {
    id,
    process: child,
    owned: [],
    messages: [],
    send: (line) => void child.stdin?.write(`${line}\n`),
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const message = JSON.parse(line) as { type: string; owned?: number[]; partition?: number };
    handle.messages.push(message);
    if (message.type === 'owned') handle.owned = message.owned ?? [];
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  return handle;
}

async function stopChild(child: Child): Promise<void> {
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.send('stop');
  await exited;
}

const childUnion = (children: readonly Child[]) => new Set(children.flatMap((c) => c.owned));

describe.runIf(existsSync(BUILT))('partition leases (real processes)', () => {
  it('takes over a SIGKILLed instance’s partitions within 10 s, never applying one twice', async () => {
    const { store, schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    // Shipped timing: 5 s leases renewed every second.
    const children = ['a', 'b', 'c'].map((id) => spawnHolder(schema, id, 6));
    await waitUntil(
      async () => childUnion(children).size === 6 && children.every((c) => c.owned.length === 2),
      'three processes hold 2 each',
    );

    const [victim, ...survivors] = children as [Child, Child, Child];
    const orphaned = victim.owned;
    victim.process.kill('SIGKILL');
    // The deadline is the requirement: every partition held by a live process within 10 s.
    await waitUntil(
      async () => childUnion(survivors).size === 6,
      'the survivors hold every partition',
      10_000,
    );
    expect(orphaned.every((p) => childUnion(survivors).has(p))).toBe(true);

    // Let the new owners apply the orphaned partitions before checking the journals.
    const before = await store.projections.lastChangeSeq();
    await waitUntil(
      async () => (await store.projections.lastChangeSeq()) > before + 10,
      'work goes on',
    );
    for (const c of survivors) await stopChild(c);
    await expectLinearChains(store, 6);
  });

  it('a process stalled past its lease with a commit in flight is refused when it wakes', async () => {
    const { store, schema, cleanup } = await openFreshPostgresStore();
    cleanups.push(cleanup);
    const a = spawnHolder(schema, 'a', 2, 1500, 250);
    await waitUntil(async () => a.owned.length === 2, 'a holds both partitions');
    // a's next worker reads its state, then waits for "go" before committing.
    a.send('hold');
    await waitUntil(
      async () => a.messages.some((m) => m.type === 'waiting'),
      'a has a commit in flight',
    );
    const held = a.messages.find((m) => m.type === 'waiting')?.partition as number;

    a.process.kill('SIGSTOP');
    const b = spawnHolder(schema, 'b', 2, 1500, 250);
    await waitUntil(
      async () => b.owned.length === 2,
      'b takes over both partitions while a is stopped',
    );
    // b applies a's partition, so a's in-flight step (from an older n) would break the chain.
    const key = `p${held}`;
    const start =
      (
        (await store.projections.readStates('lease-test', [key])).get(key)?.state as
          { n: number } | undefined
      )?.n ?? 0;
    await waitUntil(
      async () =>
        ((
          (await store.projections.readStates('lease-test', [key])).get(key)?.state as
            { n: number } | undefined
        )?.n ?? 0) > start,
      'b applies the partition',
    );

    a.process.kill('SIGCONT');
    a.send('go');
    await waitUntil(
      async () => a.messages.some((m) => m.type === 'refused' && m.partition === held),
      'a’s stale commit is refused',
    );
    await waitUntil(async () => a.owned.length === 1 && b.owned.length === 1, 'the two rebalance');
    await stopChild(a);
    await stopChild(b);
    await expectLinearChains(store, 2);
    const { rows } = await adminQuery(
      `SELECT count(*)::int AS n FROM "${schema}".leases WHERE owner IS NOT NULL`,
    );
    expect(rows[0]).toEqual({ n: 0 });
  });
});

if (!existsSync(BUILT)) {
  console.warn(
    `partition lease process tests skipped: ${BUILT} is missing (run \`npm run build\` first)`,
  );
}
