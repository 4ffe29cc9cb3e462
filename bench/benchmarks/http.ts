/**
 * Issue 5: durable HTTP ingest of signed realistic bodies over 64 concurrent keep-alive
 * connections against the real service (`truto-state serve`, a real process on a real port, the
 * shipped SQLite durability settings), beside the floor measured in the same run on the same
 * bodies: a bare node:http server that reads the body, checks the HMAC and answers 200. Both
 * are warmed up first (WARM_UP_DELIVERIES). Targets: >= 50% of the floor's throughput,
 * p99 <= 50 ms, zero non-200.
 *
 * Then webhook-to-published-change latency at a steady 1k events/s: from each delivery's POST to
 * the first change on `GET /changes` (server-sent events) at or past the position its 200 names
 * (see PublishTracker). Target: p99 <= 10 ms.
 */
import { existsSync } from 'node:fs';
import type { Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closedLoop,
  createAgent,
  openPool,
  openEventStream,
  post,
  type LoadResult,
  type SignedBody,
} from '../lib/http-client.js';
import { startCpuMeter } from '../lib/cpu.js';
import { failed, latencyFields, now, throughput, versusFloor } from '../lib/measure.js';
import { pace } from '../lib/pace.js';
import { PublishTracker } from '../lib/publish-tracker.js';
import { firstLine, start, type Running } from '../lib/processes.js';
import { signedDeliveries, WARM_UP_DELIVERIES } from '../lib/signed.js';
import { startInstance } from '../lib/serve-fleet.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';
import type { BodyProfile } from '../lib/bodies.js';

const BENCH = 'http';
const CONNECTIONS = 64;
const SECRET = 'b3f1c6de-6a63-4c1e-9f3e-bench-secret';
const TOKEN = 'bench-token';
const FLOOR = 'floor: node:http + HMAC';

export const httpBenchmark: Benchmark = {
  name: BENCH,
  description: `signed webhook ingest, ${CONNECTIONS} connections, vs a bare node:http HMAC server; webhook-to-change latency at 1k/s (issue 5)`,
  defaultSizes: [20_000],
  async run(context) {
    const main = join(context.root, 'dist/src/cli/main.js');
    if (!existsSync(main))
      return [
        {
          bench: BENCH,
          case: 'ingest',
          status: 'not run',
          note: 'dist/src/cli/main.js missing: npm run build',
        },
      ];
    const rows: Row[] = [];
    for (const bodies of context.bodies)
      for (const events of context.sizes ?? this.defaultSizes)
        rows.push(
          ...(await ingestSize(context, bodies, events)).map((row) => ({
            ...row,
            bodies: bodies.name,
          })),
        );
    rows.push(await changeLatency(context));
    return rows;
  },
};

function loadRow(name: string, events: number, bytes: number, result: LoadResult): Row {
  const non200 = [...result.statuses]
    .filter(([status]) => status !== 200)
    .reduce((sum, [, n]) => sum + n, 0);
  const other = [...result.statuses]
    .filter(([status]) => status !== 200)
    .map(([s, n]) => `${n}x ${s === 0 ? 'transport error' : s}`);
  return {
    bench: BENCH,
    case: name,
    status: 'ok',
    ...throughput(events, bytes, result.ms),
    ...latencyFields(result.latencies),
    non200,
    ...(other.length > 0 ? { note: other.join(', ') } : {}),
  };
}

/**
 * A closed-loop load with the CPU it cost: the server process's (every thread) and this load
 * client's, per request. Both share the machine's cores, so a row whose client was busy for a
 * whole core measured the client as much as the server.
 */
async function measuredLoad(
  agent: Agent,
  url: URL,
  items: readonly SignedBody[],
  serverPid: number | undefined,
): Promise<{ result: LoadResult; cpu: string }> {
  const server = startCpuMeter(() => (serverPid === undefined ? [] : [serverPid]));
  const client = process.cpuUsage();
  const result = await closedLoop(agent, url, items, CONNECTIONS);
  const serverSeconds = server.stop();
  const clientUsed = process.cpuUsage(client);
  const clientSeconds = (clientUsed.user + clientUsed.system) / 1e6;
  const perRequest = (seconds: number) => `${Math.round((seconds * 1e6) / items.length)} µs`;
  const busy = clientSeconds / (result.ms / 1000);
  const cpu = [
    `CPU per request: ${serverSeconds === undefined ? '' : `server ${perRequest(serverSeconds)}, `}load client ${perRequest(clientSeconds)}`,
    `client busy ${Math.round(busy * 100)}% of a core${busy >= 0.9 ? ' (the client, not the server, set this rate)' : ''}`,
  ].join('; ');
  return { result, cpu };
}

/** The warm-up before a measured load (see WARM_UP_DELIVERIES): every answer must be a 200. */
async function warm(agent: Agent, url: URL, items: readonly SignedBody[]): Promise<void> {
  const result = await closedLoop(agent, url, items, CONNECTIONS);
  const refused = [...result.statuses].filter(([status]) => status !== 200);
  if (refused.length > 0)
    throw new Error(`warm-up answered ${refused.map(([s, n]) => `${n}x ${s}`).join(', ')}`);
}

function withNote(row: Row, note: string): Row {
  return { ...row, note: row.note ? `${row.note}; ${note}` : note };
}

/** Starts `truto-state serve` on a fresh database and a free port. */
function startService(
  context: BenchContext,
  db: string,
): Promise<{ running: Running; base: string }> {
  return startInstance({
    root: context.root,
    storeArgs: ['--db', db],
    secret: SECRET,
    token: TOKEN,
  });
}

async function ingestSize(
  context: BenchContext,
  bodies: BodyProfile,
  events: number,
): Promise<Row[]> {
  context.log(`http: signing ${events} bodies (${bodies.name})`);
  const items = signedDeliveries(events, context.seed, SECRET, bodies);
  const warmUp = signedDeliveries(WARM_UP_DELIVERIES, context.seed + 3000, SECRET, bodies);
  const bytes = items.reduce((sum, item) => sum + item.body.length, 0);
  const rows: Row[] = [];

  context.log(`http: floor (${events} requests, ${CONNECTIONS} connections)`);
  const floorServer = start([join(context.root, 'dist/bench/children/floor-server.js'), SECRET]);
  let floor: Row;
  try {
    const port = Number(await firstLine(floorServer));
    const agent = createAgent(CONNECTIONS);
    const url = new URL(`http://127.0.0.1:${port}/webhooks/truto`);
    await warm(agent, url, warmUp);
    const { result, cpu } = await measuredLoad(agent, url, items, floorServer.child.pid);
    floor = withNote(loadRow(FLOOR, events, bytes, result), cpu);
    agent.destroy();
  } catch (error) {
    floor = failed(BENCH, FLOOR, error, events);
  } finally {
    await floorServer.stop();
  }
  rows.push(floor);

  context.log(`http: truto-state serve (${events} requests, ${CONNECTIONS} connections)`);
  const name = 'serve: POST /webhooks/truto (durable)';
  let service: { running: Running; base: string } | undefined;
  try {
    service = await startService(context, join(context.tmp, `http-${events}-${bodies.name}.db`));
    const agent = createAgent(CONNECTIONS);
    const url = new URL(`${service.base}/webhooks/truto`);
    await warm(agent, url, warmUp);
    const { result, cpu } = await measuredLoad(agent, url, items, service.running.child.pid);
    const row = withNote(loadRow(name, events, bytes, result), cpu);
    agent.destroy();
    const vs = versusFloor(
      row.eventsPerSec,
      floor.eventsPerSec,
      FLOOR,
      0.5,
      '>= 50% floor, p99 <= 50 ms, 0 non-200',
    );
    rows.push({
      ...row,
      ...vs,
      ...(vs.met === undefined
        ? {}
        : { met: vs.met && (row.p99Ms ?? Infinity) <= 50 && row.non200 === 0 }),
    });
  } catch (error) {
    rows.push(failed(BENCH, name, error, events));
  } finally {
    await service?.running.stop();
  }
  return rows;
}

async function changeLatency(context: BenchContext): Promise<Row> {
  const name = 'webhook -> SSE change @1k/s';
  const count = context.latencyEvents;
  context.log(`http: ${name} (${count} events, ~${Math.ceil(count / 1000)} s)`);
  let service: { running: Running; base: string } | undefined;
  let stream: { close(): void } | undefined;
  try {
    service = await startService(context, join(context.tmp, 'http-latency.db'));
    const items = signedDeliveries(count, context.seed + 2000, SECRET);
    const tracker = new PublishTracker();
    let lastChangeAt = now();
    stream = await openEventStream(new URL(`${service.base}/changes`), TOKEN, (data) => {
      lastChangeAt = now();
      const change = JSON.parse(data) as { position?: number };
      if (typeof change.position === 'number') tracker.published(change.position, lastChangeAt);
    });
    const url = new URL(`${service.base}/webhooks/truto`);
    const agent = await openPool(url, CONNECTIONS);
    const statuses = new Map<number, number>();
    let duplicates = 0;
    const pending: Promise<void>[] = [];
    const start = now();
    await pace(1000, count, (i) => {
      const sentAt = now();
      pending.push(
        post(agent, url, items[i]!).then((r) => {
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status !== 200) return;
          // The 200 names the position the event is stored at (or, for a duplicate, the original's).
          const answer = JSON.parse(r.body) as {
            position?: number;
            status?: string;
            duplicate?: boolean;
          };
          if (answer.status === 'duplicate' || answer.duplicate === true) duplicates++;
          else if (typeof answer.position === 'number') tracker.stored(answer.position, sentAt);
        }),
      );
    });
    await Promise.all(pending);
    const ms = now() - start;
    // Changes are published after their commit: wait until the stream has been quiet for a second.
    while (now() - lastChangeAt < 1000) await sleep(100);
    agent.destroy();
    const non200 = [...statuses].filter(([s]) => s !== 200).reduce((sum, [, n]) => sum + n, 0);
    const fields = latencyFields(tracker.latencies);
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      events: count,
      seconds: ms / 1000,
      eventsPerSec: count / (ms / 1000),
      ...fields,
      non200,
      target: 'p99 <= 10 ms',
      met: (fields.p99Ms ?? Infinity) <= 10,
      note: `${tracker.latencies.length} stored events timed by position; ${duplicates} duplicates; ${tracker.unpublished} never followed by a change`,
    };
  } catch (error) {
    return failed(BENCH, name, error, count);
  } finally {
    stream?.close();
    await service?.running.stop();
  }
}
