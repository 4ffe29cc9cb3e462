/**
 * Issue 3: rebuild throughput of every projection on generated histories (200k and 1M events),
 * beside the floor measured in the same run on the same database: reading every stored body and
 * JSON.parse-ing it. Each side runs in its own process so peak RSS is its own. Target: rebuild at
 * >= 1.0x the parse floor, memory growing with entities rather than events.
 *
 * Then the latency from append to the change being published (p50, p99) at a steady 1k events/s:
 * a live engine on a fresh SQLite store, `engine.ingest(body)` per delivery, `engine.changes$`
 * observed; an event's latency runs from its ingest call to the first change published at or
 * past its log position (see PublishTracker).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { generateDeliveries } from '../../src/workload/generator.js';
import type { TrutoEngine as Engine } from '../../src/truto/engine.js';
import { runChild } from '../lib/child.js';
import { failed, latencyFields, now, throughput, versusFloor } from '../lib/measure.js';
import { pace } from '../lib/pace.js';
import { PublishTracker } from '../lib/publish-tracker.js';
import { populate } from '../lib/populate.js';
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
  defaultSizes: [200_000],
  async run(context) {
    const loaded = await loadEngine();
    if (typeof loaded === 'string')
      return [{ bench: BENCH, case: 'rebuild', status: 'not run', note: loaded }];
    const rows: Row[] = [];
    for (const events of context.sizes ?? this.defaultSizes)
      rows.push(...(await rebuildSize(context, events)));
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

async function rebuildSize(context: BenchContext, events: number): Promise<Row[]> {
  const path = join(context.tmp, `rebuild-${events}.db`);
  context.log(`rebuild: populating ${events} events (not measured)`);
  const store = createSqliteEventStore({ path });
  try {
    await populate(store, events, context.seed);
  } finally {
    await store.close();
  }
  const rows: Row[] = [];
  context.log(`rebuild: floor (${events})`);
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
  rows.push(floor);
  context.log(`rebuild: all projections (${events})`);
  try {
    const r = await runChild<ChildResult>(context.root, 'rebuild', ['rebuild', path]);
    rows.push({
      bench: BENCH,
      case: 'rebuild (all projections)',
      status: 'ok',
      ...throughput(r.events, floor.bytes ?? 0, r.ms),
      peakRssMb: r.maxRssMb,
      ...versusFloor(
        r.events / r.ms,
        floor.status === 'ok' ? (floor.events ?? 0) / ((floor.seconds ?? 1) * 1000) : undefined,
        FLOOR,
        1,
        '>= 1.0x parse floor',
      ),
    });
  } catch (error) {
    rows.push(failed(BENCH, 'rebuild (all projections)', error, events));
  }
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
