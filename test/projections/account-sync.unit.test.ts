/**
 * `account-sync`: every field of projections.md, computed from run states (built by folding real
 * run events, so the inputs are states the `runs` projection can actually produce).
 */
import { describe, expect, it } from 'vitest';
import {
  accountSyncProjection,
  runsProjection,
  type AccountSyncState,
  type RunState,
} from '../../src/truto/projections/index.js';
import {
  deriveAll,
  eventFor,
  eventsFor,
  foldAll,
  foldEvents,
  givenSources,
} from '../../src/testing/index.js';
import { HUBSPOT_ACCOUNT, SALESFORCE_ACCOUNT } from '../fixtures/accounts.js';
import {
  RUN_FAILED,
  RUN_STOPPED_DELETED,
  runCompleted,
  runFailed,
  runRateLimited,
  runStoppedThroughDeleted,
  runStoppedThroughUpdated,
} from '../fixtures/runs.js';
import { at, envelope } from './builders.js';

const ACC = 'acc-1';

/** A run of acc-1 created at `minute`, moved through `actions` one minute apart. */
function run(id: string, minute: number, ...actions: string[]): RunState {
  const lifecycle = ['created', ...actions].map((action, i) =>
    eventFor(
      envelope(
        `sync_job_run:${action}`,
        { id, integrated_account_id: ACC },
        { minute: minute + i },
      ),
    ),
  );
  return foldEvents(runsProjection, lifecycle);
}

const given = () => givenSources(accountSyncProjection, ACC);

describe('account-sync: fields', () => {
  it('counts runs by current status; running = created, running or rate_limited', () => {
    given()
      .when(
        run('r1', 0, 'started', 'completed'),
        run('r2', 10, 'started', 'failed'),
        run('r3', 20, 'started', 'deleted'),
        run('r4', 30),
        run('r5', 40, 'started'),
        run('r6', 50, 'started', 'rate_limited'),
        run('r7', 60, 'started', 'completed'),
      )
      .thenMatches({ runs: 7, completed: 2, failed: 1, stopped: 1, running: 3 });
  });

  it('lastRunId / lastRunStatus / lastRunStartedAt: the run with the latest createdAt, whatever the order given', () => {
    given()
      .when(
        run('r-late', 30, 'started'),
        run('r-early', 0, 'started', 'completed'),
        run('r-mid', 10, 'failed'),
      )
      .thenMatches({ lastRunId: 'r-late', lastRunStatus: 'running', lastRunStartedAt: at(31) });
  });

  it('ties on createdAt are broken by run id', () => {
    given()
      .when(run('r-b', 5, 'failed'), run('r-a', 5, 'completed'))
      .thenMatches({ lastRunId: 'r-b' });
  });

  it('lastRunStartedAt is null when the last run has not started', () => {
    given()
      .when(run('r1', 0, 'started', 'completed'), run('r2', 10))
      .thenMatches({
        lastRunId: 'r2',
        lastRunStatus: 'created',
        lastRunStartedAt: null,
      });
  });

  it('lastSuccessAt is the latest finishedAt among completed runs (not the last created)', () => {
    // r1 was created first but finished last.
    const r1 = run('r1', 0, 'started', 'completed');
    const slowFinish = { ...r1, finishedAt: at(100) };
    given()
      .when(slowFinish, run('r2', 10, 'started', 'completed'), run('r3', 20, 'started', 'failed'))
      .thenMatches({ lastSuccessAt: at(100), lastFailureAt: at(22) });
  });

  it('consecutiveFailures counts failed runs since the last completed one, by createdAt', () => {
    given()
      .when(
        run('r4', 30, 'failed'),
        run('r1', 0, 'failed'),
        run('r2', 10, 'completed'),
        run('r3', 20, 'failed'),
        run('r5', 40, 'deleted'),
        run('r6', 50, 'failed'),
        run('r7', 60, 'started'),
      )
      .thenMatches({ consecutiveFailures: 3 });
    given()
      .when(run('r1', 0, 'failed'), run('r2', 10, 'completed'))
      .thenMatches({ consecutiveFailures: 0 });
    given()
      .when(run('r1', 0, 'failed'), run('r2', 10, 'failed'))
      .thenMatches({ consecutiveFailures: 2 });
  });

  it('an account with one unfinished run: the complete state', () => {
    given()
      .when(run('r1', 0))
      .then({
        integratedAccountId: ACC,
        runs: 1,
        completed: 0,
        failed: 0,
        stopped: 0,
        running: 1,
        lastRunId: 'r1',
        lastRunStatus: 'created',
        lastRunStartedAt: null,
        lastSuccessAt: null,
        lastFailureAt: null,
        consecutiveFailures: 0,
      } satisfies AccountSyncState);
  });

  it('groups by integratedAccountId; runs without one belong to none', () => {
    const orphan = { ...run('r9', 0), integratedAccountId: null };
    expect(accountSyncProjection.groupOf(run('r1', 0))).toBe(ACC);
    expect(accountSyncProjection.groupOf(orphan)).toBeNull();
    expect(accountSyncProjection.from).toBe(runsProjection.name);
  });
});

describe('account-sync: the fixture scenarios', () => {
  const runs = foldAll(
    runsProjection,
    eventsFor([
      ...runStoppedThroughDeleted,
      ...runFailed,
      ...runCompleted,
      ...runStoppedThroughUpdated,
      ...runRateLimited,
    ]),
  );
  const health = deriveAll(accountSyncProjection, runs);

  it('one state per account, sorted by key', () => {
    expect([...health.keys()]).toEqual([SALESFORCE_ACCOUNT, HUBSPOT_ACCOUNT].sort());
  });

  it('salesforce: two completed runs, then a failed one created last', () => {
    expect(health.get(SALESFORCE_ACCOUNT)).toEqual({
      integratedAccountId: SALESFORCE_ACCOUNT,
      runs: 3,
      completed: 2,
      failed: 1,
      stopped: 0,
      running: 0,
      lastRunId: RUN_FAILED,
      lastRunStatus: 'failed',
      lastRunStartedAt: '2024-09-10T12:00:02.000Z',
      lastSuccessAt: '2024-09-10T11:02:08.000Z',
      lastFailureAt: '2024-09-10T12:00:08.000Z',
      consecutiveFailures: 1,
    });
  });

  it('hubspot: two stopped runs', () => {
    expect(health.get(HUBSPOT_ACCOUNT)).toMatchObject({
      runs: 2,
      stopped: 2,
      completed: 0,
      lastRunId: RUN_STOPPED_DELETED,
      lastRunStatus: 'stopped',
      lastSuccessAt: null,
      consecutiveFailures: 0,
    });
  });
});
