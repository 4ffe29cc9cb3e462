/**
 * `truto-state rebuild` on a derived projection: it rebuilds the projection it is derived from
 * and exits, leaving `dump account-sync` as it was (it once spun forever).
 */
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

  it('names the known projections when asked for an unknown one', async () => {
    const result = await runCli(['rebuild', 'acounts', '--db', db]);
    expect(result.code).toBe(64); // EX_USAGE
    expect(result.stderr).toContain('unknown projection "acounts"');
    expect(result.stderr).toContain('accounts, runs, account-sync, record-states, records');
  });
});
