/**
 * The fsync behind every durable commit of a file database, shared by all the commits made
 * before it starts.
 *
 * `synchronous=FULL` in WAL mode is one fsync of the WAL per commit, inside the commit, on the
 * event loop. A webhook's live cycle holds two commits (the append, then the projection of it),
 * so each delivery cost two fsyncs in a row before its change could be published, and a slow
 * fsync (2 to 5 ms on this disk, against 0.2 ms usually) held every request twice. Here commits
 * are made at NORMAL (SQLite writes the WAL frames without syncing them) and whoever waits for
 * one is answered after an `fdatasync` of the WAL that started after the commit: one per turn
 * for every commit made before it (an append and the projection it triggers in the same turn
 * share it), run on libuv's thread pool so that the process goes on reading, parsing and
 * committing the next group meanwhile. Commits made while a sync runs wait for the next one,
 * started as soon as the running one ends. Nobody is told of a commit before it is on disk
 * (the 200, the change published), so the guarantee is that of FULL; readers of the store can
 * see a commit before it is synced (see `onAppend` in port.ts), never one they were answered for.
 * Checkpoints keep their own syncs: at NORMAL SQLite syncs the WAL before one and the database
 * after it, so frames a later commit overwrites at the start of a restarted WAL were on disk.
 *
 * A failed fsync leaves the file's state unknown (Linux may drop the unwritten pages and report
 * later syncs as clean), and the commit is already visible: so the first failure is kept, and
 * every later write and check fails with it until the store is reopened.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { StoreError, storeErrorWithReason } from '../errors.js';

export interface WalSync {
  /** Resolves once every commit this connection made before the call is on disk. */
  sync(): Promise<void>;
  /** Throws the failure of an earlier sync, if any. */
  check(): void;
  /** Syncs what is still waiting, then closes the file. */
  close(): void;
  /** Syncs run so far (each covering every commit made before it). */
  readonly syncs: number;
}

interface Waiting {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The file calls a sync makes (node:fs; a test drives its own to control timing). */
export interface WalSyncFiles {
  readonly openSync: (path: string, flags: string) => number;
  readonly fdatasync: (fd: number, callback: (error: Error | null) => void) => void;
  readonly fdatasyncSync: (fd: number) => void;
  readonly closeSync: (fd: number) => void;
}

const NODE_FILES: WalSyncFiles = { openSync, fdatasync, fdatasyncSync, closeSync };

export function createWalSync(walPath: string, files: WalSyncFiles = NODE_FILES): WalSync {
  let fd: number | undefined;
  /** Callers waiting for the next sync: every commit they made precedes its start. */
  let waiting: Waiting | undefined;
  /** A sync is running on the thread pool; commits made since its start wait for the next. */
  let inFlight = false;
  let closeWhenDone = false;
  let failure: StoreError | undefined;
  let syncs = 0;

  const failWith = (error: unknown): StoreError => {
    failure ??= storeErrorWithReason(
      'store_unavailable',
      `syncing the write-ahead log ${walPath} failed (${error instanceof Error ? error.message : String(error)}): the last commits may not be on disk; restart the service`,
      'the write-ahead log could not be synced',
    );
    return failure;
  };

  const openFile = (): number => {
    if (failure) throw failure;
    try {
      fd ??= files.openSync(walPath, 'r+');
      return fd;
    } catch (error) {
      throw failWith(error);
    }
  };

  const release = (): void => {
    if (fd !== undefined) files.closeSync(fd);
    fd = undefined;
  };

  // Off the event loop: requests keep being read, parsed and committed (into the next group)
  // while the disk works, instead of the whole process stalling for every fsync.
  const start = (): void => {
    const batch = waiting;
    if (!batch || inFlight) return;
    waiting = undefined;
    let file: number;
    try {
      file = openFile();
    } catch (error) {
      batch.reject(error);
      return;
    }
    inFlight = true;
    files.fdatasync(file, (error) => {
      inFlight = false;
      if (error) batch.reject(failWith(error));
      else if (failure) batch.reject(failure);
      else {
        syncs += 1;
        batch.resolve();
      }
      if (closeWhenDone) release();
      // In the check phase, after the answered callers' own commits (the projection of what was
      // just made durable, above all): those join the next sync.
      else if (waiting) setImmediate(start);
    });
  };

  const syncNowBlocking = (): void => {
    const batch = waiting;
    waiting = undefined;
    if (!batch) return;
    try {
      files.fdatasyncSync(openFile());
      syncs += 1;
      batch.resolve();
    } catch (error) {
      batch.reject(failure ?? failWith(error));
    }
  };

  return {
    sync() {
      if (closeWhenDone)
        return Promise.reject(new StoreError('store_closed', 'the store is closed'));
      if (!waiting) {
        let resolve!: () => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        waiting = { promise, resolve, reject };
        // The check phase: after every commit this turn's callbacks and their promise chains make.
        if (!inFlight) setImmediate(start);
      }
      return waiting.promise;
    },
    check() {
      if (failure) throw failure;
    },
    close() {
      syncNowBlocking();
      closeWhenDone = true;
      // A sync still running on the thread pool uses the descriptor: closed when it ends.
      if (!inFlight) release();
    },
    get syncs() {
      return syncs;
    },
  };
}
