/**
 * A child process for one rebuild measurement, so its peak RSS is its own:
 * `node dist/bench/children/rebuild.js <parse|rebuild> <db>` prints one JSON line
 * `{ ms, events, bytes, maxRssMb, readMs? }`.
 *
 * - `parse`: the floor: read every stored body from the log and JSON.parse it. A first pass reads
 *   the bodies without parsing (`readMs`), so the parse-only cost is `ms - readMs`.
 * - `rebuild`: `engine.rebuild()` of every projection, from an engine that is not live.
 * - `catchup`: a live engine opened on a log nothing has projected yet (right after `import`),
 *   timed from opening to `catchUp()` resolving: the path a restarted `serve` takes.
 */
import { createTrutoEngine } from '../../src/truto/engine.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { runChildMain } from '../lib/child-main.js';

async function readBodies(
  path: string,
  parse: boolean,
): Promise<{ ms: number; events: number; bytes: number }> {
  const store = createSqliteEventStore({ path });
  const decoder = new TextDecoder();
  let events = 0;
  let bytes = 0;
  let ids = 0;
  const start = performance.now();
  try {
    for await (const batch of store.readAll(0, { withBody: true, batchSize: 1000 })) {
      for (const event of batch) {
        const body = event.body!;
        events++;
        bytes += body.byteLength;
        if (parse && (JSON.parse(decoder.decode(body)) as { id?: unknown }).id !== undefined) ids++;
      }
    }
  } finally {
    await store.close();
  }
  if (parse && ids !== events) throw new Error(`parsed ${ids} ids from ${events} bodies`);
  return { ms: performance.now() - start, events, bytes };
}

async function rebuild(path: string): Promise<{ ms: number; events: number }> {
  const store = createSqliteEventStore({ path });
  try {
    const engine = await createTrutoEngine({ store, live: false });
    const start = performance.now();
    const report = await engine.rebuild();
    const ms = performance.now() - start;
    await engine.close();
    return { ms, events: report.events };
  } finally {
    await store.close();
  }
}

async function catchUp(path: string): Promise<{ ms: number; events: number }> {
  const store = createSqliteEventStore({ path });
  try {
    const start = performance.now();
    const engine = await createTrutoEngine({ store });
    await engine.catchUp();
    const ms = performance.now() - start;
    const events = (await store.stats()).events;
    await engine.close();
    return { ms, events };
  } finally {
    await store.close();
  }
}

async function main(): Promise<Record<string, number>> {
  const [mode, path] = process.argv.slice(2);
  if (path === undefined || (mode !== 'parse' && mode !== 'rebuild' && mode !== 'catchup'))
    throw new Error('usage: rebuild.js <parse|rebuild|catchup> <db>');
  let result: Record<string, number>;
  if (mode === 'parse') {
    const read = await readBodies(path, false);
    const parsed = await readBodies(path, true);
    result = { ...parsed, readMs: read.ms };
  } else if (mode === 'catchup') {
    result = await catchUp(path);
  } else {
    result = await rebuild(path);
  }
  return result;
}

runChildMain(main);
