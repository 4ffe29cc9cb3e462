/**
 * Scale-out on one PostgreSQL: three `serve` processes take a signed history round-robin; one is
 * SIGKILLed midway and what it had not acknowledged goes to the others. Afterwards every
 * acknowledged event is stored exactly once, the killed instance's partitions were taken over,
 * and `dump` equals what a single SQLite instance makes of the same events. Twice: with 8
 * partitions spread over the instances, and with the default count, where one instance holds
 * the one partition and is the one killed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { generateDeliveries } from '../../src/workload/generator.js';
import { postWebhook, type Served } from '../http/support/serve.js';
import { usePgServeFleet } from '../support/pg-fleet.js';

const SECRET = 'scale-out-secret';

/**
 * The index of the server holding partition 0 once the three have settled: with one partition,
 * the first live instance by id keeps it (leases.ts: each takes its fair share).
 */
async function settledHolder(databaseUrl: string, servers: readonly Served[]): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await client.query<{
        owner: string | null;
        first: string | null;
        live: number;
      }>(
        `SELECT l.owner,
                (SELECT min(instance COLLATE "C") FROM truto_state.lease_instances
                  WHERE expires_at > clock_timestamp()) AS first,
                (SELECT count(*)::int FROM truto_state.lease_instances
                  WHERE expires_at > clock_timestamp()) AS live
           FROM truto_state.leases l WHERE l.partition = 0`,
      );
      const row = rows[0];
      if (row?.owner && row.live === servers.length && row.owner === row.first) {
        const holder = servers.findIndex((s) => row.owner?.includes(`-${s.child.pid}-`));
        if (holder >= 0) return holder;
      }
      await sleep(50);
    }
  } finally {
    await client.end();
  }
  throw new Error('partition 0 never settled on one of the servers');
}

describe.each([
  { label: '8 partitions, a holder of some killed', partitions: 8 },
  { label: 'the default partition count, its holder killed', partitions: undefined },
])('three serve processes on one PostgreSQL ($label)', ({ partitions }) => {
  const fleet = usePgServeFleet(`scale${partitions ?? ''}`, SECRET, partitions);
  const { servers } = fleet;

  it('store every acknowledged event once and agree with a single instance', async () => {
    await fleet.start(3);
    const killed = partitions === undefined ? await settledHolder(fleet.databaseUrl, servers) : 1;
    const bodies = [
      ...generateDeliveries({ events: 1_200, seed: 606, duplicateRate: 0.05, lateRate: 0.1 }),
    ].map((d) => d.body);
    const alive = new Set([0, 1, 2]);
    const acknowledged = new Set<string>();
    const acksBy = [0, 0, 0];
    let next = 0;
    let posted = 0;
    const victim = servers[killed] as Served;

    const deliver = async (body: string, first: number) => {
      for (let attempt = 0; ; attempt++) {
        const live = [...alive];
        const index = live[(first + attempt) % live.length] as number;
        try {
          const response = await postWebhook((servers[index] as Served).url, body, {
            secret: SECRET,
          });
          if (response.status === 200) {
            acknowledged.add(String(response.json.id));
            acksBy[index] = (acksBy[index] ?? 0) + 1;
            return;
          }
          expect(response.status, JSON.stringify(response.json)).toBe(503);
        } catch {
          // The connection died with the instance: the delivery was not acknowledged, resend.
        }
        if (attempt > 20) throw new Error(`could not deliver after ${attempt} attempts`);
      }
    };

    const worker = async () => {
      while (next < bodies.length) {
        const i = next++;
        if (i === Math.floor(bodies.length * 0.4) && alive.has(killed)) {
          alive.delete(killed);
          victim.child.kill('SIGKILL');
        }
        await deliver(bodies[i] as string, i);
        posted++;
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(posted).toBe(bodies.length);
    await victim.exited;

    const distinct = new Set(bodies.map((b) => (JSON.parse(b) as { id: string }).id));
    expect(acknowledged).toEqual(distinct);

    // Stored exactly once, straight from the database.
    const client = new pg.Client({ connectionString: fleet.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; n: string }>(
        'SELECT id, count(*) AS n FROM truto_state.events GROUP BY id',
      );
      expect(rows.every((r) => r.n === '1')).toBe(true);
      expect(new Set(rows.map((r) => r.id))).toEqual(distinct);
    } finally {
      await client.end();
    }

    // Every partition, the killed instance's too, is held by a survivor (before any CLI joins).
    const survivors = servers.filter((_, i) => i !== killed).map((s) => `-${s.child.pid}-`);
    const owners = new pg.Client({ connectionString: fleet.databaseUrl });
    await owners.connect();
    try {
      let held = false;
      for (let i = 0; i < 300 && !held; i++) {
        const { rows } = await owners.query<{ owner: string | null }>(
          'SELECT owner FROM truto_state.leases WHERE expires_at > clock_timestamp() OR owner IS NULL',
        );
        held =
          rows.length === (partitions ?? 1) &&
          rows.every((r) => survivors.some((pid) => r.owner?.includes(pid)));
        if (!held) await sleep(50);
      }
      expect(held, 'every partition held by a survivor').toBe(true);
    } finally {
      await owners.end();
    }

    // The same as a single SQLite instance fed the same distinct events.
    await fleet.expectSameAsSingleInstance(bodies);
    // The killed instance had taken its share before it died; the others took the rest.
    expect(acksBy[killed]).toBeGreaterThan(0);
    expect(bodies.length - (acksBy[killed] ?? 0)).toBeGreaterThan(bodies.length / 2);
  });
});
