/**
 * Opening a SQLite file with the durability settings the product promises: WAL with
 * `synchronous=FULL` set explicitly (better-sqlite3 leaves WAL databases at NORMAL, which can
 * lose the last commits on power loss), a busy timeout, and the schema migrated. On a file, the
 * fsync FULL makes inside each commit is made by the store instead, once per event-loop turn for
 * every commit of that turn, before any is answered (wal-sync.ts).
 *
 * Waiting for another process's write lock never blocks the event loop. better-sqlite3 is
 * synchronous, and SQLite's busy handler sleeps in the calling thread: with the driver's busy
 * timeout at 5 s, one webhook meeting a `BEGIN IMMEDIATE` held elsewhere froze every request of
 * the process (reads and /health included) for 5 s. So the driver's own timeout is 0 after
 * opening, and `write` retries a busy `BEGIN IMMEDIATE` on timers, with backoff, until the
 * store's busy timeout, then fails with `store_busy` (503). In between, the event loop serves
 * everything else; in WAL mode reads never wait for a writer.
 *
 * The file is also watched for deletion: SQLite keeps writing to an open file that was unlinked
 * (or replaced by a restore), and everything written would vanish at exit. Before each write
 * transaction, and on `check()`, the path's device and inode are compared with those the file
 * had when opened; a mismatch fails the write with `store_unavailable` (503).
 */
import { statSync, type Stats } from 'node:fs';
import { createWalSync } from './wal-sync.js';
import type Database from 'better-sqlite3';
import { StoreError, storeErrorWithReason } from '../errors.js';
import { requireDriver, resolveDriver } from '../shared/driver.js';
import {
  BACKSTOP_PAGES,
  DEFAULT_AUTOCHECKPOINT_PAGES,
  startCheckpointer,
  type Checkpointer,
} from './checkpointer.js';
import { translateSqliteError } from './errors.js';
import { migrate } from './schema.js';

// Loaded when this module is (importing `truto-state/sqlite`), so a missing driver fails the
// import with `driver_missing`; synchronously, so opening a store stays synchronous.
const Driver = requireDriver<typeof Database>('truto-state/sqlite', 'better-sqlite3');

/**
 * When a write's promise resolves:
 * - `await` (default): once its commit is on disk;
 * - `deferred`: right after the commit, which is on disk once `sync()` resolves (an append
 *   group announces its events first, so their projection commits in the same turn and shares
 *   the sync; see wal-sync.ts);
 * - `none`: right after the commit, which nobody is told of until a later durable commit,
 *   whose sync covers it (the WAL is written in order): a rebuild's shadow batches.
 */
export type Durability = 'await' | 'deferred' | 'none';

export interface SqliteConnection {
  readonly db: Database.Database;
  /** How long a write waits for another process's lock before `store_busy`. */
  readonly busyTimeoutMs: number;
  /** Runs `fn` unless closed, translating driver errors. */
  run<T>(doing: string, fn: () => T): T;
  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction (the write lock up front: no upgrade deadlock),
   * waiting asynchronously while another process holds the lock. `fn` may run more than once
   * (each attempt that met a busy lock rolled back before it began), so it keeps its effects
   * inside the transaction.
   */
  write<T>(doing: string, fn: () => T, durability?: Durability): Promise<T>;
  /** Resolves once every commit made so far is on disk. */
  sync(): Promise<void>;
  /**
   * Throws `store_unavailable` when the path no longer names the open file, or when a sync of
   * its write-ahead log failed.
   */
  checkFile(): void;
  /** The WAL syncs durable commits have waited for so far (one per turn, see wal-sync.ts). */
  readonly syncs: number;
  /**
   * Waits until no other connection, in this process or another, rebuilds on this file, then
   * holds that until the returned function is called (see `REBUILD_LOCK_SUFFIX`).
   */
  lockRebuild(): Promise<() => Promise<void>>;
  readonly closed: boolean;
  /** Closes the database; resolves once the checkpointer thread has stopped too. */
  close(): Promise<void>;
}

/** Write commits, or WAL bytes, before checkpoints move to their own thread (see openSqlite). */
const CHECKPOINTER_AFTER_COMMITS = 64;
const CHECKPOINTER_AFTER_BYTES = 4 * 1024 * 1024;

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * One rebuild at a time per file: a rebuild holds a write transaction open on a small SQLite file
 * beside the database (`<db>-rebuild.lock`, empty, left in place) for as long as it runs. SQLite's
 * own file locks exclude a second holder, in this process or another, and the operating system
 * drops them when a process dies, so a killed rebuild leaves no stale lock. The database itself is
 * not held: appends and projection commits go on meanwhile.
 */
export const REBUILD_LOCK_SUFFIX = '-rebuild.lock';
/** How often a rebuild waiting for another one tries the lock again. */
const REBUILD_LOCK_POLL_MS = 100;

/** Backoff between attempts at the write lock: short first (locks are usually brief), capped. */
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 50;

/** The device and inode of the file a path names now, or `undefined` when it names none. */
function identityOf(path: string): Pick<Stats, 'dev' | 'ino'> | undefined {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

/** `:memory:` and temporary databases (empty path) have no file to watch. */
const isFile = (path: string): boolean =>
  path !== '' && path !== ':memory:' && !path.startsWith('file:');

/**
 * The page size of new files. Bodies are a few KB each: with the 4 KiB default most spill onto
 * overflow pages, every page is a WAL frame (a write and a checksum) at commit and again at
 * checkpoint, and the WAL auto-checkpoint threshold (1000 pages) came every 4 MB of appends.
 * Larger pages cut an import's storage time (64 KiB by about half, bench/ `import`), but raise
 * the minimum write of every commit, which the live receiver pays on each small group commit
 * (a one-event append: ~0.4 ms at 4 KiB, ~0.7 ms at 64 KiB). 16 KiB is the middle ground.
 * Durability is unchanged (WAL, synchronous=FULL). An existing file keeps its page size.
 */
export const DEFAULT_PAGE_SIZE = 16_384;

/**
 * The page cache of the store's connection, in KiB (SQLite's default is 2 MiB). Projection
 * commits upsert states at keys spread over the whole states table: once the table outgrew the
 * cache, each upsert read its pages from the OS again, and dirty pages were spilled to the WAL in
 * the middle of the transaction. A million-event catch-up (1 KB bodies, 180 MB of state) took
 * 12.3 s at the default, 10.5 to 10.9 s at 64 MiB, and no less at 256 MiB. The cache holds only
 * pages read, so a small file never fills it.
 */
export const PAGE_CACHE_KIB = 65_536;

export function openSqlite(
  path: string,
  busyTimeoutMs: number,
  pageSize = DEFAULT_PAGE_SIZE,
): SqliteConnection {
  let db: Database.Database;
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    let opened: Database.Database | undefined;
    try {
      opened = new Driver(path, { timeout: busyTimeoutMs });
      // Only takes effect on a file with no content yet, and must precede the switch to WAL.
      opened.pragma(`page_size = ${Math.trunc(pageSize)}`);
      opened.pragma('journal_mode = WAL');
      opened.pragma('synchronous = FULL');
      opened.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
      migrate(opened);
      db = opened;
      break;
    } catch (error) {
      opened?.close();
      // Two processes creating one new file race on the switch to WAL, which answers BUSY at
      // once rather than through the busy handler: wait a little and open again.
      if (!isBusy(error) || Date.now() >= deadline) {
        throw translateSqliteError(error, `opening ${path}`);
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  // Opened: from now on a busy lock answers at once, and `write` waits on timers instead.
  db.pragma('busy_timeout = 0');
  const identity = isFile(path) ? identityOf(path) : undefined;
  // A file whose journal could not switch to WAL (SQLite answers the mode it kept) has no WAL
  // to sync: its commits sync inside SQLite.
  const wal = isFile(path) && db.pragma('journal_mode', { simple: true }) === 'wal';
  const walSync = wal ? createWalSync(`${path}-wal`) : undefined;
  // Checkpoints on their own thread (checkpointer.ts), started once the store has written a
  // little (a short-lived store, a CLI command or a test, seldom needs one) or a lot at once (an
  // import's batch). This connection's own automatic checkpoint is a backstop from the start,
  // so that an import's first batch is not copied inside its commit either.
  if (wal) db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  let checkpointer: Checkpointer | undefined;
  let commits = 0;
  const committed = (): void => {
    if (checkpointer) return checkpointer.committed();
    if (!wal) return;
    if (++commits < CHECKPOINTER_AFTER_COMMITS && walBytes(path) < CHECKPOINTER_AFTER_BYTES) return;
    checkpointer = startCheckpointer(path, resolveDriver('better-sqlite3'), () => {
      // The thread is gone: checkpoints in the commits again, as SQLite does by default.
      if (!closed) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    });
    checkpointer.committed();
  };
  const checkFile = (): void => {
    walSync?.check();
    if (identity === undefined) return;
    const now = identityOf(path);
    if (now === undefined || now.dev !== identity.dev || now.ino !== identity.ino) {
      throw storeErrorWithReason(
        'store_unavailable',
        `the database file ${path} was ${now === undefined ? 'deleted' : 'replaced'} while open: writes would be lost; restart the service on the intended file`,
        `the database file was ${now === undefined ? 'deleted' : 'replaced'} while open`,
      );
    }
  };
  let closed = false;
  const run = <T>(doing: string, fn: () => T): T => {
    if (closed) throw new StoreError('store_closed', `${doing}: the store is closed`);
    try {
      return fn();
    } catch (error) {
      throw translateSqliteError(error, doing);
    }
  };
  // Without a WAL file of its own to sync (in memory, a URI name, another journal mode), a
  // durable commit syncs inside SQLite, as synchronous=FULL does.
  // Prepared once: every commit of a file lowers and restores the level.
  const atNormal = db.prepare('PRAGMA synchronous = NORMAL');
  const atFull = db.prepare('PRAGMA synchronous = FULL');
  const commit = <T>(fn: () => T, durability: Durability): T => {
    if (!walSync && durability !== 'none') return db.transaction(fn).immediate();
    // At NORMAL SQLite writes the commit to the WAL without its fsync. Lowered and restored in
    // this one synchronous call, so no other write of this process commits in between.
    atNormal.run();
    try {
      return db.transaction(fn).immediate();
    } finally {
      atFull.run();
    }
  };
  const sync = (): Promise<void> => walSync?.sync() ?? Promise.resolve();
  const write = async <T>(
    doing: string,
    fn: () => T,
    durability: Durability = 'await',
  ): Promise<T> => {
    const deadline = Date.now() + busyTimeoutMs;
    let wait = FIRST_RETRY_MS;
    for (;;) {
      let value: T;
      try {
        value = run(doing, () => {
          checkFile();
          return commit(fn, durability);
        });
      } catch (error) {
        const busy = error instanceof StoreError && error.code === 'store_busy';
        if (!busy || closed || Date.now() + wait > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, MAX_RETRY_MS);
        continue;
      }
      committed();
      if (durability === 'await') await sync();
      return value;
    }
  };
  return {
    db,
    busyTimeoutMs,
    run,
    write,
    sync,
    checkFile,
    get closed() {
      return closed;
    },
    get syncs() {
      return walSync?.syncs ?? 0;
    },
    async lockRebuild() {
      // A database only this connection can open has no one to exclude.
      if (!isFile(path)) return async () => undefined;
      const doing = 'waiting for another rebuild';
      let lock: Database.Database | undefined;
      try {
        lock = new Driver(`${path}${REBUILD_LOCK_SUFFIX}`, { timeout: 0 });
        for (;;) {
          if (closed) throw new StoreError('store_closed', `${doing}: the store is closed`);
          try {
            lock.exec('BEGIN IMMEDIATE');
            break;
          } catch (error) {
            if (!isBusy(error)) throw error;
          }
          await new Promise((resolve) => setTimeout(resolve, REBUILD_LOCK_POLL_MS));
        }
      } catch (error) {
        lock?.close();
        throw error instanceof StoreError ? error : translateSqliteError(error, doing);
      }
      const held = lock;
      return async () => {
        if (held.open) held.close(); // closing ends the transaction, and the lock with it
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      walSync?.close();
      db.close();
      await checkpointer?.close();
    },
  };
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}
