/** `verify` finds nothing after a random workload and catches a deliberately corrupted row. */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { writeWorkload } from '../support/workload-file.js';

let temp: TempDir;
let db: string;

beforeAll(async () => {
  temp = await createTempDir('truto-state-verify-');
  db = temp.path('log.db');
  const file = temp.path('events.ndjson');
  await writeWorkload(file, { events: 5_000, seed: 23, duplicateRate: 0.1, lateRate: 0.2 });
  expect((await runCli(['import', file, '--db', db])).code).toBe(0);
});

afterAll(async () => {
  await temp?.cleanup();
});

describe('truto-state verify', () => {
  it('reports zero differences after a workload with duplicates and late deliveries', async () => {
    const result = await runCli(['verify', '--db', db, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { differences: unknown[]; entities: number };
    expect(report.differences).toEqual([]);
    expect(report.entities).toBeGreaterThan(100);
  });

  it('catches a corrupted state row, names it, and exits 1', async () => {
    const sqlite = new Database(db);
    const row = sqlite
      .prepare("SELECT key, state FROM states WHERE projection = 'accounts' ORDER BY key LIMIT 1")
      .get() as { key: string; state: string };
    const corrupted = {
      ...(JSON.parse(row.state) as Record<string, unknown>),
      status: 'deleted',
      eventCount: 999,
    };
    sqlite
      .prepare("UPDATE states SET state = ? WHERE projection = 'accounts' AND key = ?")
      .run(JSON.stringify(corrupted), row.key);
    sqlite.close();
    const result = await runCli(['verify', '--db', db]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`different accounts ${row.key} fields: eventCount, status`);
    expect(result.stdout).toMatch(/1 difference/);
  });
});
