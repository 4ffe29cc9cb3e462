/**
 * WAL checkpoints on their own thread (src/store/sqlite/checkpointer.ts), on a real SQLite file:
 * a store that keeps writing gets its WAL copied into the database and started again from its
 * beginning without its own connection checkpointing (its automatic checkpoint is only a backstop
 * at BACKSTOP_PAGES, far beyond what this test writes), and closing the store stops the thread.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { openSync, readSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKSTOP_PAGES, startCheckpointer } from '../../src/store/sqlite/checkpointer.js';
import { createSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite/index.js';
import { makeEvent } from '../support/events.js';
import { assertBuilt, finished } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';

let temp: TempDir | undefined;
let store: SqliteEventStore | undefined;
afterEach(async () => {
  await store?.close().catch(() => undefined);
  await temp?.cleanup();
  store = temp = undefined;
});

/**
 * The WAL header's checkpoint sequence number (bytes 12-15, big-endian): SQLite increments it
 * each time a write starts the WAL again from its beginning, after a checkpoint copied it all.
 */
function walResets(path: string): number {
  const fd = openSync(`${path}-wal`, 'r');
  try {
    const header = Buffer.alloc(16);
    readSync(fd, header, 0, 16, 0);
    return header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

const require = createRequire(import.meta.url);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WAL checkpoints on a worker thread (SQLite file)', () => {
  it('a writing store has its WAL copied and restarted while its own checkpoint is only a backstop', async () => {
    temp = await createTempDir('truto-state-checkpointer-');
    const path = temp.path('log.db');
    store = createSqliteEventStore({ path });
    // Past the commits after which the thread starts.
    for (let i = 0; i < 100; i++) await store.append([makeEvent(`warm-${i}`)]);
    // The store's own connection checkpoints only at the backstop.
    expect((await store.readSettings()).walAutocheckpoint).toBe(BACKSTOP_PAGES);
    const before = walResets(path);
    let resets = before;
    let appended = 100;
    // Small commits, a few pages each: below the backstop however long this takes.
    for (let i = 0; i < 1_000 && resets === before; i++) {
      await store.append([makeEvent(`e-${i}`)]);
      appended++;
      if (i % 20 === 19) {
        await pause(10);
        resets = walResets(path);
      }
    }
    expect(resets).toBeGreaterThan(before);
    expect((await store.stats()).events).toBe(appended);
    expect(await store.checkIntegrity()).toEqual(['ok']);
  });

  it('closing the store stops the thread; the file reopens with every event', async () => {
    temp = await createTempDir('truto-state-checkpointer-');
    const path = temp.path('log.db');
    store = createSqliteEventStore({ path });
    for (let i = 0; i < 200; i++) await store.append([makeEvent(`c-${i}`)]);
    await store.close();
    store = createSqliteEventStore({ path });
    expect((await store.stats()).events).toBe(200);
    expect(await store.checkIntegrity()).toEqual(['ok']);
  });

  it('a process that closes its store after a large write runs on until the close is done', async () => {
    // The thread is not what keeps a process alive, but a close waits for it: a process whose
    // last work was that wait ended with the close unsettled (exit code 13, nothing after it).
    assertBuilt();
    temp = await createTempDir('truto-state-checkpointer-');
    const sqlite = fileURLToPath(new URL('../../dist/src/store/sqlite/index.js', import.meta.url));
    const script = `
      import { createSqliteEventStore } from ${JSON.stringify(sqlite)};
      const store = createSqliteEventStore({ path: process.argv[1] });
      const body = Buffer.alloc(1000, 120);
      await store.append(Array.from({ length: 6000 }, (_, i) => (
        { id: 'e-' + i, type: 'x:y', stream: 's', sourceTime: 1, data: null, body })));
      await store.close();
      console.log('closed');
    `;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, temp.path('big.db')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const result = await finished(child);
    expect(result).toMatchObject({ code: 0, stdout: 'closed\n' });
  });

  it('a thread that cannot start reports it (the store then checkpoints in its commits again)', async () => {
    temp = await createTempDir('truto-state-checkpointer-');
    let stopped = 0;
    const checkpointer = startCheckpointer(
      temp.path('log.db'),
      temp.path('no-such-driver.js'),
      () => (stopped += 1),
    );
    checkpointer.committed();
    for (let i = 0; i < 500 && stopped === 0; i++) await pause(10);
    expect(stopped).toBe(1);
    await checkpointer.close();
    expect(stopped).toBe(1);
  });

  it('a thread closed by the store does not count as stopped', async () => {
    temp = await createTempDir('truto-state-checkpointer-');
    const path = temp.path('log.db');
    store = createSqliteEventStore({ path });
    await store.append([makeEvent('one')]);
    let stopped = 0;
    const checkpointer = startCheckpointer(path, require.resolve('better-sqlite3'), () => {
      stopped += 1;
    });
    checkpointer.committed();
    await checkpointer.close();
    expect(stopped).toBe(0);
  });
});
