/**
 * Two `truto-state import` processes appending to one SQLite file at the same time, with half
 * their events in common: nothing is lost, nothing is stored twice.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, finished, spawnCli } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { idOf, trutoHistory, writeNdjson } from '../support/truto.js';

describe('truto-state import: two processes on one SQLite file', () => {
  let tmp: TempDir;

  beforeAll(() => assertBuilt());
  beforeEach(async () => {
    tmp = await createTempDir('truto-state-concurrent-');
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('loses and duplicates nothing', async () => {
    const history = trutoHistory({ accounts: 900, runsPerAccount: 2, recordBatches: 3, seed: 21 });
    const third = Math.floor(history.length / 3);
    // A: the first two thirds; B: the last two thirds, B's half of it first. The middle third is in both.
    const a = history.slice(0, 2 * third);
    const b = [...history.slice(2 * third), ...history.slice(third, 2 * third)];
    await writeNdjson(tmp.path('a.ndjson'), a);
    await writeNdjson(tmp.path('b.ndjson'), b);

    const env = { TRUTO_STATE_DB: tmp.path('shared.db') };
    // Small batches: many short transactions from each process, interleaving on the lock. Parsed
    // on the main thread: with a parse thread, a process under load could store its own third
    // before the other wrote anything, and the interleaving checked below is what this is about.
    const runs = ['a.ndjson', 'b.ndjson'].map((file) =>
      finished(
        spawnCli(['import', file, '--json', '--batch-size', '50', '--parse-threads', '0'], {
          cwd: tmp.dir,
          env,
        }),
      ),
    );
    const [ra, rb] = await Promise.all(runs);
    expect(ra?.stderr).toBe('');
    expect(rb?.stderr).toBe('');
    expect([ra?.code, rb?.code]).toEqual([0, 0]);
    const sa = JSON.parse(ra?.stdout as string) as { stored: number; duplicates: number };
    const sb = JSON.parse(rb?.stdout as string) as { stored: number; duplicates: number };
    expect(sa.stored + sb.stored).toBe(history.length);
    expect(sa.duplicates + sb.duplicates).toBe(third);

    const raw = new Database(env.TRUTO_STATE_DB, { readonly: true });
    try {
      const rows = raw.prepare('SELECT id, position, body FROM events ORDER BY position').all() as {
        id: string;
        position: number;
        body: Buffer;
      }[];
      expect(rows).toHaveLength(history.length);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const body of history) expect(byId.get(idOf(body))?.body.toString()).toBe(body);
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      // The two processes really did write at the same time: their positions interleave.
      const onlyA = new Set(history.slice(0, third).map(idOf));
      const onlyB = new Set(history.slice(2 * third).map(idOf));
      const positionsOf = (ids: Set<string>) =>
        rows.filter((r) => ids.has(r.id)).map((r) => r.position);
      const [pa, pb] = [positionsOf(onlyA), positionsOf(onlyB)];
      expect(Math.min(...pb)).toBeLessThan(Math.max(...pa));
      expect(Math.min(...pa)).toBeLessThan(Math.max(...pb));
    } finally {
      raw.close();
    }
  });
});
