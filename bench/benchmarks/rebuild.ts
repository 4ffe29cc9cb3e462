/**
 * Issues 3 and 13: projection throughput on generated histories (100k and 1M events, ~1 KB and
 * ~5 KB bodies), beside the floor measured in the same run on the same database: reading every
 * stored body and JSON.parse-ing it. The log is written by `truto-state import` (not measured);
 * then, each in its own process so peak RSS is its own:
 *   - live catch-up from an empty checkpoint (a live engine's `catchUp()`): >= 0.8x the floor;
 *   - `truto-state rebuild`, the CLI process end to end: >= 1.0x the floor, memory growing with
 *     entities rather than events.
 *
 * Then the latency from append to the change being published (p50, p99) at a steady 1k events/s:
 * a live engine on a fresh SQLite store, `engine.ingest(body)` per delivery, `engine.changes$`
 * observed; an event's latency runs from its ingest call to the first change published at or
 * past its log position (see PublishTracker).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { generateDeliveries } from '../../src/workload/generator.js';
import type { TrutoEngine as Engine } from '../../src/truto/engine.js';
import { runChild } from '../lib/child.js';
import { failed, latencyFields, now, throughput, versusFloor } from '../lib/measure.js';
import { pace } from '../lib/pace.js';
import { PublishTracker } from '../lib/publish-tracker.js';
import { runCliTimed } from '../lib/cli.js';
import type { BodyProfile } from '../lib/bodies.js';
import { writeWorkloadFile } from '../lib/workload-file.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';

const BENCH = 'rebuild';
const FLOOR = 'floor: read + JSON.parse bodies';

interface ChildResult {
  ms: number;
  events: number;
  bytes?: number;
  readMs?: number;
  maxRssMb: number;
}

export const rebuildBenchmark: Benchmark = {
  name: BENCH,
  description:
    'rebuild of all projections vs JSON.parse of every stored body; append-to-change latency at 1k/s (issue 3)',
  defaultSizes: [100_000],
  async run(context) {
    const loaded = await loadEngine();
    if (typeof loaded === 'string')
      return [{ bench: BENCH, case: 'rebuild', status: 'not run', note: loaded }];
    const rows: Row[] = [];
    for (const bodies of context.bodies)
      for (const events of context.sizes ?? this.defaultSizes)
        rows.push(...(await rebuildSize(context, bodies, events)));
    rows.push(await changeLatency(context, loaded));
    return rows;
  },
};

type CreateEngine = (options: {
  store: ReturnType<typeof createSqliteEventStore>;
}) => Promise<Engine>;

/** The engine module, or why it cannot be used yet (it is written in parallel with this bench). */
async function loadEngine(): Promise<CreateEngine | string> {
  try {
    const module = (await import('../../src/truto/engine.js')) as unknown as {
      createTrutoEngine?: CreateEngine;
    };
    return typeof module.createTrutoEngine === 'function'
      ? module.createTrutoEngine
      : 'src/truto/engine.ts exports no createTrutoEngine';
  } catch (error) {
    return `the engine cannot be loaded: ${(error as Error).message}`;
  }
}

async function rebuildSize(
  context: BenchContext,
  bodies: BodyProfile,
  events: number,
): Promise<Row[]> {
  const tag = `${events} events, ${bodies.name} bodies`;
  const path = join(context.tmp, `rebuild-${events}-${bodies.name}.db`);
  context.log(`rebuild: importing ${tag} (not measured)`);
  const file = await writeWorkloadFile(context.tmp, events, context.seed, bodies);
  await runCliTimed(context.root, ['import', file.path, '--db', path, '--json']);
  rmSync(file.path);
  const labelled = (row: Row): Row => ({ ...row, bodies: bodies.name });
  const rows: Row[] = [];

  context.log(`rebuild: floor (${tag})`);
  let floor: Row;
  try {
    const r = await runChild<ChildResult>(context.root, 'rebuild', ['parse', path]);
    floor = {
      bench: BENCH,
      case: FLOOR,
      status: 'ok',
      ...throughput(r.events, r.bytes ?? 0, r.ms),
      peakRssMb: r.maxRssMb,
      note: `parse alone ${(r.ms - (r.readMs ?? 0)).toFixed(0)} ms of ${r.ms.toFixed(0)} ms; ${events} deliveries, ${r.events} distinct`,
    };
  } catch (error) {
    floor = failed(BENCH, FLOOR, error, events);
  }
  rows.push(labelled(floor));
  const floorRate =
    floor.status === 'ok' ? (floor.events ?? 0) / ((floor.seconds ?? 1) * 1000) : undefined;

  // Live catch-up first: the log is as `import` left it, nothing projected yet.
  const catchUpName = 'live catch-up after import';
  context.log(`rebuild: ${catchUpName} (${tag})`);
  try {
    const r = await runChild<ChildResult>(context.root, 'rebuild', ['catchup', path]);
    rows.push(
      labelled({
        bench: BENCH,
        case: catchUpName,
        status: 'ok',
        ...throughput(r.events, floor.bytes ?? 0, r.ms),
        peakRssMb: r.maxRssMb,
        ...versusFloor(r.events / r.ms, floorRate, FLOOR, 0.8, '>= 0.8x parse floor'),
      }),
    );
  } catch (error) {
    rows.push(labelled(failed(BENCH, catchUpName, error, events)));
  }

  const rebuildName = 'rebuild (CLI process)';
  context.log(`rebuild: ${rebuildName} (${tag})`);
  try {
    const r = await runCliTimed(context.root, ['rebuild', '--db', path]);
    const distinct = floor.events ?? 0;
    rows.push(
      labelled({
        bench: BENCH,
        case: rebuildName,
        status: 'ok',
        ...throughput(distinct, floor.bytes ?? 0, r.ms),
        ...(r.peakRssMb === undefined ? {} : { peakRssMb: r.peakRssMb }),
        ...versusFloor(distinct / r.ms, floorRate, FLOOR, 1, '>= 1.0x parse floor'),
        note: 'process start-up included',
      }),
    );
  } catch (error) {
    rows.push(labelled(failed(BENCH, rebuildName, error, events)));
  }
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  return rows;
}

async function changeLatency(context: BenchContext, createEngine: CreateEngine): Promise<Row> {
  const name = 'append -> published change @1k/s';
  const count = context.latencyEvents;
  context.log(`rebuild: ${name} (${count} events, ~${Math.ceil(count / 1000)} s)`);
  const store = createSqliteEventStore({ path: join(context.tmp, 'latency.db') });
  let engine: Engine | undefined;
  try {
    engine = await createEngine({ store });
    const tracker = new PublishTracker();
    let lastChangeAt = now();
    const subscription = engine.changes$.subscribe((change) => {
      lastChangeAt = now();
      if (change.kind === 'change') tracker.published(change.position, lastChangeAt);
    });
    // A different seed from the throughput runs: another history, same shape.
    const deliveries = [...generateDeliveries({ events: count, seed: context.seed + 1000 })];
    const pending: Promise<unknown>[] = [];
    const e = engine;
    let duplicates = 0;
    const start = now();
    await pace(1000, count, (i) => {
      const sentAt = now();
      pending.push(
        e.ingest(deliveries[i]!.body).then((result) => {
          if (result.status === 'stored') tracker.stored(result.position, sentAt);
          else duplicates++;
        }),
      );
    });
    await Promise.all(pending);
    await e.catchUp();
    const ms = now() - start;
    // Changes may reach subscribers after catchUp resolves: wait for a quiet second.
    while (now() - lastChangeAt < 1000) await sleep(100);
    subscription.unsubscribe();
    return {
      bench: BENCH,
      case: name,
      status: 'ok',
      events: count,
      seconds: ms / 1000,
      eventsPerSec: count / (ms / 1000),
      ...latencyFields(tracker.latencies),
      note: `${tracker.latencies.length} stored events timed by position; ${duplicates} duplicates; ${tracker.unpublished} never followed by a change`,
    };
  } catch (error) {
    return failed(BENCH, name, error, count);
  } finally {
    await engine?.close();
    await store.close();
  }
}
