/**
 * A lease holder as a real process, for the scale-out tests (run from the built `dist/`, so
 * `npm run build` first). It joins the lease group and, for every partition it holds, runs a
 * worker that keeps committing "n -> n + 1" for that partition under its fence, journalling each
 * step. Two holders applying one partition at once would journal two steps from the same n.
 *
 * argv: url schema instanceId partitions leaseMs renewEveryMs
 * stdout (JSON lines): {type:'owned', owned:[…]}, {type:'waiting', partition}, {type:'refused', partition}
 * stdin lines: `hold` (the next worker to read stops before its commit and reports `waiting`),
 *              `go` (that worker commits now), `stop` (release everything and exit 0).
 */
import { createInterface } from 'node:readline';
import {
  createPartitionLeases,
  createPostgresEventStore,
} from '../../dist/src/store/postgres/index.js';

const [url, schema, instanceId, partitions, leaseMs, renewEveryMs] = process.argv.slice(2);
const print = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const store = await createPostgresEventStore({
  connectionString: url,
  schema,
  poolSize: 4,
  applicationName: `holder ${instanceId}`,
});
const leases = await createPartitionLeases({
  connectionString: url,
  schema,
  instanceId,
  partitions: Number(partitions),
  leaseMs: Number(leaseMs),
  renewEveryMs: Number(renewEveryMs),
});

let stopping = false;
let holdRequested = false;
let releaseHold = () => undefined;
const running = new Set();

async function work(partition) {
  const fence = leases.fence(partition);
  if (!fence || running.has(partition)) return;
  running.add(partition);
  const key = `p${partition}`;
  try {
    while (!stopping && leases.fence(partition)?.epoch === fence.epoch) {
      const current = (await store.projections.readStates('lease-test', [key])).get(key);
      const n = current?.state?.n ?? 0;
      if (holdRequested) {
        holdRequested = false;
        const go = new Promise((resolve) => (releaseHold = resolve));
        print({ type: 'waiting', partition, n });
        await go;
      }
      try {
        const result = await store.projections.commit(
          {
            checkpoints: [],
            deadLetters: [],
            states: [
              {
                projection: 'lease-test',
                row: {
                  key,
                  state: { n: n + 1, by: instanceId },
                  lastTime: 0,
                  lastId: instanceId,
                  position: n + 1,
                  poisoned: null,
                },
              },
            ],
            changes: [
              {
                projection: 'lease-test',
                key,
                before: { n },
                after: { n: n + 1 },
                eventId: `${instanceId}#${fence.epoch}`,
                position: n + 1,
              },
            ],
          },
          { fence },
        );
        if (!result.ok && result.reason === 'lease_lost') {
          print({ type: 'refused', partition });
          return;
        }
      } catch {
        await pause(20); // a store fault (e.g. a killed connection): try again
      }
      await pause(5);
    }
  } finally {
    running.delete(partition);
    // Held again under a newer epoch while this worker was finishing: start afresh.
    if (!stopping && leases.fence(partition) && leases.fence(partition).epoch !== fence.epoch)
      void work(partition);
  }
}

leases.owned$.subscribe((owned) => {
  print({ type: 'owned', owned: [...owned] });
  for (const partition of owned) void work(partition);
});

async function stop() {
  if (stopping) return;
  stopping = true;
  releaseHold();
  await leases.close();
  await store.close();
  process.exit(0);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'hold') holdRequested = true;
  else if (line === 'go') releaseHold();
  else if (line === 'stop') void stop();
});
process.on('SIGTERM', () => void stop());
