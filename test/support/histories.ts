/**
 * fast-check arbitraries for Truto webhook histories: a few accounts, runs and record streams,
 * source times drawn from a small range (so ties happen), unique ids, as raw bodies.
 */
import fc from 'fast-check';
import {
  INTEGRATED_ACCOUNT_EVENTS,
  RECORD_EVENTS,
  SYNC_JOB_RUN_EVENTS,
} from '../../src/truto/catalogue.js';

const BASE = Date.UTC(2024, 8, 10, 12);
const ACCOUNTS = ['acc-a', 'acc-b', 'acc-c'];
const RUNS = ['run-1', 'run-2', 'run-3', 'run-4'];
const STATUSES = [
  'connecting',
  'active',
  'needs_reauth',
  'post_install_error',
  'validation_error',
  'bogus',
];
const RUN_STATUSES = [
  'created',
  'running',
  'rate_limited',
  'completed',
  'failed',
  'stopped',
  'weird',
];

const time = fc.integer({ min: 0, max: 40 }).map((s) => BASE + s * 1000);
const isoOrSpace = fc.boolean();

function createdAt(ms: number, iso: boolean): string {
  const text = new Date(ms).toISOString();
  return iso ? text : text.slice(0, 19).replace('T', ' ');
}

const accountEvent = fc
  .record({
    type: fc.constantFrom(...INTEGRATED_ACCOUNT_EVENTS),
    account: fc.constantFrom(...ACCOUNTS),
    status: fc.constantFrom(...STATUSES),
    tenant: fc.constantFrom('t-1', 't-2'),
    time,
    iso: isoOrSpace,
  })
  .map(({ type, account, status, tenant, time: at, iso }) => ({
    event: type,
    created_at: createdAt(at, iso),
    payload:
      type === 'integrated_account:deleted'
        ? { id: account }
        : {
            id: account,
            status,
            tenant_id: tenant,
            integration: { name: 'hubspot' },
            environment_integration_id: 'ei-1',
          },
  }));

const runEvent = fc
  .record({
    type: fc.constantFrom(...SYNC_JOB_RUN_EVENTS),
    run: fc.integer({ min: 0, max: RUNS.length - 1 }),
    status: fc.constantFrom(...RUN_STATUSES),
    records: fc.integer({ min: 0, max: 5 }),
    errors: fc.option(fc.integer({ min: 0, max: 3 })),
    where: fc.constantFrom('top', 'meta', 'nested'),
    time,
    iso: isoOrSpace,
  })
  .map(({ type, run, status, records, errors, where, time: at, iso }) => {
    const runId = RUNS[run] as string;
    const account = ACCOUNTS[run % ACCOUNTS.length] as string;
    const isRecord = type === 'sync_job_run:record' || type === 'sync_job_run:record_error';
    const reference =
      where === 'top'
        ? { sync_job_run_id: runId, integrated_account_id: account }
        : where === 'meta'
          ? { meta: { sync_job_run_id: runId, integrated_account_id: account } }
          : { sync_job_run: { id: runId, integrated_account_id: account } };
    const payload = isRecord
      ? {
          ...reference,
          resource: records % 2 === 0 ? 'crm/contacts' : 'crm/companies',
          ...(type === 'sync_job_run:record'
            ? { records: Array.from({ length: records }, (_, i) => ({ id: `r${i}` })) }
            : errors === null
              ? { error: 'boom' }
              : { errors: Array.from({ length: errors }, () => ({ message: 'x' })) }),
        }
      : {
          id: runId,
          sync_job_id: `job-${run}`,
          integrated_account_id: account,
          status,
          created_at: createdAt(BASE, true),
        };
    return { event: type, created_at: createdAt(at, iso), payload };
  });

const recordEvent = fc
  .record({
    type: fc.constantFrom(...RECORD_EVENTS),
    account: fc.constantFrom(...ACCOUNTS),
    resource: fc.constantFrom('crm/contacts', 'crm/deals'),
    record: fc.constantFrom('1', '2', '3'),
    time,
  })
  .map(({ type, account, resource, record, time: at }) => ({
    event: type,
    created_at: createdAt(at, true),
    payload: { id: record, integrated_account_id: account, resource },
  }));

const unknownEvent = time.map((at) => ({
  event: 'brand_new:thing',
  created_at: createdAt(at, true),
  payload: { x: 1 },
}));

/** A history of raw bodies with unique ids (`e0`, `e1`, … drawn in a shuffled order). */
export const historyArbitrary = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: accountEvent },
      { weight: 4, arbitrary: runEvent },
      { weight: 2, arbitrary: recordEvent },
      { weight: 1, arbitrary: unknownEvent },
    ),
    {
      minLength: 1,
      maxLength: 60,
    },
  )
  .map((events) =>
    events.map((event, i) => JSON.stringify({ id: `e${String(i).padStart(3, '0')}`, ...event })),
  );

/**
 * A delivery schedule for a history: every body at least once, some several times, in any order,
 * with projection catch-ups at random points.
 */
export function deliveriesArbitrary(bodies: readonly string[]) {
  return fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: bodies.length - 1 }), { maxLength: bodies.length }),
      fc.array(fc.boolean(), { minLength: bodies.length * 2, maxLength: bodies.length * 2 }),
    )
    .chain(([repeats, catchUps]) =>
      fc
        .shuffledSubarray([...bodies.map((_, i) => i), ...repeats], {
          minLength: bodies.length + repeats.length,
        })
        .map((order) => ({
          order: order.map((i) => bodies[i] as string),
          catchUps,
        })),
    );
}

/** A history with one delivery schedule of it: `{ bodies, order, catchUps }`. */
export const deliveredHistoryArbitrary = historyArbitrary.chain((bodies) =>
  deliveriesArbitrary(bodies).map((delivery) => ({ bodies, ...delivery })),
);
