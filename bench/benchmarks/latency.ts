/**
 * Issue 15: the latency a subscriber sees, from the outside. A client holds
 * `GET /changes?projection=accounts` open on `truto-state serve` (a real process, the SQLite
 * default with its shipped durability) while another posts signed `integrated_account:created`
 * deliveries, each a new account, at a steady rate over 32 keep-alive connections. For each event
 * id: the time from starting its POST to its change arriving on the stream. At 1k/s and 2k/s,
 * beside the HTTP floor of the same run (the same paced POSTs to a bare node:http server that
 * reads the body and checks the HMAC). Target at 1k/s: p99 <= 10 ms, max <= 50 ms, every delivery
 * 200, every change received.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { signBody } from '../../src/http/signature.js';
import { openEventStream, openPool, post, type SignedBody } from '../lib/http-client.js';
import { failed, latencyFields, now } from '../lib/measure.js';
import { pace } from '../lib/pace.js';
import { firstLine, start, type Running } from '../lib/processes.js';
import { startInstance } from '../lib/serve-fleet.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';

const BENCH = 'latency';
const CONNECTIONS = 32;
const SECRET = 'latency-bench-secret';
const TOKEN = 'latency-bench-token';
const RATES = [1_000, 2_000] as const;
const SECONDS = 5;

export const latencyBenchmark: Benchmark = {
  name: BENCH,
  description: `webhook in → change out on /changes?projection=accounts, new accounts at ${RATES.join(' and ')}/s over ${CONNECTIONS} connections for ${SECONDS} s, beside the HTTP floor (issue 15)`,
  defaultSizes: [SECONDS],
  async run(context) {
    const main = join(context.root, 'dist/src/cli/main.js');
    if (!existsSync(main)) {
      return [{ bench: BENCH, case: 'latency', status: 'not run', note: 'npm run build first' }];
    }
    const seconds = context.sizes?.[0] ?? SECONDS;
    const rows: Row[] = [];
    for (const rate of RATES) {
      const items = newAccounts(rate * seconds, `r${rate}`);
      rows.push(await floor(context, rate, items));
      rows.push(await subscriberLatency(context, rate, items));
    }
    return rows;
  },
};

/** Signed `integrated_account:created` bodies, each for a new account. */
function newAccounts(count: number, tag: string): SignedBody[] {
  const base = Date.UTC(2024, 8, 10, 12);
  return Array.from({ length: count }, (_, i) => {
    const id = `lat-${tag}-${i}`;
    const body = Buffer.from(
      JSON.stringify({
        id,
        event: 'integrated_account:created',
        created_at: new Date(base + i).toISOString(),
        environment_id: 'env-latency',
        payload: {
          id: `acc-${tag}-${i}`,
          status: 'connecting',
          tenant_id: `tenant-${i % 50}`,
          integration: { id: 'int-1', name: 'salesforce', category: 'crm' },
        },
      }),
    );
    return { id, body, signature: signBody(body, SECRET) };
  });
}

/** The same paced POSTs to a bare HMAC server: the round trip nothing stored can beat. */
async function floor(context: BenchContext, rate: number, items: SignedBody[]): Promise<Row> {
  const name = `floor: node:http + HMAC @${rate}/s`;
  context.log(`latency: ${name}`);
  const server = start([join(context.root, 'dist/bench/children/floor-server.js'), SECRET]);
  try {
    const port = Number(await firstLine(server));
    const url = new URL(`http://127.0.0.1:${port}/webhooks/truto`);
    const agent = await openPool(url, CONNECTIONS);
    const latencies: number[] = [];
    let non200 = 0;
    const pending: Promise<void>[] = [];
    const started = now();
    await pace(rate, items.length, (i) => {
      const sentAt = now();
      pending.push(
        post(agent, url, items[i] as SignedBody).then((r) => {
          if (r.status === 200) latencies.push(now() - sentAt);
          else non200++;
        }),
      );
    });
    await Promise.all(pending);
    agent.destroy();
    const ms = now() - started;
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      events: items.length,
      seconds: ms / 1000,
      eventsPerSec: items.length / (ms / 1000),
      ...latencyFields(latencies),
      non200,
    };
  } catch (error) {
    return failed(BENCH, name, error, items.length);
  } finally {
    await server.stop();
  }
}

async function subscriberLatency(
  context: BenchContext,
  rate: number,
  items: SignedBody[],
): Promise<Row> {
  const name = `webhook → SSE change @${rate}/s`;
  context.log(`latency: ${name} (${items.length} events)`);
  let service: Running | undefined;
  let stream: { close(): void } | undefined;
  try {
    const instance = await startInstance({
      root: context.root,
      storeArgs: ['--db', join(context.tmp, `latency-${rate}.db`)],
      secret: SECRET,
      token: TOKEN,
    });
    service = instance.running;
    const { base } = instance;
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let lastChangeAt = now();
    stream = await openEventStream(
      new URL(`${base}/changes?projection=accounts`),
      TOKEN,
      (data) => {
        const arrived = now();
        lastChangeAt = arrived;
        const change = JSON.parse(data) as { eventId?: string };
        const started = change.eventId === undefined ? undefined : sentAt.get(change.eventId);
        if (started !== undefined) {
          latencies.push(arrived - started);
          sentAt.delete(change.eventId as string);
        }
      },
    );
    const url = new URL(`${base}/webhooks/truto`);
    const agent = await openPool(url, CONNECTIONS);
    let non200 = 0;
    const pending: Promise<void>[] = [];
    const started = now();
    await pace(rate, items.length, (i) => {
      const item = items[i] as SignedBody;
      sentAt.set(item.id, now());
      pending.push(
        post(agent, url, item).then((r) => {
          if (r.status !== 200) non200++;
        }),
      );
    });
    await Promise.all(pending);
    const ms = now() - started;
    // Published after commit: wait until every change arrived or the stream was quiet for 2 s.
    while (sentAt.size > 0 && now() - lastChangeAt < 2_000) await sleep(20);
    agent.destroy();
    const fields = latencyFields(latencies);
    const received = latencies.length;
    const met =
      rate === 1_000
        ? (fields.p99Ms ?? Infinity) <= 10 &&
          (fields.maxMs ?? Infinity) <= 50 &&
          non200 === 0 &&
          received === items.length
        : undefined;
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      events: items.length,
      seconds: ms / 1000,
      eventsPerSec: items.length / (ms / 1000),
      ...fields,
      non200,
      ...(rate === 1_000 ? { target: 'p99 <= 10 ms, max <= 50 ms, all 200, all received' } : {}),
      ...(met === undefined ? {} : { met }),
      note: `${received}/${items.length} changes received`,
    };
  } catch (error) {
    return failed(BENCH, name, error, items.length);
  } finally {
    stream?.close();
    await service?.stop();
  }
}
