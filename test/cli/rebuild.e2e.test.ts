/**
 * `truto-state rebuild` (the CLI process, which folds on its own thread):
 * - on a derived projection it rebuilds the projection it is derived from and exits, leaving
 *   `dump account-sync` as it was (it once spun forever);
 * - rebuild after rebuild, with deliveries imported between them, every projection dumps what a
 *   store that never rebuilt holds (SQLite swaps by exchanging the names states are stored
 *   under: later commits must land beside the swapped-in rows);
 * - failures come back from the thread as they would from the main one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';

const ALL = fileURLToPath(new URL('../fixtures/ndjson/all.ndjson', import.meta.url));

let temp: TempDir;
let db: string;

beforeAll(async () => {
  temp = await createTempDir('truto-state-rebuild-');
  db = temp.path('state.db');
  const imported = await runCli(['import', ALL, '--db', db]);
  expect(imported.code, imported.stderr).toBe(0);
});

afterAll(async () => {
  await temp.cleanup();
});

describe('truto-state rebuild', () => {
  it('rebuilds a derived projection through its source and exits', async () => {
    const before = await runCli(['dump', 'account-sync', '--db', db]);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout.trim().split('\n').length).toBeGreaterThan(0);
    const rebuilt = await runCli(['rebuild', 'account-sync', '--db', db]);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(/^rebuilt runs: \d+ events/);
    const after = await runCli(['dump', 'account-sync', '--db', db]);
    expect(after.stdout).toBe(before.stdout);
  });

  it('dumps what a store that never rebuilt holds, rebuild after rebuild', async () => {
    const lines = readFileSync(ALL, 'utf8').trim().split('\n');
    const parts = [lines.slice(0, 20), lines.slice(20, 40), lines.slice(40)].map((part, i) => {
      const path = temp.path(`part-${i}.ndjson`);
      writeFileSync(path, `${part.join('\n')}\n`);
      return path;
    });
    expect(lines.length).toBeGreaterThan(40);
    const rebuilt = temp.path('rebuilt.db');
    const plain = temp.path('plain.db');
    for (const part of parts) {
      for (const target of [rebuilt, plain]) {
        const imported = await runCli(['import', part, '--db', target]);
        expect(imported.code, imported.stderr).toBe(0);
      }
      const result = await runCli(['rebuild', '--db', rebuilt]);
      expect(result.code, result.stderr).toBe(0);
      for (const projection of ['accounts', 'runs', 'account-sync', 'records']) {
        const expected = await runCli(['dump', projection, '--db', plain]);
        const actual = await runCli(['dump', projection, '--db', rebuilt]);
        expect(actual.stdout, projection).toBe(expected.stdout);
        if (part === parts.at(-1)) expect(expected.stdout.length, projection).toBeGreaterThan(0);
      }
    }
  });

  it('reports a store it cannot open as the main thread would, exit 1', async () => {
    const notADatabase = temp.path('not-a-database.db');
    writeFileSync(notADatabase, 'not SQLite\n');
    const result = await runCli(['rebuild', '--db', notADatabase]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^truto-state rebuild: opening .*not-a-database\.db: file is not a database \(SQLITE_NOTADB\) \(store_unavailable\)\n$/,
    );
  });

  it('names the known projections when asked for an unknown one', async () => {
    const result = await runCli(['rebuild', 'acounts', '--db', db]);
    expect(result.code).toBe(64); // EX_USAGE
    expect(result.stderr).toContain('unknown projection "acounts"');
    expect(result.stderr).toContain('accounts, runs, account-sync, record-states, records');
  });
});
