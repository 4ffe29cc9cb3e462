/**
 * Opening a SQLite file with the durability settings the product promises: WAL with
 * `synchronous=FULL` set explicitly (better-sqlite3 leaves WAL databases at NORMAL, which can
 * lose the last commits on power loss), a busy timeout, and the schema migrated.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { requireDriver } from '../shared/driver.js';
import { translateSqliteError } from './errors.js';
import { migrate } from './schema.js';

// Loaded when this module is (importing `truto-state/sqlite`), so a missing driver fails the
// import with `driver_missing`; synchronously, so opening a store stays synchronous.
const Driver = requireDriver<typeof Database>('truto-state/sqlite', 'better-sqlite3');

export interface SqliteConnection {
  readonly db: Database.Database;
  /** Runs `fn` unless closed, translating driver errors. */
  run<T>(doing: string, fn: () => T): T;
  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction (the write lock up front: no upgrade deadlock). */
  write<T>(doing: string, fn: () => T): T;
  readonly closed: boolean;
  close(): void;
}

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
  let closed = false;
  const run = <T>(doing: string, fn: () => T): T => {
    if (closed) throw new StoreError('store_closed', `${doing}: the store is closed`);
    try {
      return fn();
    } catch (error) {
      throw translateSqliteError(error, doing);
    }
  };
  return {
    db,
    run,
    write: (doing, fn) => run(doing, () => db.transaction(fn).immediate()),
    get closed() {
      return closed;
    },
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}
