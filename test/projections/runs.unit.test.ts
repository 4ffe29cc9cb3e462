/**
 * `runs`: one test per row of the status table, the terminal rule, every field of
 * projections.md, the three run-id placements, and the fixture scenarios.
 */
import { describe, expect, it } from 'vitest';
import {
  RUN_STATUSES,
  runsProjection,
  type RunState,
  type RunStatus,
} from '../../src/truto/projections/index.js';
import type { SyncJobRunEvent } from '../../src/truto/events.js';
import { parseWebhook } from '../../src/truto/parse.js';
import { eventFor, eventsFor, foldAll, givenEvents } from '../../src/testing/index.js';
import { HUBSPOT_ACCOUNT, SALESFORCE_ACCOUNT } from '../fixtures/accounts.js';
import {
  CONTACTS_SYNC_JOB,
  RUN_COMPLETED,
  RUN_FAILED,
  RUN_RATE_LIMITED,
  RUN_STOPPED_DELETED,
  RUN_STOPPED_UPDATED,
  recordWithoutRunId,
  runCompleted,
  runFailed,
  runRateLimited,
  runStoppedThroughDeleted,
  runStoppedThroughUpdated,
} from '../fixtures/runs.js';
import { RUN, at, envelope, recordBatch, runEvent } from './builders.js';

const given = () => givenEvents(runsProjection, RUN);
/** Brings run-1 to `status` at minute 0, through `updated`. */
const reach = (status: RunStatus) => runEvent('updated', { status }, { minute: 0 });

describe('runs: the status table', () => {
  it.each([
    ['created', 'created'],
    ['started', 'running'],
    ['rate_limited', 'rate_limited'],
    ['completed', 'completed'],
    ['failed', 'failed'],
  ] as const)('%s → %s', (action, expected) => {
    given()
      .when(reach('running'), runEvent(action, { status: 'running' }, { minute: 1 }))
      .thenMatches({ status: expected });
  });

  it("created → created (as a run's first event)", () => {
    given()
      .when(runEvent('created', { status: 'running' }))
      .thenMatches({ status: 'created' });
  });

  it.each(RUN_STATUSES)('updated → payload.status %s when it is one of the six', (status) => {
    given()
      .when(reach('created'), runEvent('updated', { status }, { minute: 1 }))
      .thenMatches({ status });
  });

  it.each([['paused'], [null], [undefined]])(
    'updated with payload.status %s → unchanged',
    (status) => {
      const payload = status === undefined ? {} : { status };
      given()
        .when(reach('rate_limited'), runEvent('updated', payload, { minute: 1 }))
        .thenMatches({ status: 'rate_limited' });
    },
  );

  it.each(['created', 'running', 'rate_limited', 'stopped'] as const)(
    'deleted → stopped from %s, and sets deleted: true',
    (from) => {
      given()
        .when(reach(from), runEvent('deleted', {}, { minute: 1 }))
        .thenMatches({ status: 'stopped', deleted: true });
    },
  );

  it.each(['completed', 'failed'] as const)('deleted keeps %s, and sets deleted: true', (from) => {
    given()
      .when(reach(from), runEvent('deleted', {}, { minute: 1 }))
      .thenMatches({ status: from, deleted: true });
  });

  it.each(['record', 'record_error'])('%s → unchanged', (action) => {
    const body = envelope(
      `sync_job_run:${action}`,
      { sync_job_run_id: RUN, resource: 'crm/contacts', records: [], error: 'x' },
      { minute: 1 },
    );
    given().when(reach('rate_limited'), eventFor(body)).thenMatches({ status: 'rate_limited' });
  });
});

describe('runs: terminal statuses hold against non-terminal ones', () => {
  const terminal = ['completed', 'failed', 'stopped'] as const;
  const nonTerminal = ['created', 'running', 'rate_limited'] as const;
  for (const from of terminal) {
    it.each(nonTerminal)(`${from} then updated %s stays ${from}`, (later) => {
      given()
        .when(reach(from), runEvent('updated', { status: later }, { minute: 1 }))
        .thenMatches({ status: from });
    });
    it(`${from} then started / rate_limited / created stays ${from}`, () => {
      given()
        .when(
          reach(from),
          runEvent('started', {}, { minute: 1 }),
          runEvent('rate_limited', {}, { minute: 2 }),
          runEvent('created', {}, { minute: 3 }),
        )
        .thenMatches({ status: from, rateLimited: 0 });
    });
    it.each(terminal)(`${from} then a later terminal %s replaces it`, (later) => {
      given()
        .when(reach(from), runEvent('updated', { status: later }, { minute: 1 }))
        .thenMatches({ status: later });
    });
  }
  it('a non-terminal status earlier in source time than the terminal one does not undo it', () => {
    given()
      .when(runEvent('completed', {}, { minute: 5 }), runEvent('started', {}, { minute: 1 }))
      .thenMatches({ status: 'completed' });
  });
});

describe('runs: fields', () => {
  it('syncJobId and integratedAccountId come from any payload that has them', () => {
    given()
      .when(
        runEvent('created', { sync_job_id: 'job-1' }, { minute: 0 }),
        eventFor(
          envelope(
            'sync_job_run:record',
            {
              meta: { sync_job_run_id: RUN, integrated_account_id: 'acc-9' },
              resource: 'crm/contacts',
              records: [],
            },
            { minute: 1 },
          ),
        ),
        runEvent('deleted', {}, { minute: 2 }),
      )
      .thenMatches({ syncJobId: 'job-1', integratedAccountId: 'acc-9' });
  });

  it('createdAt is payload.created_at of the run, else the source time of its first event', () => {
    given()
      .when(runEvent('created', { created_at: '2024-09-10 11:59:00' }, { minute: 0 }))
      .thenMatches({
        createdAt: '2024-09-10T11:59:00.000Z',
      });
    given()
      .when(recordBatch('crm/contacts', 1, { minute: 2 }), runEvent('started', {}, { minute: 3 }))
      .thenMatches({ createdAt: at(2) });
    // A payload time wins even when it arrives after a source-time fallback.
    given()
      .when(
        recordBatch('crm/contacts', 1, { minute: 2 }),
        runEvent('started', { created_at: '2024-09-10T11:00:00Z' }, { minute: 3 }),
      )
      .thenMatches({ createdAt: '2024-09-10T11:00:00.000Z' });
  });

  it('startedAt is payload.started_at from any lifecycle event, else the source time of started', () => {
    given()
      .when(runEvent('started', {}, { minute: 4 }))
      .thenMatches({ startedAt: at(4) });
    given()
      .when(
        runEvent('started', {}, { minute: 4 }),
        runEvent('completed', { started_at: '2024-09-10T12:03:30.250Z' }, { minute: 9 }),
      )
      .thenMatches({ startedAt: '2024-09-10T12:03:30.250Z' });
    given()
      .when(runEvent('created', {}, { minute: 0 }))
      .thenMatches({ startedAt: null });
  });

  it('finishedAt is payload.finished_at, else the source time of the terminal event; durationMs from startedAt', () => {
    given()
      .when(runEvent('started', {}, { minute: 1 }), runEvent('failed', {}, { minute: 4 }))
      .thenMatches({ finishedAt: at(4), durationMs: 3 * 60_000 });
    given()
      .when(
        runEvent('started', { started_at: '2024-09-10T12:00:00.000Z' }, { minute: 1 }),
        runEvent('completed', { finished_at: '2024-09-10T12:00:10.500Z' }, { minute: 4 }),
      )
      .thenMatches({ finishedAt: '2024-09-10T12:00:10.500Z', durationMs: 10_500 });
    given()
      .when(runEvent('started', {}, { minute: 1 }))
      .thenMatches({ finishedAt: null, durationMs: null });
  });

  it('durationMs falls back to createdAt for a run stopped before it started', () => {
    given()
      .when(runEvent('created', {}, { minute: 1 }), runEvent('deleted', {}, { minute: 3 }))
      .thenMatches({ startedAt: null, finishedAt: at(3), durationMs: 2 * 60_000 });
  });

  it('recordsReceived, recordBatches, recordsByResource, errors', () => {
    const recordError = (payload: object, minute: number) =>
      eventFor(
        envelope('sync_job_run:record_error', { sync_job_run_id: RUN, ...payload }, { minute }),
      );
    given()
      .when(
        recordBatch('crm/contacts', 3, { minute: 1 }),
        recordBatch('crm/accounts', 2, { minute: 2 }),
        recordBatch('crm/contacts', 0, { minute: 3 }),
        recordBatch('crm/contacts', 4, { minute: 4 }),
        recordError({ resource: 'crm/contacts', error: 'boom' }, 5),
        recordError({ resource: 'crm/contacts', errors: [{}, {}, {}] }, 6),
        recordError({ resource: 'crm/contacts', errors: [] }, 7),
      )
      .thenMatches({
        recordsReceived: 9,
        recordBatches: 4,
        recordsByResource: { 'crm/contacts': 7, 'crm/accounts': 2 },
        errors: 4,
      });
  });

  it('a batch without a resource counts under (unknown); a resource named __proto__ is just a key', () => {
    const state = givenEvents(runsProjection, RUN)
      .when(
        eventFor(
          envelope('sync_job_run:record', { sync_job_run_id: RUN, records: [{}] }, { minute: 1 }),
        ),
        recordBatch('__proto__', 2, { minute: 2 }),
      )
      .then((s) => s.recordsReceived === 3);
    expect(Object.getPrototypeOf(state.recordsByResource)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(state.recordsByResource))).toEqual(
      JSON.parse('{"(unknown)":1,"__proto__":2}'),
    );
  });

  it('rateLimited counts entries into rate_limited, through either event', () => {
    given()
      .when(
        runEvent('started', {}, { minute: 0 }),
        runEvent('rate_limited', {}, { minute: 1 }),
        runEvent('updated', { status: 'rate_limited' }, { minute: 2 }),
        runEvent('updated', { status: 'running' }, { minute: 3 }),
        runEvent('updated', { status: 'rate_limited' }, { minute: 4 }),
        runEvent('rate_limited', {}, { minute: 5 }),
      )
      .thenMatches({ status: 'rate_limited', rateLimited: 2 });
  });

  it('timeline has one entry per distinct event in source order, with the status after it', () => {
    const started = runEvent('started', {}, { minute: 1 });
    given()
      .when(
        runEvent('completed', {}, { minute: 3 }),
        started,
        recordBatch('crm/contacts', 1, { minute: 2 }),
        started,
        runEvent('created', {}, { minute: 0 }),
        runEvent('updated', { status: 'running' }, { minute: 4 }),
      )
      .thenMatches({
        timeline: [
          { at: at(0), event: 'created', status: 'created' },
          { at: at(1), event: 'started', status: 'running' },
          { at: at(2), event: 'record', status: 'running' },
          { at: at(3), event: 'completed', status: 'completed' },
          { at: at(4), event: 'updated', status: 'completed' },
        ],
        firstEventAt: at(0),
        lastEventAt: at(4),
        eventCount: 5,
      });
  });
});

describe('runs: the run id of record events', () => {
  const place = {
    top: { sync_job_run_id: 'run-top' },
    meta: { meta: { sync_job_run_id: 'run-meta' } },
    nested: { sync_job_run: { id: 'run-nested' } },
  };
  it.each([
    ['payload.sync_job_run_id', place.top, 'run-top'],
    ['payload.meta.sync_job_run_id', place.meta, 'run-meta'],
    ['payload.sync_job_run.id', place.nested, 'run-nested'],
    ['the top one first', { ...place.top, ...place.meta, ...place.nested }, 'run-top'],
    ['meta before sync_job_run', { ...place.meta, ...place.nested }, 'run-meta'],
  ])('%s', (_name, payload, runId) => {
    const event = eventFor(
      envelope('sync_job_run:record', { resource: 'crm/contacts', records: [{}], ...payload }),
    ) as SyncJobRunEvent;
    expect(runsProjection.keyOf(event)).toBe(runId);
  });

  it('a record event with no run id is stored but not projected', () => {
    const parsed = parseWebhook(JSON.stringify(recordWithoutRunId[0]));
    expect(parsed.ok && parsed.event.skipped?.reason).toBe('no_run_id');
    expect(() => eventFor(recordWithoutRunId[0])).toThrow(/no_run_id/);
  });
});

describe('runs: the fixture scenarios', () => {
  const states = foldAll(
    runsProjection,
    eventsFor([
      ...runCompleted,
      ...runFailed,
      ...runRateLimited,
      ...runStoppedThroughUpdated,
      ...runStoppedThroughDeleted,
    ]),
  );

  it('folds five runs', () => {
    expect([...states.keys()]).toEqual(
      [
        RUN_COMPLETED,
        RUN_FAILED,
        RUN_RATE_LIMITED,
        RUN_STOPPED_UPDATED,
        RUN_STOPPED_DELETED,
      ].sort(),
    );
  });

  it('a run that completes, with records at each run-id placement and a batch error', () => {
    givenEvents(runsProjection, RUN_COMPLETED)
      .when(...eventsFor(runCompleted))
      .then({
        id: RUN_COMPLETED,
        syncJobId: CONTACTS_SYNC_JOB,
        integratedAccountId: SALESFORCE_ACCOUNT,
        status: 'completed',
        deleted: false,
        createdAt: '2024-09-10T10:00:00.000Z',
        startedAt: '2024-09-10T10:00:01.000Z',
        finishedAt: '2024-09-10T10:00:05.500Z',
        durationMs: 4_500,
        recordsReceived: 6,
        recordBatches: 3,
        recordsByResource: { 'crm/contacts': 5, 'crm/accounts': 1 },
        errors: 2,
        rateLimited: 0,
        timeline: [
          { at: '2024-09-10T10:00:00.050Z', event: 'created', status: 'created' },
          { at: '2024-09-10T10:00:01.100Z', event: 'started', status: 'running' },
          { at: '2024-09-10T10:00:02.000Z', event: 'record', status: 'running' },
          { at: '2024-09-10T10:00:03.000Z', event: 'record', status: 'running' },
          { at: '2024-09-10T10:00:04.000Z', event: 'record', status: 'running' },
          { at: '2024-09-10T10:00:04.000Z', event: 'record_error', status: 'running' },
          { at: '2024-09-10T10:00:05.600Z', event: 'completed', status: 'completed' },
        ],
        firstEventAt: '2024-09-10T10:00:00.050Z',
        lastEventAt: '2024-09-10T10:00:05.600Z',
        eventCount: 7,
      } satisfies RunState);
  });

  it('a run that fails after a single-error record_error (space time format)', () => {
    expect(states.get(RUN_FAILED)).toMatchObject({
      status: 'failed',
      errors: 1,
      createdAt: '2024-09-10T12:00:00.000Z',
      startedAt: '2024-09-10T12:00:02.000Z',
      finishedAt: '2024-09-10T12:00:08.000Z',
      durationMs: 6_000,
    });
  });

  it('a run rate-limited twice, then completed without finished_at', () => {
    expect(states.get(RUN_RATE_LIMITED)).toMatchObject({
      status: 'completed',
      rateLimited: 2,
      recordsReceived: 7,
      recordBatches: 3,
      finishedAt: '2024-09-10T11:02:08.000Z',
      durationMs: 127_000,
      integratedAccountId: SALESFORCE_ACCOUNT,
    });
  });

  it('a run stopped through updated; a stale running snapshot does not revive it', () => {
    expect(states.get(RUN_STOPPED_UPDATED)).toMatchObject({
      status: 'stopped',
      deleted: false,
      finishedAt: '2024-09-10T09:41:00.000Z',
      integratedAccountId: HUBSPOT_ACCOUNT,
      eventCount: 5,
    });
  });

  it('a run stopped through deleted', () => {
    expect(states.get(RUN_STOPPED_DELETED)).toMatchObject({
      status: 'stopped',
      deleted: true,
      finishedAt: '2024-09-10T09:52:30.000Z',
      recordsByResource: { 'crm/deals': 2 },
      timeline: [
        { at: '2024-09-10T09:50:00.000Z', event: 'created', status: 'created' },
        { at: '2024-09-10T09:50:01.000Z', event: 'started', status: 'running' },
        { at: '2024-09-10T09:50:02.000Z', event: 'record', status: 'running' },
        { at: '2024-09-10T09:52:30.000Z', event: 'deleted', status: 'stopped' },
      ],
    });
  });
});
