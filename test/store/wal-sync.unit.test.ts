/**
 * The ordering rules of the shared WAL sync (src/store/sqlite/wal-sync.ts), with file calls whose
 * completion the test decides: a sync runs off the event loop, a caller is answered only by a
 * sync that started after it asked, and the descriptor outlives a sync still running. The real
 * file is covered by sqlite-wal-sync.int.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createWalSync, type WalSyncFiles } from '../../src/store/sqlite/wal-sync.js';

interface Files extends WalSyncFiles {
  /** Completes the oldest running sync (with `error`, if given). */
  finish(error?: Error): void;
  readonly running: number;
  readonly started: number;
  readonly blocking: number;
  readonly closed: number[];
}

function controlledFiles(): Files {
  const running: ((error: Error | null) => void)[] = [];
  let started = 0;
  let blocking = 0;
  const closed: number[] = [];
  return {
    openSync: () => 7,
    fdatasync: (_fd, callback) => {
      started += 1;
      running.push(callback);
    },
    fdatasyncSync: () => {
      blocking += 1;
    },
    closeSync: (fd) => closed.push(fd),
    finish(error) {
      const callback = running.shift();
      if (!callback) throw new Error('no sync is running');
      callback(error ?? null);
    },
    get running() {
      return running.length;
    },
    get started() {
      return started;
    },
    get blocking() {
      return blocking;
    },
    closed,
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function settled(promise: Promise<void>): () => 'pending' | 'resolved' | 'rejected' {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  return () => state;
}

describe('WAL sync ordering', () => {
  it('callers of one turn share one sync, which runs without holding the event loop', async () => {
    const files = controlledFiles();
    const wal = createWalSync('/nowhere-wal', files);
    const a = settled(wal.sync());
    const b = settled(wal.sync());
    await turn();
    expect(files.started).toBe(1);
    // The loop goes on while the disk works: turns pass, nobody is answered yet.
    await turn();
    await turn();
    expect([a(), b()]).toEqual(['pending', 'pending']);
    files.finish();
    await turn();
    expect([a(), b()]).toEqual(['resolved', 'resolved']);
    expect(wal.syncs).toBe(1);
    expect(files.blocking).toBe(0);
  });

  it('a caller that asks while a sync runs waits for the next one, started when that one ends', async () => {
    const files = controlledFiles();
    const wal = createWalSync('/nowhere-wal', files);
    const first = settled(wal.sync());
    await turn();
    expect(files.running).toBe(1);
    // Its commit came after the running sync started: that sync may not cover it.
    const second = settled(wal.sync());
    const third = settled(wal.sync());
    await turn();
    expect(files.started).toBe(1);
    files.finish();
    await turn();
    expect([first(), second(), third()]).toEqual(['resolved', 'pending', 'pending']);
    expect(files.started).toBe(2);
    files.finish();
    await turn();
    expect([second(), third()]).toEqual(['resolved', 'resolved']);
    expect(wal.syncs).toBe(2);
  });

  it('a failed sync fails its callers and every later sync and check', async () => {
    const files = controlledFiles();
    const wal = createWalSync('/nowhere-wal', files);
    const first = wal.sync();
    await turn();
    const during = wal.sync();
    files.finish(new Error('EIO: i/o error'));
    await expect(first).rejects.toMatchObject({ code: 'store_unavailable' });
    // Asked while the failed sync ran: its commit's fate is unknown too.
    await expect(during).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(wal.sync()).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining('EIO'),
    });
    expect(() => wal.check()).toThrow(/restart the service/);
  });

  it('close syncs what waits at once and closes the file only after the running sync ends', async () => {
    const files = controlledFiles();
    const wal = createWalSync('/nowhere-wal', files);
    const first = settled(wal.sync());
    await turn();
    const waiting = settled(wal.sync());
    wal.close();
    await turn();
    expect(waiting()).toBe('resolved');
    expect(files.blocking).toBe(1);
    // The running sync still uses the descriptor.
    expect(files.closed).toEqual([]);
    files.finish();
    await turn();
    expect(first()).toBe('resolved');
    expect(files.closed).toEqual([7]);
    await expect(wal.sync()).rejects.toMatchObject({ code: 'store_closed' });
  });
});
