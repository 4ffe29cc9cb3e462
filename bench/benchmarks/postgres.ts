/**
 * Issues 6 and 14: import, catch-up, rebuild and HTTP ingest on PostgreSQL with one, two and
 * three `serve` instances, beside the SQLite figures of the same run on the same events, and the
 * cost of a lease handover in seconds.
 *
 * Every case is a real process of the built CLI:
 * - import: `truto-state import <file>` of the generated workload (wall time, start-up included);
 * - catch-up: `truto-state dump accounts` right after the import (see catchUpCase);
 * - rebuild: `truto-state rebuild` of that imported log (the engine's own timing; no `serve`
 *   alive, so the figure is the rebuild's alone);
 * - HTTP ingest: signed bodies over 64 keep-alive connections spread round-robin over the
 *   instances (1, 2 and 3 on the default partition count, then 3 with 8 partitions), each
 *   instance warmed up first (WARM_UP_DELIVERIES); req/s, p50/p99, non-200, then how long
 *   until every partition has projected
 *   everything (`GET /stats` lag 0, which on a shared store is the lowest partition checkpoint).
 *   For the scaling estimate (issue 14), the ingest row also gives CPU per request during the
 *   ingest window (the serve instances, PostgreSQL's processes, the load client) and where
 *   PostgreSQL's backends waited (`pg_stat_activity` sampled every 20 ms: heavyweight locks, WAL);
 * - lease handover: 3 instances under a light steady load, one holding partitions SIGKILLed;
 *   seconds until its partitions have a live owner again, and until they have caught up (see
 *   lib/handover.ts).
 *
 * PostgreSQL is the server at `--pg-url`, else an embedded one with normal durability; the
 * settings in force are printed in the first row. On a 2-core machine the three instances, the
 * database and the load generator share the same two cores: expect little or no scaling.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { runCliTimed } from '../lib/cli.js';
import { startCpuMeter } from '../lib/cpu.js';
import { measureHandover, steadyLoad, waitBalanced } from '../lib/handover.js';
import { describeWaits, startWaitSampler } from '../lib/lock-waits.js';
import { createAgent, type LoadResult, type SignedBody } from '../lib/http-client.js';
import { failed, latencyFields, throughput } from '../lib/measure.js';
import { openPostgres, type PostgresServer } from '../lib/postgres-server.js';
import {
  closedLoopSpread,
  startInstance,
  waitProjected,
  type Instance,
} from '../lib/serve-fleet.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';
import { signedDeliveries, WARM_UP_DELIVERIES } from '../lib/signed.js';
import { writeWorkloadFile, type WorkloadFile } from '../lib/workload-file.js';

const BENCH = 'postgres';
const CONNECTIONS = 64;
const INSTANCES = 3;
/**
 * The HTTP ingest cases on PostgreSQL (one run, one server): 1, 2 and 3 instances with the
 * default partition count, then 3 instances with projection spread over 8 partitions, beside.
 */
const SCALE: readonly { instances: number; partitions?: number }[] = [
  { instances: 1 },
  { instances: 2 },
  { instances: 3 },
  { instances: 3, partitions: 8 },
];
const SECRET = 'bench-postgres-secret';
const TOKEN = 'bench-token';
/** The handover's light load (events/s) and how long it runs before the kill (s). */
const HANDOVER_RATE = 200;
const HANDOVER_WARMUP_S = 3;
const SQLITE = 'sqlite, same run';

type Store = 'sqlite' | 'postgres';

export const postgresBenchmark: Benchmark = {
  name: BENCH,
  description:
    'import, rebuild and HTTP ingest on PostgreSQL, 1, 2 and 3 instances (CPU per request, lock waits), beside SQLite; lease handover (issues 6, 14)',
  defaultSizes: [20_000],
  async run(context) {
    if (!existsSync(join(context.root, 'dist/src/cli/main.js')))
      return [
        {
          bench: BENCH,
          case: 'all',
          status: 'not run',
          note: 'dist/src/cli/main.js missing: npm run build',
        },
      ];
    context.log(`postgres: ${context.pgUrl ? 'using --pg-url' : 'starting embedded PostgreSQL'}`);
    const server = await openPostgres(context.pgUrl);
    const rows: Row[] = [];
    try {
      const settings = await server.describe();
      context.log(`postgres: ${settings}`);
      rows.push({
        bench: BENCH,
        case: 'settings',
        status: 'ok',
        // Other work on the machine skews every row: say how busy it was.
        note: `${settings}; SQLite: WAL, synchronous=FULL (shipped); the default partition count unless a row says otherwise; ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at start`,
      });
      for (const events of context.sizes ?? this.defaultSizes)
        rows.push(...(await runSize(context, server, events)));
      rows.push(...(await handover(context, server)));
    } finally {
      await server.stop();
    }
    return rows;
  },
};

/** The CLI's store flags for a SQLite file or a PostgreSQL database (default partition count). */
function storeArgs(store: Store, target: string, partitions?: number): string[] {
  if (store === 'sqlite') return ['--db', target];
  const args = ['--store', 'postgres', '--pg-url', target];
  return partitions === undefined ? args : [...args, '--partitions', String(partitions)];
}

/** `ofFloor` against the SQLite row of the same case (no target: a comparison, not a gate). */
function besideSqlite(
  row: Row,
  sqlite: Row | undefined,
  field: 'eventsPerSec' = 'eventsPerSec',
): Row {
  const mine = row[field];
  const theirs = sqlite?.status === 'ok' ? sqlite[field] : undefined;
  if (row.status !== 'ok' || mine === undefined || theirs === undefined || theirs === 0) return row;
  return { ...row, ofFloor: mine / theirs, floor: SQLITE };
}

async function runSize(
  context: BenchContext,
  server: PostgresServer,
  events: number,
): Promise<Row[]> {
  context.log(`postgres: generating ${events} events`);
  const file = await writeWorkloadFile(context.tmp, events, context.seed);
  const rows: Row[] = [];

  // Import, then a catch-up and a rebuild of what was imported, per store.
  const sqliteDb = join(context.tmp, `import-${events}.db`);
  const pgDb = await server.createDatabase('bench_import');
  try {
    const sqliteImport = await importCase(context, file, 'sqlite', sqliteDb);
    const pgImport = besideSqlite(await importCase(context, file, 'postgres', pgDb), sqliteImport);
    rows.push(sqliteImport, pgImport);
    // A case on each store's imported log, PostgreSQL beside SQLite; not run where import failed.
    const onImported = async (
      label: string,
      run: (store: Store, target: string) => Promise<Row>,
    ): Promise<Row[]> => {
      const sqlite =
        sqliteImport.status === 'ok'
          ? await run('sqlite', sqliteDb)
          : failed(BENCH, `${label}, sqlite`, 'import failed', events);
      const postgres =
        pgImport.status === 'ok'
          ? besideSqlite(await run('postgres', pgDb), sqlite)
          : failed(BENCH, `${label}, postgres`, 'import failed', events);
      return [sqlite, postgres];
    };
    rows.push(
      ...(await onImported('catch-up after import (CLI dump)', (store, target) =>
        catchUpCase(context, file, store, target),
      )),
      ...(await onImported('rebuild (CLI)', (store, target) =>
        rebuildCase(context, file, store, target),
      )),
    );
  } finally {
    await server.dropDatabase(pgDb);
  }

  context.log(`postgres: signing ${events} bodies`);
  const items = signedDeliveries(events, context.seed, SECRET);
  const warmUp = signedDeliveries(
    WARM_UP_DELIVERIES * INSTANCES + 2 * CONNECTIONS,
    context.seed + 7000,
    SECRET,
  );
  const load = { items, warmUp };
  const sqliteHttp = await httpCase(context, server, load, file, 'sqlite', { instances: 1 });
  const pg: { ingest: Row; projected: Row }[] = [];
  for (const scale of SCALE)
    pg.push(await httpCase(context, server, load, file, 'postgres', scale));
  const scaling = (many: Row, one: Row): Row =>
    many !== one &&
    many.status === 'ok' &&
    one.status === 'ok' &&
    many.eventsPerSec &&
    one.eventsPerSec
      ? {
          ...many,
          note: `${(many.eventsPerSec / one.eventsPerSec).toFixed(2)}x the 1-instance rate${many.note ? `; ${many.note}` : ''}`,
        }
      : many;
  const [one] = pg;
  rows.push(
    sqliteHttp.ingest,
    ...pg.map((c) => besideSqlite(scaling(c.ingest, one?.ingest ?? c.ingest), sqliteHttp.ingest)),
    sqliteHttp.projected,
    ...pg.map((c) =>
      besideSqlite(scaling(c.projected, one?.projected ?? c.projected), sqliteHttp.projected),
    ),
  );
  return rows;
}

async function importCase(
  context: BenchContext,
  file: WorkloadFile,
  store: Store,
  target: string,
): Promise<Row> {
  const name = `import (CLI), ${store}`;
  context.log(`postgres: ${name} (${file.events} events)`);
  try {
    const { ms, stdout } = await runCliTimed(context.root, [
      'import',
      file.path,
      ...storeArgs(store, target),
      '--json',
    ]);
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
      stored?: number;
      duplicates?: number;
    };
    if (summary.stored !== file.distinct)
      throw new Error(`stored ${summary.stored}, expected ${file.distinct} distinct events`);
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      ...throughput(file.events, file.bytes, ms),
      note: `${summary.stored} stored, ${summary.duplicates} duplicates; process start-up included`,
    };
  } catch (error) {
    return failed(BENCH, name, error, file.events);
  }
}

/**
 * A catch-up from an empty checkpoint right after `import`: `truto-state dump accounts` projects
 * every partition (side by side on PostgreSQL) before it prints. Process wall time, start-up
 * included; the dump's own output is a few hundred kB.
 */
async function catchUpCase(
  context: BenchContext,
  file: WorkloadFile,
  store: Store,
  target: string,
): Promise<Row> {
  const name = `catch-up after import (CLI dump), ${store}`;
  context.log(`postgres: ${name}`);
  try {
    const { ms, stdout } = await runCliTimed(context.root, [
      'dump',
      'accounts',
      ...storeArgs(store, target),
    ]);
    const accounts = stdout.split('\n').filter((line) => line.trim() !== '').length;
    if (accounts === 0) throw new Error('the dump printed no accounts');
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      ...throughput(file.distinct, file.bytes, ms),
      note: `process wall time, start-up included; ${accounts} accounts dumped`,
    };
  } catch (error) {
    return failed(BENCH, name, error, file.distinct);
  }
}

async function rebuildCase(
  context: BenchContext,
  file: WorkloadFile,
  store: Store,
  target: string,
): Promise<Row> {
  const name = `rebuild (CLI), ${store}`;
  context.log(`postgres: ${name}`);
  try {
    const { ms, stdout } = await runCliTimed(context.root, [
      'rebuild',
      ...storeArgs(store, target),
    ]);
    // "rebuilt a, b: N events to position P in S s (R events/s)": the engine's own timing.
    const match = /: (\d+) events to position \d+ in ([\d.]+) s/.exec(stdout);
    if (!match) throw new Error(`unexpected rebuild output: ${stdout.trim()}`);
    const events = Number(match[1]);
    if (events !== file.distinct)
      throw new Error(`rebuilt ${events} events, expected ${file.distinct}`);
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      ...throughput(events, file.bytes, Number(match[2]) * 1000),
      note: `engine.rebuild() as the CLI reports it; process wall time ${(ms / 1000).toFixed(2)} s`,
    };
  } catch (error) {
    return failed(BENCH, name, error, file.distinct);
  }
}

/**
 * "CPU per request: serve 410 µs (140 + 135 + 135), postgres 180 µs, load client 95 µs": the ingest window's CPU
 * divided by the requests, the figure a scaling estimate for more cores starts from.
 */
function perRequestNote(
  serve: number | undefined,
  eachServe: readonly (number | undefined)[],
  postgres: number | undefined,
  client: NodeJS.CpuUsage,
  requests: number,
): string {
  const us = (seconds: number): string => `${Math.round((seconds * 1e6) / requests)} µs`;
  // How the instances' share is split: an instance that only projects shows its own cost.
  const each =
    eachServe.length > 1
      ? ` (${eachServe.map((s) => (s === undefined ? '?' : Math.round((s * 1e6) / requests))).join(' + ')})`
      : '';
  const parts = [
    ...(serve === undefined ? [] : [`serve ${us(serve)}${each}`]),
    ...(postgres === undefined ? [] : [`postgres ${us(postgres)}`]),
    `load client ${us((client.user + client.system) / 1e6)}`,
  ];
  return `CPU per request while ingesting: ${parts.join(', ')}`;
}

/** "CPU s: serve 9.1, postgres 3.2, client 2.0 of 2 cores x 6.3 s = 12.6": where the time went. */
function cpuNote(
  serve: number | undefined,
  postgres: number | undefined,
  client: NodeJS.CpuUsage,
  ms: number,
): string {
  const parts = [
    ...(serve === undefined ? [] : [`serve ${serve.toFixed(1)}`]),
    ...(postgres === undefined ? [] : [`postgres ${postgres.toFixed(1)}`]),
    `load client ${((client.user + client.system) / 1e6).toFixed(1)}`,
  ];
  const cores = cpus().length;
  return `CPU s: ${parts.join(', ')} of ${cores} cores x ${(ms / 1000).toFixed(1)} s = ${((cores * ms) / 1000).toFixed(1)}`;
}

/**
 * Each row's xmin is the transaction that inserted it: how many append transactions (group
 * commits, one per instance at a time, committing in parallel across instances) the stored
 * events took.
 */
async function appendTransactions(client: pg.Client, after: number): Promise<string> {
  const { rows } = await client.query<{ tx: string; events: string }>(
    'SELECT count(DISTINCT xmin::text) AS tx, count(*) AS events FROM truto_state.events WHERE position > $1',
    [after],
  );
  const tx = Number(rows[0]?.tx ?? 0);
  const events = Number(rows[0]?.events ?? 0);
  return `${tx} append transactions (${tx > 0 ? (events / tx).toFixed(1) : 0} events each)`;
}

/**
 * What PostgreSQL did for the database so far, from its statistics: transactions (a statement
 * outside a transaction counts as one, so this is about the round trips that had to commit) and
 * checkpoint rows written (each projection commit writes its partition's checkpoints). Backends
 * report these lazily; they flush them when they exit, so read them after the instances stopped.
 */
async function pgWork(client: pg.Client): Promise<{ xacts: number; checkpointWrites: number }> {
  const { rows } = await client.query<{ xacts: string; writes: string | null }>(
    `SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database
              WHERE datname = current_database()) AS xacts,
            (SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables
              WHERE schemaname = 'truto_state' AND relname = 'checkpoints') AS writes`,
  );
  return { xacts: Number(rows[0]?.xacts ?? 0), checkpointWrites: Number(rows[0]?.writes ?? 0) };
}

function non200Of(result: Pick<LoadResult, 'statuses'>): { non200: number; other: string[] } {
  let non200 = 0;
  const other: string[] = [];
  for (const [status, n] of result.statuses) {
    if (status === 200) continue;
    non200 += n;
    other.push(`${n}x ${status === 0 ? 'transport error' : status}`);
  }
  return { non200, other };
}

async function httpCase(
  context: BenchContext,
  server: PostgresServer,
  { items, warmUp }: { items: readonly SignedBody[]; warmUp: readonly SignedBody[] },
  file: WorkloadFile,
  store: Store,
  scale: { instances: number; partitions?: number },
): Promise<{ ingest: Row; projected: Row }> {
  const count = scale.instances;
  const label = `${store}, ${count} instance${count === 1 ? '' : 's'}${scale.partitions === undefined ? '' : `, ${scale.partitions} partitions`}`;
  const ingestName = `http ingest, ${label}`;
  const projectedName = `http ingested + projected, ${label}`;
  context.log(`postgres: ${ingestName} (${items.length} requests, ${CONNECTIONS} connections)`);
  const target =
    store === 'sqlite'
      ? join(context.tmp, `http-${items.length}.db`)
      : await server.createDatabase('bench_http');
  const instances: Instance[] = [];
  const client = store === 'postgres' ? new pg.Client({ connectionString: target }) : undefined;
  // Every lease claim bumps its partition's epoch: the sum counts hand-overs.
  const claims = async () =>
    client
      ? Number(
          (
            await client.query<{ n: string }>(
              'SELECT coalesce(sum(epoch), 0) AS n FROM truto_state.leases',
            )
          ).rows[0]?.n ?? 0,
        )
      : 0;
  try {
    for (let i = 0; i < count; i++)
      instances.push(
        await startInstance({
          root: context.root,
          storeArgs: storeArgs(store, target, scale.partitions),
          secret: SECRET,
          token: TOKEN,
        }),
      );
    if (client) {
      await client.connect();
      // Measure ingest, not the rebalancing that follows each start.
      await waitBalanced(
        client,
        instances.map((i) => i.pid),
      );
    }
    const agent = createAgent(CONNECTIONS);
    const urls = instances.map((i) => new URL(`${i.base}/webhooks/truto`));
    const warmed = await closedLoopSpread(
      agent,
      urls,
      warmUp.slice(0, WARM_UP_DELIVERIES * count),
      CONNECTIONS,
    );
    // PostgreSQL backends report their statistics at the end of a transaction at least 1 s after
    // their last report: a few more deliveries after a pause make them report the warm-up's, so
    // the figures below count the measured run (and these few) only.
    await sleep(1_100);
    const flushed = await closedLoopSpread(
      agent,
      urls,
      warmUp.slice(WARM_UP_DELIVERIES * count, WARM_UP_DELIVERIES * count + 2 * CONNECTIONS),
      CONNECTIONS,
    );
    if (non200Of(warmed).non200 + non200Of(flushed).non200 > 0)
      throw new Error('a warm-up delivery was not answered 200');
    const warmHead = Math.max(warmed.maxPosition, flushed.maxPosition);
    await waitProjected(instances[0]!.base, TOKEN, warmHead);
    const claimsBefore = await claims();
    const workBefore = client ? await pgWork(client) : undefined;
    const serveCpu = startCpuMeter(() => instances.map((i) => i.pid));
    const pgCpu = startCpuMeter(() => server.pids());
    const ingestServeCpu = startCpuMeter(() => instances.map((i) => i.pid));
    const eachServeCpu = instances.map((i) => startCpuMeter(() => [i.pid]));
    const ingestPgCpu = startCpuMeter(() => server.pids());
    const waits =
      store === 'postgres'
        ? await startWaitSampler(server.url, new URL(target).pathname.slice(1))
        : undefined;
    const clientCpu = process.cpuUsage();
    const loadStart = performance.now();
    const load = await closedLoopSpread(agent, urls, items, CONNECTIONS);
    const perRequest = perRequestNote(
      ingestServeCpu.stop(),
      eachServeCpu.map((meter) => meter.stop()),
      store === 'postgres' ? ingestPgCpu.stop() : undefined,
      process.cpuUsage(clientCpu),
      items.length,
    );
    const waited = waits ? describeWaits(await waits.stop()) : undefined;
    const projectedAt = await waitProjected(instances[0]!.base, TOKEN, load.maxPosition);
    const cpu = cpuNote(
      serveCpu.stop(),
      store === 'postgres' ? pgCpu.stop() : undefined,
      process.cpuUsage(clientCpu),
      projectedAt - loadStart,
    );
    const moved = (await claims()) - claimsBefore;
    const appends = client ? await appendTransactions(client, warmHead) : undefined;
    // Stopped here (not only in `finally`) so that their backends flush their statistics.
    for (const instance of instances) await instance.running.stop();
    let work: string | undefined;
    if (client && workBefore) {
      // A backend flushes its statistics as it exits: wait until the instances' backends are gone.
      for (let i = 0; i < 200; i++) {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        if (rows[0]?.n === 0) break;
        await sleep(25);
      }
      await client.query('SELECT pg_stat_clear_snapshot()');
      const after = await pgWork(client);
      const per = (n: number): string => (n / items.length).toFixed(2);
      work = `per request, load and drain: ${per(after.xacts - workBefore.xacts)} PostgreSQL transactions, ${per(after.checkpointWrites - workBefore.checkpointWrites)} checkpoint row writes`;
    }
    agent.destroy();
    const { non200, other } = non200Of(load);
    const drainMs = projectedAt - (loadStart + load.ms);
    return {
      ingest: {
        bench: BENCH,
        case: ingestName,
        status: 'ok',
        ...throughput(items.length, file.bytes, load.ms),
        ...latencyFields(load.latencies),
        non200,
        note: [
          perRequest,
          ...(waited ? [waited] : []),
          ...(appends ? [appends] : []),
          ...(other.length > 0
            ? [
                `${other.join(', ')}; first answers: ${[...load.samples].map(([st, body]) => `${st} ${body}`).join(' | ')}`,
              ]
            : []),
        ].join('; '),
      },
      projected: {
        bench: BENCH,
        case: projectedName,
        status: 'ok',
        ...throughput(items.length, file.bytes, projectedAt - loadStart),
        note: `${work ? `${work}; ` : ''}every projection${store === 'postgres' ? ' (every partition)' : ''} at the head ${(Math.max(0, drainMs) / 1000).toFixed(2)} s after the last response (GET /stats polled every 25 ms); ${cpu}${client ? `; ${moved} lease claims during the run` : ''}`,
      },
    };
  } catch (error) {
    return {
      ingest: failed(BENCH, ingestName, error, items.length),
      projected: failed(BENCH, projectedName, error, items.length),
    };
  } finally {
    await client?.end().catch(() => undefined);
    for (const instance of instances) await instance.running.stop();
    if (store === 'postgres') await server.dropDatabase(target);
  }
}

async function handover(context: BenchContext, server: PostgresServer): Promise<Row[]> {
  const ownedName = 'lease handover: partitions owned again';
  const caughtName = 'lease handover: partitions caught up';
  context.log(
    `postgres: lease handover (${INSTANCES} instances, ${HANDOVER_RATE} events/s, one SIGKILLed)`,
  );
  const target = await server.createDatabase('bench_handover');
  const instances: Instance[] = [];
  const client = new pg.Client({ connectionString: target });
  let load: ReturnType<typeof steadyLoad> | undefined;
  const agent = createAgent(CONNECTIONS);
  try {
    for (let i = 0; i < INSTANCES; i++)
      instances.push(
        await startInstance({
          root: context.root,
          storeArgs: storeArgs('postgres', target),
          secret: SECRET,
          token: TOKEN,
        }),
      );
    await client.connect();
    const balanced = await waitBalanced(
      client,
      instances.map((i) => i.pid),
    );
    // Enough distinct events for a minute at the rate: the head keeps moving throughout.
    const items = signedDeliveries(HANDOVER_RATE * 60, context.seed + 6000, SECRET);
    // An instance holding partitions (with the default count, one instance holds the one).
    const holders = new Set(balanced.owners.values());
    const victim =
      instances.find((i) => i !== instances[0] && holders.has(i.pid)) ??
      instances.find((i) => holders.has(i.pid)) ??
      instances[1]!;
    let live = instances.map((i) => new URL(`${i.base}/webhooks/truto`));
    load = steadyLoad(agent, () => live, items, HANDOVER_RATE);
    await sleep(HANDOVER_WARMUP_S * 1000);
    const result = await measureHandover(client, victim.pid, () => {
      // Deliveries go to the survivors from now on; those in flight to the victim are lost.
      live = instances.filter((i) => i !== victim).map((i) => new URL(`${i.base}/webhooks/truto`));
      victim.running.child.kill('SIGKILL');
    });
    const { sent, statuses } = await load.stop();
    load = undefined;
    const { other } = non200Of({ statuses });
    const common = `${INSTANCES} instances, ${HANDOVER_RATE} events/s; killed pid ${victim.pid} held partitions ${result.partitions.join(',')} of ${balanced.owners.size}`;
    return [
      {
        bench: BENCH,
        case: ownedName,
        status: 'ok',
        seconds: result.ownedSeconds,
        note: `${common}; leases last 5 s, renewed every 1 s`,
      },
      {
        bench: BENCH,
        case: caughtName,
        status: 'ok',
        seconds: result.caughtUpSeconds,
        note: `at the head again (within one 50 ms poll); ${result.behindAtTakeover} events behind when taken over; ${sent} sent${other.length > 0 ? `, ${other.join(', ')} (in flight to the killed instance)` : ''}`,
      },
    ];
  } catch (error) {
    return [failed(BENCH, ownedName, error), failed(BENCH, caughtName, error)];
  } finally {
    await load?.stop();
    agent.destroy();
    await client.end().catch(() => undefined);
    for (const instance of instances) await instance.running.stop();
    await server.dropDatabase(target);
  }
}
