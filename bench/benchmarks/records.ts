/**
 * Issue 13, "cost that grows with the work": catch-up of `n` `record:created` events for one
 * account and resource (10k and 100k by default; `--events 10k,100k,1m` for a million), each in
 * its own process beside the floor measured on the same database in the same run: reading every
 * stored event's facts back (what the catch-up itself reads). Reported per event (µs/event) with
 * peak RSS. Flat: the per-event cost at every size within 1.5x of the smallest size's, and the
 * catch-up's peak RSS not growing with the records (the summary is one small row; the per-record
 * entities live in the store, not in memory).
 */
import { join } from 'node:path';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { runChild } from '../lib/child.js';
import { failed, versusFloor } from '../lib/measure.js';
import { populateRecords } from '../lib/records-workload.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';

const BENCH = 'records';
const FLOOR = 'floor: read stored facts';
/** Flat: per-event cost at a size within this factor of the smallest size's. */
const FLAT = 1.5;

interface ChildResult {
  ms: number;
  events: number;
  maxRssMb: number;
}

export const recordsBenchmark: Benchmark = {
  name: BENCH,
  description:
    'catch-up of n record:created events in one resource: per-event cost and RSS vs reading the facts (issue 13)',
  defaultSizes: [10_000, 100_000],
  async run(context) {
    const sizes = [...(context.sizes ?? this.defaultSizes)].sort((a, b) => a - b);
    const rows: Row[] = [];
    let baseline: number | undefined;
    for (const n of sizes) {
      const measured = await measureSize(context, n, baseline);
      baseline ??= measured.microsPerEvent;
      rows.push(...measured.rows);
    }
    return rows;
  },
};

async function measureSize(
  context: BenchContext,
  n: number,
  baseline: number | undefined,
): Promise<{ rows: Row[]; microsPerEvent: number | undefined }> {
  const path = join(context.tmp, `records-${n}.db`);
  context.log(`records: populating ${n} record:created events (not measured)`);
  const store = createSqliteEventStore({ path });
  try {
    await populateRecords(store, n);
  } finally {
    await store.close();
  }
  const rows: Row[] = [];
  context.log(`records: floor (${n})`);
  let floorRate: number | undefined;
  try {
    const r = await runChild<ChildResult>(context.root, 'records', ['floor', path, String(n)]);
    floorRate = r.events / r.ms;
    rows.push({
      bench: BENCH,
      case: FLOOR,
      status: 'ok',
      events: r.events,
      seconds: r.ms / 1000,
      eventsPerSec: (r.events / r.ms) * 1000,
      peakRssMb: r.maxRssMb,
      note: `${micros(r.ms, r.events)} µs/event`,
    });
  } catch (error) {
    rows.push(failed(BENCH, FLOOR, error, n));
  }
  context.log(`records: catch-up (${n})`);
  const name = 'catch-up (records, one resource)';
  try {
    const r = await runChild<ChildResult>(context.root, 'records', ['catchup', path, String(n)]);
    const perEvent = (r.ms * 1000) / r.events;
    const growth = baseline === undefined ? 1 : perEvent / baseline;
    rows.push({
      bench: BENCH,
      case: name,
      status: 'ok',
      events: r.events,
      seconds: r.ms / 1000,
      eventsPerSec: (r.events / r.ms) * 1000,
      peakRssMb: r.maxRssMb,
      ...versusFloor(
        r.events / r.ms,
        floorRate,
        FLOOR,
        0,
        `flat: <= ${FLAT}x smallest size's µs/event`,
      ),
      met: growth <= FLAT,
      note: `${micros(r.ms, r.events)} µs/event, ${growth.toFixed(2)}x the smallest size's`,
    });
    return { rows, microsPerEvent: perEvent };
  } catch (error) {
    rows.push(failed(BENCH, name, error, n));
    return { rows, microsPerEvent: undefined };
  }
}

function micros(ms: number, events: number): string {
  return ((ms * 1000) / events).toFixed(1);
}
