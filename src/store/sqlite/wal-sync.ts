/**
 * The fsync behind every durable commit of a file database, shared by all the commits of one
 * turn of the event loop.
 *
 * `synchronous=FULL` in WAL mode is one fsync of the WAL per commit, inside the commit, on the
 * event loop. A webhook's live cycle holds two commits (the append, then the projection of it),
 * so each delivery cost two fsyncs in a row before its change could be published, and a slow
 * fsync (2 to 5 ms on this disk, against 0.2 ms usually) held every request twice. Here commits
 * are made at NORMAL (SQLite writes the WAL frames without syncing them) and whoever waits for
 * one is answered after one `fdatasync` of the WAL, run once per turn for every commit made
 * before it: an append and the projection it triggers in the same turn share it. Nobody is told
 * of a commit before it is on disk (the 200, the change published), so the guarantee is that
 * of FULL; readers of the store can see a commit up to a turn earlier (see `onAppend` in
 * port.ts), never one they were answered for. Checkpoints keep their own syncs: at NORMAL SQLite
 * syncs the WAL before one and the database after it.
 *
 * A failed fsync leaves the file's state unknown (Linux may drop the unwritten pages and report
 * later syncs as clean), and the commit is already visible: so the first failure is kept, and
 * every later write and check fails with it until the store is reopened.
 */
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { type StoreError, storeErrorWithReason } from '../errors.js';

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

export function createWalSync(walPath: string): WalSync {
  let fd: number | undefined;
  let waiting: Waiting | undefined;
  let failure: StoreError | undefined;
  let syncs = 0;

  const syncNow = (): void => {
    if (failure) throw failure;
    try {
      fd ??= openSync(walPath, 'r+');
      fdatasyncSync(fd);
      syncs += 1;
    } catch (error) {
      failure = storeErrorWithReason(
        'store_unavailable',
        `syncing the write-ahead log ${walPath} failed (${error instanceof Error ? error.message : String(error)}): the last commits may not be on disk; restart the service`,
        'the write-ahead log could not be synced',
      );
      throw failure;
    }
  };

  const flush = (): void => {
    const batch = waiting;
    waiting = undefined;
    if (!batch) return;
    try {
      syncNow();
      batch.resolve();
    } catch (error) {
      batch.reject(error);
    }
  };

  return {
    sync() {
      if (!waiting) {
        let resolve!: () => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        waiting = { promise, resolve, reject };
        // The check phase: after every commit this turn's callbacks and their promise chains make.
        setImmediate(flush);
      }
      return waiting.promise;
    },
    check() {
      if (failure) throw failure;
    },
    close() {
      flush();
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
    get syncs() {
      return syncs;
    },
  };
}
