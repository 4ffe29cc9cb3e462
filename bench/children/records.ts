/**
 * A child process for one `records` measurement, so its peak RSS is its own:
 * `node dist/bench/children/records.js <floor|catchup> <db> <n>` prints one JSON line
 * `{ ms, events, maxRssMb, live? }`.
 *
 * - `floor`: read every stored event's facts back from the log (the store parses their JSON):
 *   what the catch-up itself must read, since the Truto projections fold facts, not bodies.
 * - `catchup`: a Truto engine (not live) on the same database, `catchUp()` from an empty
 *   checkpoint: every projection, `record-states` and the `records` summary included; then the
 *   summary row is read and its `live` checked against `n`.
 */
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { createTrutoEngine } from '../../src/truto/engine.js';
import { recordsKey } from '../../src/truto/projections/index.js';
import { BENCH_ACCOUNT, BENCH_RESOURCE } from '../lib/records-workload.js';
import { runChildMain } from '../lib/child-main.js';

async function floor(path: string): Promise<{ ms: number; events: number }> {
  const store = createSqliteEventStore({ path });
  let events = 0;
  let ids = 0;
  const start = performance.now();
  try {
    for await (const batch of store.readAll(0, { batchSize: 5000 })) {
      for (const event of batch) {
        events++;
        if ((event.data as { recordId?: unknown } | null)?.recordId !== undefined) ids++;
      }
    }
  } finally {
    await store.close();
  }
  if (ids !== events) throw new Error(`read ${ids} record facts from ${events} events`);
  return { ms: performance.now() - start, events };
}

async function catchUp(path: string, n: number): Promise<{ ms: number; events: number }> {
  const store = createSqliteEventStore({ path });
  try {
    const engine = await createTrutoEngine({ store, live: false });
    const start = performance.now();
    const position = await engine.catchUp();
    const summary = await engine.get('records', recordsKey(BENCH_ACCOUNT, BENCH_RESOURCE));
    const ms = performance.now() - start;
    await engine.close();
    if (summary?.live !== n) throw new Error(`records live is ${summary?.live}, expected ${n}`);
    return { ms, events: position };
  } finally {
    await store.close();
  }
}

async function main(): Promise<Record<string, number>> {
  const [mode, path, count] = process.argv.slice(2);
  const n = Number(count);
  if (path === undefined || !Number.isInteger(n) || (mode !== 'floor' && mode !== 'catchup'))
    throw new Error('usage: records.js <floor|catchup> <db> <n>');
  const result = mode === 'floor' ? await floor(path) : await catchUp(path, n);
  return result;
}

runChildMain(main);
