/**
 * `records` and its members `record-states`: every field of projections.md, the keys, the
 * fixture scenario, and the scale rule (no row grows with the records of a resource).
 */
import { describe, expect, it } from 'vitest';
import {
  applyRecordMove,
  initialRecordsState,
  recordStateKey,
  recordStatesProjection,
  recordsProjection,
  type RecordState,
  type RecordsState,
} from '../../src/truto/projections/index.js';
import type { AnyEvent } from '../../src/engine/projection.js';
import { aggregateAll, eventsFor, foldAll, givenEvents } from '../../src/testing/index.js';
import { SALESFORCE_ACCOUNT } from '../fixtures/accounts.js';
import { recordChanges } from '../fixtures/records.js';
import { ACCOUNT, at, recordEvent } from './builders.js';

const KEY = `${ACCOUNT}/crm/contacts`;

/** The summary of the events' resources, recomputed from their records. */
const summaries = (events: readonly AnyEvent[]) =>
  aggregateAll(recordsProjection, foldAll(recordStatesProjection, events));
const summary = (...events: AnyEvent[]) => summaries(events).get(KEY);

describe('record-states', () => {
  it('key is one record of one account and resource; its stream is the resource', () => {
    const key = recordStatesProjection.keyOf(recordEvent('created', 'c1'));
    expect(key).toBe(recordStateKey(ACCOUNT, 'crm/contacts', 'c1'));
    expect(JSON.parse(key as string)).toEqual([ACCOUNT, 'crm/contacts', 'c1']);
    expect(recordStatesProjection.streamOf?.(key as string)).toBe(
      recordEvent('created', 'c1').stream,
    );
  });

  it('holds the latest event in source order and the counts of one record', () => {
    const latest = recordEvent('deleted', 'c1', undefined, { minute: 5 });
    givenEvents(recordStatesProjection)
      .when(
        latest,
        recordEvent('created', 'c1', undefined, { minute: 1 }),
        recordEvent('updated', 'c1', undefined, { minute: 3 }),
      )
      .then({
        integratedAccountId: ACCOUNT,
        resource: 'crm/contacts',
        recordId: 'c1',
        latest: 'deleted',
        latestTime: Date.parse(at(5)),
        latestEventId: latest.id,
        created: 1,
        updated: 1,
        deleted: 1,
        firstChangeAt: at(1),
        lastChangeAt: at(5),
      } satisfies RecordState);
  });

  it('is commutative: every order of the same events folds to the same state', () => {
    const events = [
      recordEvent('created', 'c1', undefined, { minute: 1 }),
      recordEvent('deleted', 'c1', undefined, { minute: 2 }),
      recordEvent('created', 'c1', undefined, { minute: 3 }),
      recordEvent('updated', 'c1', undefined, { minute: 4 }),
    ];
    const fold = (order: readonly AnyEvent[]) =>
      order.reduce(
        (state, event) => recordStatesProjection.evolve(state, event as never),
        recordStatesProjection.initialState(recordStateKey(ACCOUNT, 'crm/contacts', 'c1')),
      );
    const sorted = fold(events);
    expect(recordStatesProjection.commutative).toBe(true);
    expect(sorted.latest).toBe('updated');
    for (const order of permutations(events)) expect(fold(order)).toEqual(sorted);
  });
});

describe('records', () => {
  it('key is <integratedAccountId>/<resource>', () => {
    const record = foldAll(recordStatesProjection, [
      recordEvent('created', 'c1', 'ticketing/tickets'),
    ]);
    expect([...aggregateAll(recordsProjection, record).keys()]).toEqual([
      `${ACCOUNT}/ticketing/tickets`,
    ]);
  });

  it('live: the number of ids whose latest event in source time is created or updated', () => {
    expect(
      summary(
        recordEvent('deleted', 'c2', undefined, { minute: 5 }),
        recordEvent('created', 'c2', undefined, { minute: 1 }),
        recordEvent('created', 'c3', undefined, { minute: 2 }),
        recordEvent('updated', 'c1', undefined, { minute: 3 }),
        recordEvent('deleted', 'c4', undefined, { minute: 4 }),
        recordEvent('created', 'c4', undefined, { minute: 6 }),
        recordEvent('created', 'B', undefined, { minute: 7 }),
        recordEvent('created', 'a', undefined, { minute: 8 }),
      ),
    ).toMatchObject({ live: 5, liveCount: 5 });
  });

  it('a record deleted then created again is live; deleted again, it is not', () => {
    const created = recordEvent('created', 'c1', undefined, { minute: 1 });
    const deleted = recordEvent('deleted', 'c1', undefined, { minute: 2 });
    const again = recordEvent('created', 'c1', undefined, { minute: 3 });
    expect(summary(created, deleted)).toMatchObject({ live: 0, created: 1, deleted: 1 });
    expect(summary(again, deleted, created)).toMatchObject({ live: 1, created: 2, deleted: 1 });
    expect(
      summary(created, deleted, again, recordEvent('deleted', 'c1', undefined, { minute: 4 })),
    ).toMatchObject({ live: 0, created: 2, deleted: 2 });
  });

  it('created / updated / deleted count distinct events of each kind', () => {
    const dup = recordEvent('updated', 'c1', undefined, { minute: 2 });
    expect(
      summary(
        recordEvent('created', 'c1', undefined, { minute: 1 }),
        dup,
        dup,
        recordEvent('updated', 'c1', undefined, { minute: 3 }),
        recordEvent('deleted', 'c9', undefined, { minute: 4 }),
      ),
    ).toMatchObject({ created: 1, updated: 2, deleted: 1, live: 1 });
  });

  it('the complete state; a late event moves the counts and firstChangeAt, not lastChangeAt', () => {
    expect(
      summary(
        recordEvent('updated', 'c1', undefined, { minute: 9 }),
        recordEvent('created', 'c1', undefined, { minute: 1 }),
      ),
    ).toEqual({
      integratedAccountId: ACCOUNT,
      resource: 'crm/contacts',
      live: 1,
      liveCount: 1,
      created: 1,
      updated: 1,
      deleted: 0,
      firstChangeAt: at(1),
      lastChangeAt: at(9),
    } satisfies RecordsState);
  });

  it('apply moves the summary by one record change, exactly', () => {
    const key = recordStateKey(ACCOUNT, 'crm/contacts', 'c1');
    const created = recordStatesProjection.evolve(
      recordStatesProjection.initialState(key),
      recordEvent('created', 'c1', undefined, { minute: 2 }),
    );
    const deleted = recordStatesProjection.evolve(
      created,
      recordEvent('deleted', 'c1', undefined, { minute: 3 }),
    );
    const late = recordStatesProjection.evolve(
      deleted,
      recordEvent('updated', 'c1', undefined, { minute: 1 }),
    );
    const one = applyRecordMove(initialRecordsState(KEY), undefined, created);
    expect(one).toMatchObject({ live: 1, created: 1, lastChangeAt: at(2) });
    const gone = applyRecordMove(one, created, deleted);
    expect(gone).toMatchObject({ live: 0, created: 1, deleted: 1, lastChangeAt: at(3) });
    // A late update: counted, and the record stays deleted (its latest event is still that).
    expect(applyRecordMove(gone, deleted, late)).toEqual({
      ...gone,
      updated: 1,
      firstChangeAt: at(1),
    });
  });

  it('no row grows with the records of a resource', () => {
    // Every record's entity and the summary, moved one created record at a time.
    const sizes = (n: number) => {
      let row = initialRecordsState(KEY);
      let largestMember = 0;
      for (let i = 0; i < n; i++) {
        const id = `r${String(i).padStart(6, '0')}`;
        const key = recordStateKey(ACCOUNT, 'crm/contacts', id);
        const member = recordStatesProjection.evolve(
          recordStatesProjection.initialState(key),
          recordEvent('created', id, undefined, { minute: 1 }),
        );
        largestMember = Math.max(largestMember, JSON.stringify(member).length);
        row = applyRecordMove(row, undefined, member);
      }
      return { row, summary: JSON.stringify(row).length, largestMember };
    };
    // 1,000 and 5,000 have as many digits: a row that held ids would be five times the size.
    const small = sizes(1_000);
    const large = sizes(5_000);
    expect(large.row.live).toBe(5_000);
    expect(large.summary).toBe(small.summary);
    expect(large.largestMember).toBe(small.largestMember);
  });

  it('the fixture scenario: two resources of the Salesforce account', () => {
    const states = summaries(eventsFor(recordChanges));
    expect([...states.keys()]).toEqual([
      `${SALESFORCE_ACCOUNT}/crm/accounts`,
      `${SALESFORCE_ACCOUNT}/crm/contacts`,
    ]);
    expect(states.get(`${SALESFORCE_ACCOUNT}/crm/contacts`)).toEqual({
      integratedAccountId: SALESFORCE_ACCOUNT,
      resource: 'crm/contacts',
      live: 2,
      liveCount: 2,
      created: 2,
      updated: 2,
      deleted: 2,
      firstChangeAt: '2024-09-10T15:00:00.000Z',
      lastChangeAt: '2024-09-10T15:25:00.000Z',
    });
    expect(states.get(`${SALESFORCE_ACCOUNT}/crm/accounts`)).toMatchObject({
      live: 1,
      lastChangeAt: '2024-09-10T15:30:00.000Z',
    });
  });
});

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}
