/**
 * `truto-state dump` after importing the hand-written fixtures (shuffled, duplicated): one JSON
 * object per line, sorted by key, with every field projections.md names, equal to the pure fold.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** The contract fields of projections.md, per projection. */
const FIELDS: Record<
  string,
  { key: (state: Record<string, unknown>) => string; fields: string[] }
> = {
  accounts: {
    key: (s) => String(s.id),
    fields: [
      'id',
      'status',
      'usable',
      'deleted',
      'tenantId',
      'integration',
      'environmentIntegrationId',
      'lastError',
      'lastForbiddenError',
      'formSubmittedAt',
      'statusSince',
      'transitions',
      'firstSeenAt',
      'lastEventAt',
      'eventCount',
      'ignoredEvents',
    ],
  },
  runs: {
    key: (s) => String(s.id),
    fields: [
      'id',
      'syncJobId',
      'integratedAccountId',
      'status',
      'deleted',
      'createdAt',
      'startedAt',
      'finishedAt',
      'durationMs',
      'recordsReceived',
      'recordBatches',
      'recordsByResource',
      'errors',
      'rateLimited',
      'timeline',
      'lastEventAt',
    ],
  },
  'account-sync': {
    key: (s) => String(s.integratedAccountId),
    fields: [
      'integratedAccountId',
      'runs',
      'completed',
      'failed',
      'stopped',
      'running',
      'lastRunId',
      'lastRunStatus',
      'lastRunStartedAt',
      'lastSuccessAt',
      'consecutiveFailures',
    ],
  },
  records: {
    key: (s) => `${String(s.integratedAccountId)}/${String(s.resource)}`,
    fields: [
      'integratedAccountId',
      'resource',
      'live',
      'created',
      'updated',
      'deleted',
      'lastChangeAt',
    ],
  },
};

let temp: TempDir;
let db: string;

beforeAll(async () => {
  temp = await createTempDir('truto-state-dump-');
  db = temp.path('log.db');
  // Deliver the fixtures backwards and twice: the dump must not depend on arrival order.
  const lines = (await readFile(`${FIXTURES}ndjson/all.ndjson`, 'utf8'))
    .split('\n')
    .filter(Boolean);
  const delivered = [...lines].reverse().concat(lines.filter((_, i) => i % 3 === 0));
  await writeFile(temp.path('shuffled.ndjson'), `${delivered.join('\n')}\n`);
  const imported = await runCli(['import', temp.path('shuffled.ndjson'), '--db', db]);
  expect(imported.code, imported.stderr).toBe(0);
});

afterAll(async () => {
  await temp?.cleanup();
});

describe.each(Object.keys(FIELDS))('truto-state dump %s', (projection) => {
  it('prints every contract field, one object per line, sorted by key, equal to the fold', async () => {
    const result = await runCli(['dump', projection, '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    const states = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const spec = FIELDS[projection] as (typeof FIELDS)[string];
    for (const state of states) {
      for (const field of spec.fields)
        expect(state, `${projection}.${field}`).toHaveProperty(field);
    }
    const keys = states.map(spec.key);
    expect(keys).toEqual([...keys].sort());
    const expected = await readFile(`${FIXTURES}expected/${projection}.ndjson`, 'utf8');
    expect(lines).toEqual(expected.split('\n').filter(Boolean));
  });
});

it('refuses an unknown projection with the list of known ones', async () => {
  const result = await runCli(['dump', 'nope', '--db', db]);
  expect(result.code).toBe(64);
  expect(result.stderr).toContain('known: accounts, runs, account-sync, record-states, records');
});
