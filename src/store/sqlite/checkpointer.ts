/**
 * WAL checkpoints on a worker thread, off the event loop.
 *
 * SQLite runs a checkpoint inside the commit that takes the WAL past `wal_autocheckpoint` pages:
 * that commit syncs the WAL, copies its pages into the database and syncs the database before
 * returning, and with the store's synchronous driver the whole process waits. Under HTTP load
 * those commits took 5 to 40 ms each, about 45% of all the time spent committing (bench `http`,
 * 1 KB bodies), and held every request in flight for as long. Here a second connection on a
 * worker thread runs `PRAGMA wal_checkpoint(PASSIVE)` a little after commits were made, while
 * the event loop goes on; the store's own connection keeps SQLite's automatic checkpoint only as
 * a backstop (at `BACKSTOP_PAGES`), for a worker that cannot keep up or has stopped.
 *
 * PASSIVE never waits for a lock and never blocks the writer: it copies what no reader still
 * needs, and SQLite restarts the WAL from its beginning at the first write after a checkpoint
 * that copied everything. A pass that ended with new frames behind it runs again at once, each
 * shorter than the last, until one copies everything. Durability does not depend on it: every
 * commit is on disk in the WAL (wal-sync.ts) before anyone is told of it, and a checkpoint
 * syncs the WAL before it copies and the database after.
 */
import { Worker } from 'node:worker_threads';

/** The automatic checkpoint of the store's own connection, in pages: the backstop. */
export const BACKSTOP_PAGES = 10_000;

/** SQLite's own default, for a store whose checkpointer thread has stopped. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;

/** Frames a checkpoint pass aims to copy; the worker paces its passes to it. */
const TARGET_FRAMES = 1_000;
const FIRST_INTERVAL_MS = 50;
const MIN_INTERVAL_MS = 5;
const MAX_INTERVAL_MS = 400;
/** At most one wake-up message per this period. */
const NUDGE_MS = 50;

export interface Checkpointer {
  /** A commit was made: checkpoint soon. Cheap: one message per `NUDGE_MS` at most. */
  committed(): void;
  /** Stops the worker, after the checkpoint it may be running; resolves once it has exited. */
  close(): Promise<void>;
}

// CommonJS source run with `eval`: no file beside the compiled module to find (and none when
// the sources run untranspiled under a test runner).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
let timer;
let interval = ${FIRST_INTERVAL_MS};
let lastLog = -1;
function schedule(ms) {
  timer = setTimeout(pass, ms);
}
function pass() {
  timer = undefined;
  let row;
  try {
    row = checkpoint.get();
  } catch {
    // Busy or failing: idle until the next commit asks again; the backstop stays.
    return;
  }
  // Frames committed during the pass wait behind it: copy them too, while the pass is short.
  if (row.log > row.checkpointed) return schedule(0);
  // Everything copied: the WAL starts again from its beginning only at a write that begins
  // while nothing is left to copy, which a busy writer rarely leaves time for. RESTART takes
  // the write lock for the little a pass left (without waiting for it: timeout 0), so the
  // next write restarts the WAL; the store's writes wait for it on their busy timers.
  if (row.log >= ${TARGET_FRAMES}) {
    try {
      restart.get();
    } catch {}
  }
  // Nothing written since the last pass: idle until a commit asks again.
  if (row.log === lastLog) return;
  lastLog = row.log;
  // Paced by what each pass found, so a pass copies about ${TARGET_FRAMES} frames whatever the
  // write rate: a WAL that stays short stays fast to read and to copy.
  if (row.log > ${TARGET_FRAMES} * 2) interval = Math.max(${MIN_INTERVAL_MS}, interval / 2);
  else if (row.log < ${TARGET_FRAMES} / 2) interval = Math.min(${MAX_INTERVAL_MS}, interval * 2);
  schedule(interval);
}
function finish() {
  if (timer) clearTimeout(timer);
  try { db.close(); } catch {}
  parentPort.close();
}
parentPort.on('message', (message) => {
  // Between passes (one thread): the timer cleared here is the only pass still to come.
  if (message === 'close') return finish();
  if (timer === undefined) schedule(interval);
});
`;

/**
 * Starts a checkpointer for the database file at `path` (already open, in WAL mode), loading
 * the driver at `driverPath` (the one the store loaded). `stopped` is called if the thread ends
 * before `close` (it failed to start, or failed later): the store then checkpoints for itself.
 */
export function startCheckpointer(
  path: string,
  driverPath: string,
  stopped: () => void,
): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver: driverPath },
  });
  // Never what keeps a process alive.
  worker.unref();
  let alive = true;
  let closing = false;
  const end = (): void => {
    if (!alive) return;
    alive = false;
    if (!closing) stopped();
  };
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      end();
      resolve();
    });
  });
  worker.on('error', end);
  let asked = 0;
  return {
    committed() {
      if (!alive) return;
      const now = performance.now();
      if (now - asked < NUDGE_MS) return;
      asked = now;
      worker.postMessage('run');
    },
    async close() {
      closing = true;
      if (alive) {
        // Waited for: the process must not end with the close unsettled.
        worker.ref();
        worker.postMessage('close');
      }
      await exited;
    },
  };
}
