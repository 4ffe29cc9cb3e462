/**
 * fast-check: random histories of realistic webhook bodies (both envelope keys, both time
 * formats, run ids in all three places, colliding source times), delivered shuffled and with
 * duplicates, folded the way the engine meets them live, give the same state as a reference fold
 * of the distinct events sorted by (source time, id): for `runs` and the `account-sync` derived
 * from them, for `accounts`, and for `record-states` and the `records` summary moved by them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accountSyncProjection,
  accountsProjection,
  recordStatesProjection,
  recordsProjection,
  runsProjection,
  type RecordState,
  type RecordsState,
} from '../../src/truto/projections/index.js';
import type { AnyEvent, Projection } from '../../src/engine/projection.js';
import {
  INTEGRATED_ACCOUNT_EVENTS,
  RUN_STATUSES,
  TRUTO_ACCOUNT_STATUSES,
} from '../../src/truto/catalogue.js';
import type { TrutoEvent } from '../../src/truto/events.js';
import {
  aggregateAll,
  deriveAll,
  eventsFor,
  foldInArrivalOrder,
  toProjectionEvent,
} from '../../src/testing/index.js';

const ORIGIN = Date.UTC(2024, 8, 10, 12);

/** A source time a few seconds apart (so ties happen), in either of Truto's formats. */
const createdAt = fc.tuple(fc.integer({ min: 0, max: 12 }), fc.boolean()).map(([seconds, iso]) => {
  const text = new Date(ORIGIN + seconds * 1000).toISOString();
  return iso ? text : text.slice(0, 19).replace('T', ' ');
});
const optionalTime = fc.option(createdAt, { nil: undefined });

interface Draft {
  readonly type: string;
  readonly payload: Record<string, unknown>;
  readonly createdAt: string;
  readonly useEventType: boolean;
}

/** Turns drafts into envelopes with unique ids whose order is unrelated to the draft order. */
function envelopes(drafts: readonly Draft[], idPrefixes: readonly number[]): object[] {
  return drafts.map((draft, i) => ({
    id: `${String(idPrefixes[i] ?? 0).padStart(3, '0')}-${i}`,
    [draft.useEventType ? 'event_type' : 'event']: draft.type,
    payload: draft.payload,
    environment_id: 'env-1',
    created_at: draft.createdAt,
    webhook_id: 'wh-1',
  }));
}

const RUN_ACCOUNT: Record<string, string> = {
  'run-a': 'acc-1',
  'run-b': 'acc-1',
  'run-c': 'acc-2',
  'run-d': 'acc-2',
};
const runId = fc.constantFrom(...Object.keys(RUN_ACCOUNT));

const lifecycleDraft = fc
  .record({
    run: runId,
    action: fc.constantFrom(
      'created',
      'started',
      'updated',
      'rate_limited',
      'completed',
      'failed',
      'deleted',
    ),
    status: fc.option(fc.constantFrom(...RUN_STATUSES, 'paused'), { nil: undefined }),
    withAccount: fc.boolean(),
    created: optionalTime,
    started: optionalTime,
    finished: optionalTime,
    createdAt,
    useEventType: fc.boolean(),
  })
  .map((d): Draft => ({
    type: `sync_job_run:${d.action}`,
    payload: {
      id: d.run,
      sync_job_id: 'job-1',
      ...(d.withAccount ? { integrated_account_id: RUN_ACCOUNT[d.run] } : {}),
      ...(d.status !== undefined ? { status: d.status } : {}),
      ...(d.created !== undefined ? { created_at: d.created } : {}),
      ...(d.started !== undefined ? { started_at: d.started } : {}),
      ...(d.finished !== undefined ? { finished_at: d.finished } : {}),
    },
    createdAt: d.createdAt,
    useEventType: d.useEventType,
  }));

const recordDraft = fc
  .record({
    run: runId,
    error: fc.boolean(),
    placement: fc.constantFrom('top', 'meta', 'nested'),
    resource: fc.option(fc.constantFrom('crm/contacts', 'crm/accounts', '__proto__'), {
      nil: undefined,
    }),
    count: fc.integer({ min: 0, max: 4 }),
    errorsArray: fc.boolean(),
    createdAt,
    useEventType: fc.boolean(),
  })
  .map((d): Draft => {
    const account = RUN_ACCOUNT[d.run];
    const where =
      d.placement === 'top'
        ? { sync_job_run_id: d.run, integrated_account_id: account }
        : d.placement === 'meta'
          ? { meta: { sync_job_run_id: d.run, integrated_account_id: account } }
          : { sync_job_run: { id: d.run, integrated_account_id: account } };
    const content = d.error
      ? d.errorsArray
        ? { errors: Array.from({ length: d.count }, (_, i) => ({ message: `e${i}` })) }
        : { error: 'boom' }
      : { records: Array.from({ length: d.count }, (_, i) => ({ id: `r${i}` })) };
    return {
      type: d.error ? 'sync_job_run:record_error' : 'sync_job_run:record',
      payload: {
        ...where,
        ...(d.resource !== undefined ? { resource: d.resource } : {}),
        ...content,
      },
      createdAt: d.createdAt,
      useEventType: d.useEventType,
    };
  });

const accountDraft = fc
  .record({
    account: fc.constantFrom('acc-1', 'acc-2'),
    type: fc.constantFrom(...INTEGRATED_ACCOUNT_EVENTS),
    status: fc.option(fc.constantFrom(...TRUTO_ACCOUNT_STATUSES, 'reactivated', 'archived'), {
      nil: undefined,
    }),
    tenant: fc.option(fc.constantFrom('t-1', 't-2'), { nil: undefined }),
    lastError: fc.option(fc.constantFrom('expired', 'revoked'), { nil: undefined }),
    createdAt,
    useEventType: fc.boolean(),
  })
  .map((d): Draft => ({
    type: d.type,
    payload:
      d.type === 'integrated_account:deleted'
        ? { id: d.account }
        : {
            id: d.account,
            integration: { name: 'hubspot' },
            ...(d.status !== undefined ? { status: d.status } : {}),
            ...(d.tenant !== undefined ? { tenant_id: d.tenant } : {}),
            ...(d.lastError !== undefined ? { last_error: { message: d.lastError } } : {}),
          },
    createdAt: d.createdAt,
    useEventType: d.useEventType,
  }));

const recordChangeDraft = fc
  .record({
    action: fc.constantFrom('created', 'updated', 'deleted'),
    account: fc.constantFrom('acc-1', 'acc-2'),
    resource: fc.constantFrom('crm/contacts', 'ticketing/tickets'),
    record: fc.constantFrom('a', 'b', 'c', 'B', '10', '9'),
    createdAt,
    useEventType: fc.boolean(),
  })
  .map((d): Draft => ({
    type: `record:${d.action}`,
    payload: {
      id: d.record,
      integrated_account_id: d.account,
      resource: d.resource,
      name: 'snapshot',
    },
    createdAt: d.createdAt,
    useEventType: d.useEventType,
  }));

/**
 * A history and one way it may arrive: the distinct events, then the same events shuffled with
 * some delivered again at random places (each arrival a stored event of its own, as the engine
 * would read it back).
 */
function deliveries(draft: fc.Arbitrary<Draft>, maxLength: number) {
  return fc
    .array(draft, { minLength: 1, maxLength })
    .chain((drafts) =>
      fc.tuple(
        fc.constant(drafts),
        fc.array(fc.integer({ min: 0, max: 999 }), {
          minLength: drafts.length,
          maxLength: drafts.length,
        }),
      ),
    )
    .map(([drafts, prefixes]) => envelopes(drafts, prefixes))
    .chain((bodies) => {
      const indices = bodies.map((_, i) => i);
      return fc.tuple(
        fc.constant(bodies),
        fc.shuffledSubarray(indices, { minLength: indices.length, maxLength: indices.length }),
        fc.array(fc.tuple(fc.nat({ max: bodies.length - 1 }), fc.nat()), { maxLength: 6 }),
      );
    })
    .map(([bodies, shuffled, repeats]) => {
      const order = [...shuffled];
      for (const [which, where] of repeats) order.splice(where % (order.length + 1), 0, which);
      // Log positions follow arrival, not source order: a reducer must not depend on them.
      const arrivals = order.map((which, i) => toProjectionEvent(bodies[which] as object, i + 1));
      return { events: eventsFor(bodies), arrivals };
    });
}

/** Whether `projection` folds `event` (one of its event types), narrowing it to its events. */
function isFoldedBy<E extends AnyEvent>(
  projection: Projection<string, unknown, E>,
  event: AnyEvent,
): event is E {
  return (projection.eventTypes as readonly string[]).includes(event.type);
}

/** The reference fold, written independently of the testing helpers: group, dedupe, sort, fold. */
function referenceFold<S, E extends AnyEvent>(
  projection: Projection<string, S, E>,
  events: readonly TrutoEvent[],
): Map<string, S> {
  const byKey = new Map<string, Map<string, E>>();
  for (const event of events) {
    if (!isFoldedBy(projection, event)) continue;
    const key = projection.keyOf(event);
    if (key === null) continue;
    const distinct = byKey.get(key) ?? new Map<string, E>();
    if (!distinct.has(event.id)) distinct.set(event.id, event);
    byKey.set(key, distinct);
  }
  const states = new Map<string, S>();
  for (const key of [...byKey.keys()].sort()) {
    const sorted = [...(byKey.get(key) as Map<string, E>).values()].sort((a, b) =>
      a.sourceTime !== b.sourceTime
        ? a.sourceTime - b.sourceTime
        : a.id < b.id
          ? -1
          : a.id > b.id
            ? 1
            : 0,
    );
    states.set(
      key,
      sorted.reduce(
        (state, event) => projection.evolve(state, event),
        projection.initialState(key),
      ),
    );
  }
  return states;
}

/** Folds each key's arrivals the engine's live way, then checks they match the reference. */
function arrivalStates<S>(
  projection: Projection<string, S, AnyEvent>,
  reference: ReadonlyMap<string, S>,
  arrivals: readonly TrutoEvent[],
): Map<string, S> {
  const states = new Map<string, S>();
  for (const key of reference.keys())
    states.set(key, foldInArrivalOrder(projection, arrivals, key));
  return states;
}

/** JSON after a round trip, as the stores compare it. */
const asJson = (states: ReadonlyMap<string, unknown>) => JSON.parse(JSON.stringify([...states]));

describe('arrival order never changes state', () => {
  it('runs, and the account-sync derived from them', () => {
    fc.assert(
      fc.property(deliveries(fc.oneof(lifecycleDraft, recordDraft), 30), ({ events, arrivals }) => {
        const reference = referenceFold(runsProjection, events);
        const arrived = arrivalStates(runsProjection, reference, arrivals);
        expect(asJson(arrived)).toEqual(asJson(reference));
        expect(asJson(deriveAll(accountSyncProjection, arrived))).toEqual(
          asJson(deriveAll(accountSyncProjection, reference)),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('accounts', () => {
    fc.assert(
      fc.property(deliveries(accountDraft, 20), ({ events, arrivals }) => {
        const reference = referenceFold(accountsProjection, events);
        expect(asJson(arrivalStates(accountsProjection, reference, arrivals))).toEqual(
          asJson(reference),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('records: each record, and the summary moved by each record change as it arrives', () => {
    fc.assert(
      fc.property(deliveries(recordChangeDraft, 30), ({ events, arrivals }) => {
        const reference = referenceFold(recordStatesProjection, events);
        const arrived = arrivalStates(recordStatesProjection, reference, arrivals);
        expect(asJson(arrived)).toEqual(asJson(reference));

        // The summary as the engine keeps it: each arrival moves its record, and the record's
        // move (before → after) moves its resource's row.
        const members = new Map<string, RecordState>();
        const summaries = new Map<string, RecordsState>();
        const seen = new Set<string>();
        for (const event of arrivals) {
          if (seen.has(event.id) || !isFoldedBy(recordStatesProjection, event)) continue;
          seen.add(event.id);
          const key = recordStatesProjection.keyOf(event) as string;
          const before = members.get(key);
          const after = recordStatesProjection.evolve(
            before ?? recordStatesProjection.initialState(key),
            event,
          );
          members.set(key, after);
          const group = recordsProjection.groupOf(after) as string;
          summaries.set(
            group,
            recordsProjection.apply(
              summaries.get(group) ?? recordsProjection.initialState(group),
              before,
              after,
            ),
          );
        }
        const sorted = new Map([...summaries.keys()].sort().map((k) => [k, summaries.get(k)]));
        expect(asJson(sorted)).toEqual(asJson(aggregateAll(recordsProjection, reference)));

        // And the summary recomputed from the events themselves, written independently.
        const expected = new Map<string, Record<string, unknown>>();
        const latest = new Map<string, string>();
        for (const e of [...new Map(events.map((x) => [x.id, x])).values()].sort(
          (a, b) => a.sourceTime - b.sourceTime || (a.id < b.id ? -1 : 1),
        )) {
          if (e.facts?.kind !== 'record') continue;
          const group = `${e.facts.integratedAccountId}/${e.facts.resource}`;
          const row = expected.get(group) ?? { created: 0, updated: 0, deleted: 0 };
          const action = e.type.slice('record:'.length);
          row[action] = (row[action] as number) + 1;
          row.firstChangeAt ??= new Date(e.sourceTime).toISOString();
          row.lastChangeAt = new Date(e.sourceTime).toISOString();
          expected.set(group, row);
          latest.set(JSON.stringify([group, e.facts.recordId]), e.type);
        }
        for (const [group, row] of expected) {
          row.live = [...latest].filter(
            ([id, type]) => JSON.parse(id)[0] === group && type !== 'record:deleted',
          ).length;
          expect(summaries.get(group)).toMatchObject(row);
        }
        expect(summaries.size).toBe(expected.size);
      }),
      { numRuns: 200 },
    );
  });
});
