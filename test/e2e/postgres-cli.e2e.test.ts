/** Every one-shot command works on PostgreSQL: import, stats, dump, rebuild, verify. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/postgres.js';

const ALL = fileURLToPath(new URL('../fixtures/ndjson/all.ndjson', import.meta.url));
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const pgArgs = () => ['--store', 'postgres', '--pg-url', database.url];

beforeAll(async () => {
  database = await createTestDatabase('truto_cli');
});

afterAll(async () => {
  await database?.drop();
});

describe('the CLI on PostgreSQL', () => {
  it('imports, counts, dumps, rebuilds and verifies', async () => {
    const first = await runCli(['import', ALL, ...pgArgs(), '--json']);
    expect(first.code, first.stderr).toBe(0);
    const stored = (JSON.parse(first.stdout) as { stored: number }).stored;
    expect(stored).toBeGreaterThan(10);
    const again = await runCli(['import', ALL, ...pgArgs(), '--json']);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { stored: number; duplicates: number };
    expect(summary.stored).toBe(0);

    const stats = await runCli(['stats', '--json', ...pgArgs()]);
    expect(stats.code, stats.stderr).toBe(0);
    const counts = JSON.parse(stats.stdout) as { events: number; duplicates: number };
    expect(counts.events).toBe(stored);
    expect(summary.duplicates).toBeGreaterThanOrEqual(stored);

    const before = await runCli(['dump', 'accounts', ...pgArgs()]);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(2);

    const rebuilt = await runCli(['rebuild', ...pgArgs()]);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(/rebuilt accounts, runs, record-states, records/);

    const after = await runCli(['dump', 'accounts', ...pgArgs()]);
    expect(after.stdout).toBe(before.stdout);

    const verified = await runCli(['verify', ...pgArgs()]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/0 difference/);
  });

  it('says clearly when PostgreSQL is configured without a URL', async () => {
    const result = await runCli(['stats', '--store', 'postgres']);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('--store postgres needs --pg-url or TRUTO_STATE_PG_URL');
  });
});
