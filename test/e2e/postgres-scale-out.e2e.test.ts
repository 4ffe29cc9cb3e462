/**
 * Scale-out on one PostgreSQL: three `serve` processes take a signed history round-robin; one is
 * SIGKILLed midway and what it had not acknowledged goes to the others. Afterwards every
 * acknowledged event is stored exactly once, the killed instance's partitions were taken over,
 * and `dump` equals what a single SQLite instance makes of the same events.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { generateDeliveries } from '../../src/workload/generator.js';
import { postWebhook, type Served } from '../http/support/serve.js';
import { usePgServeFleet } from '../support/pg-fleet.js';

const SECRET = 'scale-out-secret';
const fleet = usePgServeFleet('scale', SECRET);
const { servers } = fleet;

describe('three serve processes on one PostgreSQL', () => {
  it('store every acknowledged event once and agree with a single instance', async () => {
    await fleet.start(3);
    const bodies = [
      ...generateDeliveries({ events: 1_200, seed: 606, duplicateRate: 0.05, lateRate: 0.1 }),
    ].map((d) => d.body);
    const alive = new Set([0, 1, 2]);
    const acknowledged = new Set<string>();
    const acksBy = [0, 0, 0];
    let next = 0;
    let posted = 0;
    const victim = servers[1] as Served;

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
        if (i === Math.floor(bodies.length * 0.4) && alive.has(1)) {
          alive.delete(1);
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

    // The same as a single SQLite instance fed the same distinct events.
    await fleet.expectSameAsSingleInstance(bodies);
    // The killed instance had taken its share before it died; the others took the rest.
    expect(acksBy[1]).toBeGreaterThan(0);
    expect((acksBy[0] ?? 0) + (acksBy[2] ?? 0)).toBeGreaterThan(bodies.length / 2);
  });
});
