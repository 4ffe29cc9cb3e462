/**
 * SIGKILL of an import midway, then the same import again: every event is stored exactly once
 * and the file passes `PRAGMA integrity_check`. The kill is timed by an event, not a sleep: the
 * test watches the database with the store's own cross-process `onAppend` and kills the importer
 * as soon as its first transaction has committed.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { assertBuilt, finished, runCli, spawnCli } from '../support/cli.js';
import { collect } from '../support/events.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { idOf, trutoHistory, writeNdjson } from '../support/truto.js';

describe('truto-state import: SIGKILL midway, then again', () => {
  let tmp: TempDir;

  beforeAll(() => assertBuilt());
  beforeEach(async () => {
    tmp = await createTempDir('truto-state-crash-');
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('stores every event exactly once and leaves a sound file', async () => {
    const history = trutoHistory({ accounts: 1200, runsPerAccount: 2, recordBatches: 4, seed: 77 });
    await writeNdjson(tmp.path('events.ndjson'), history);
    const path = tmp.path('log.db');
    const env = { TRUTO_STATE_DB: path };

    // Open (and so create) the database first, so the watcher can listen before the import starts.
    const watcher = createSqliteEventStore({ path, pollIntervalMs: 5 });
    try {
      const firstCommit = new Promise<number>((resolve) => {
        const stop = watcher.onAppend((head) => {
          stop();
          resolve(head);
        });
      });
      const child = spawnCli(['import', 'events.ndjson', '--batch-size', '200'], {
        cwd: tmp.dir,
        env,
      });
      const exited = finished(child);
      await firstCommit;
      child.kill('SIGKILL');
      const killed = await exited;
      expect(killed.signal).toBe('SIGKILL');

      const partial = await watcher.stats();
      // Midway: something committed, not everything.
      expect(partial.events).toBeGreaterThan(0);
      expect(partial.events).toBeLessThan(history.length);
      expect(await watcher.checkIntegrity()).toEqual(['ok']);

      const again = await runCli(['import', 'events.ndjson', '--json'], { cwd: tmp.dir, env });
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({
        lines: history.length,
        stored: history.length - partial.events,
        duplicates: partial.events,
        rejected: 0,
      });

      const stats = await watcher.stats();
      expect(stats).toMatchObject({
        events: history.length,
        conflicts: 0,
        headPosition: history.length,
      });
      const { events } = await collect(watcher.readAll(0, { batchSize: 5000 }));
      expect(events.map((e) => e.id).sort()).toEqual(history.map(idOf).sort());
      expect(await watcher.checkIntegrity()).toEqual(['ok']);
    } finally {
      await watcher.close();
    }
  });
});
