/** `truto-state stats` as a real process: the readable table and the `--json` shape. */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { assertBuilt, runCli } from '../support/cli.js';
import { eventFromBody, makeEvent } from '../support/events.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { trutoHistory } from '../support/truto.js';

describe('truto-state stats', () => {
  let tmp: TempDir;
  let db: string;
  const cli = (...args: string[]) => runCli(args, { cwd: tmp.dir, env: { TRUTO_STATE_DB: db } });

  beforeAll(() => assertBuilt());
  beforeEach(async () => {
    tmp = await createTempDir('truto-state-stats-');
    db = tmp.path('log.db');
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  /** A log with duplicates, a conflict, a reject, unknown types, and two projections' checkpoints. */
  async function seed(): Promise<number> {
    const store = createSqliteEventStore({ path: db });
    try {
      const events = trutoHistory({ accounts: 3, seed: 4 }).map(eventFromBody);
      await store.append(events);
      await store.append(events.slice(0, 2));
      await store.append([makeEvent(events[0]?.id as string, { variant: 5 })]);
      await store.recordReject({
        source: 'http',
        reason: 'invalid_json',
        message: 'bad',
        body: new TextEncoder().encode('{'),
      });
      await store.projections.commit({
        checkpoints: [
          { name: 'accounts', position: events.length, version: 1 },
          { name: 'runs', position: 3, version: 2 },
        ],
        states: [],
        deadLetters: [
          { projection: 'runs', key: 'run-1', eventId: 'x', position: 2, error: 'boom' },
        ],
        changes: [],
      });
      return events.length;
    } finally {
      await store.close();
    }
  }

  it('prints JSON with the stored count under "events"', async () => {
    const stored = await seed();
    const result = await cli('stats', '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      events: stored,
      duplicates: 2,
      conflicts: 1,
      rejects: 1,
      headPosition: stored,
      deadLetters: 1,
      projections: [
        { name: 'accounts', version: 1, position: stored, lag: 0, deadLetters: 0 },
        { name: 'runs', version: 2, position: 3, lag: stored - 3, deadLetters: 1 },
      ],
    });
    const byType = report.byType as Record<string, number>;
    expect(Object.values(byType).reduce((a, b) => a + b, 0)).toBe(stored);
    expect(byType['integrated_account:created']).toBe(3);
    expect(report.skipped).toHaveProperty('not_projected');
  });

  it('prints a readable table', async () => {
    const stored = await seed();
    const result = await cli('stats');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^events stored\\s+${stored}$`, 'm'));
    expect(result.stdout).toMatch(/^conflicts\s+1$/m);
    expect(result.stdout).toMatch(/^\s+integrated_account:created\s+3$/m);
    expect(result.stdout).toMatch(/^\s+runs\s+2\s+3\s+\d+\s+1$/m);
  });

  it('reports an empty log on a new database', async () => {
    const result = await cli('stats', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      events: 0,
      headPosition: 0,
      projections: [],
      deadLetters: 0,
    });
  });
});
