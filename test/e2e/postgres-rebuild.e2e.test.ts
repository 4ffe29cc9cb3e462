/**
 * `truto-state rebuild` beside three running `serve` processes on one PostgreSQL, under load.
 * Nobody is stopped: while the CLI folds the log into shadows and swaps them in, deliveries keep
 * arriving round-robin, every instance keeps answering reads (200 throughout), and each
 * instance's SSE clients get a `reset` and then further changes. Afterwards every acknowledged
 * event is stored once, and every projection equals what a single SQLite instance makes of the
 * same events: nothing appended during the rebuild was lost or folded twice across the swap.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateDeliveries } from '../../src/workload/generator.js';
import {
  cleanEnv,
  getJson,
  postWebhook,
  runCli,
  waitCaughtUp,
  type Served,
} from '../http/support/serve.js';
import { connectSse, type SseClient } from '../http/support/sse.js';
import { usePgServeFleet } from '../support/pg-fleet.js';

const SECRET = 'rebuild-secret';
const fleet = usePgServeFleet('rebuild', SECRET, 8);
const { servers, pgArgs } = fleet;
const clients: SseClient[] = [];

afterAll(() => {
  for (const client of clients) client.close();
});

describe('rebuild with three serve processes running', () => {
  it('swaps in rebuilt state under load: reads stay up, nothing lost or doubled, SSE resets then goes on', async () => {
    await fleet.start(3);
    const bodies = [
      ...generateDeliveries({ events: 2_400, seed: 707, duplicateRate: 0.05, lateRate: 0.1 }),
    ].map((d) => d.body);
    const acknowledged = new Set<string>();
    let next = 0;
    let posted = 0;

    const deliver = async (body: string, first: number) => {
      for (let attempt = 0; ; attempt++) {
        const server = servers[(first + attempt) % servers.length] as Served;
        const response = await postWebhook(server.url, body, { secret: SECRET });
        if (response.status === 200) {
          acknowledged.add(String(response.json.id));
          return;
        }
        expect(response.status, JSON.stringify(response.json)).toBe(503);
        if (attempt > 20) throw new Error(`could not deliver after ${attempt} attempts`);
      }
    };
    const worker = async (upTo: number) => {
      while (next < upTo) {
        const i = next++;
        await deliver(bodies[i] as string, i);
        posted++;
      }
    };

    // A history to rebuild, then clients on every instance.
    const half = Math.floor(bodies.length / 2);
    await Promise.all(Array.from({ length: 8 }, () => worker(half)));
    for (const server of servers) {
      const client = await connectSse(`${server.url}/changes`);
      expect(client.status).toBe(200);
      clients.push(client);
    }

    // Readers on every instance for the whole run: any answer but 200 is recorded.
    let reading = true;
    let reads = 0;
    const failedReads: string[] = [];
    const reader = async (server: Served) => {
      while (reading) {
        for (const path of ['/accounts?limit=5', '/runs?limit=5', '/stats']) {
          const { status } = await getJson(server.url, path);
          reads++;
          if (status !== 200) failedReads.push(`${server.url}${path}: ${status}`);
        }
      }
    };
    const readers = servers.map(reader);

    // The rest of the deliveries, slowed so that the rebuild runs in the middle of them.
    let during = { start: 0, end: 0, reads: 0 };
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < bodies.length) {
          await worker(Math.min(bodies.length, next + 1));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }),
    );
    const rebuild = (async () => {
      while (posted < half + 200) await new Promise((resolve) => setTimeout(resolve, 20));
      during = { start: posted, end: 0, reads };
      const result = await runCli(['rebuild', ...pgArgs()], { env: cleanEnv() });
      during = { ...during, end: posted, reads: reads - during.reads };
      return result;
    })();
    const [result] = await Promise.all([rebuild, load]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^rebuilt accounts, runs, record-states, records/);
    // The swap happened while deliveries arrived and reads were answered.
    expect(during.end).toBeGreaterThan(during.start);
    expect(during.reads).toBeGreaterThan(0);

    for (const server of servers) await waitCaughtUp(server.url);
    reading = false;
    await Promise.all(readers);
    expect(failedReads).toEqual([]);

    const distinct = new Set(bodies.map((b) => (JSON.parse(b) as { id: string }).id));
    expect(acknowledged).toEqual(distinct);

    // Every client saw the rebuilt projections reset, then changes after the reset.
    for (const client of clients) {
      const reset = await client.waitFor(
        (f) => f.event === 'reset' && f.data?.includes('"projection":"runs"') === true,
      );
      const after = client.frames.indexOf(reset);
      await client.waitFor((f) => f.event === 'change', after + 1);
    }

    // The same as a single SQLite instance fed the same distinct events.
    await fleet.expectSameAsSingleInstance(bodies);
  });
});
