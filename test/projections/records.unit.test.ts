/**
 * `records`: every field of projections.md, the key, and the fixture scenario.
 */
import { describe, expect, it } from 'vitest';
import { recordsProjection, type RecordsState } from '../../src/truto/projections/index.js';
import { eventsFor, foldAll, givenEvents } from '../../src/testing/index.js';
import { SALESFORCE_ACCOUNT } from '../fixtures/accounts.js';
import { recordChanges } from '../fixtures/records.js';
import { ACCOUNT, at, recordEvent } from './builders.js';

const KEY = `${ACCOUNT}/crm/contacts`;
const given = () => givenEvents(recordsProjection, KEY);

describe('records', () => {
  it('key is <integratedAccountId>/<resource>', () => {
    expect(recordsProjection.keyOf(recordEvent('created', 'c1'))).toBe(KEY);
    expect(recordsProjection.keyOf(recordEvent('created', 'c1', 'tickets'))).toBe(
      `${ACCOUNT}/tickets`,
    );
  });

  it('live: ids whose latest event in source time is created or updated, sorted', () => {
    given()
      .when(
        recordEvent('deleted', 'c2', undefined, { minute: 5 }),
        recordEvent('created', 'c2', undefined, { minute: 1 }),
        recordEvent('created', 'c3', undefined, { minute: 2 }),
        recordEvent('updated', 'c1', undefined, { minute: 3 }),
        recordEvent('deleted', 'c4', undefined, { minute: 4 }),
        recordEvent('created', 'c4', undefined, { minute: 6 }),
        recordEvent('created', 'B', undefined, { minute: 7 }),
        recordEvent('created', 'a', undefined, { minute: 8 }),
      )
      .thenMatches({ live: ['B', 'a', 'c1', 'c3', 'c4'], liveCount: 5 });
  });

  it('created / updated / deleted count distinct events of each kind', () => {
    const dup = recordEvent('updated', 'c1', undefined, { minute: 2 });
    given()
      .when(
        recordEvent('created', 'c1', undefined, { minute: 1 }),
        dup,
        dup,
        recordEvent('updated', 'c1', undefined, { minute: 3 }),
        recordEvent('deleted', 'c9', undefined, { minute: 4 }),
      )
      .thenMatches({ created: 1, updated: 2, deleted: 1, live: ['c1'] });
  });

  it('the complete state; lastChangeAt is the source time of the latest event', () => {
    given()
      .when(
        recordEvent('updated', 'c1', undefined, { minute: 9 }),
        recordEvent('created', 'c1', undefined, { minute: 1 }),
      )
      .then({
        integratedAccountId: ACCOUNT,
        resource: 'crm/contacts',
        live: ['c1'],
        liveCount: 1,
        created: 1,
        updated: 1,
        deleted: 0,
        firstChangeAt: at(1),
        lastChangeAt: at(9),
      } satisfies RecordsState);
  });

  it('the fixture scenario: two resources of the Salesforce account', () => {
    const states = foldAll(recordsProjection, eventsFor(recordChanges));
    expect([...states.keys()]).toEqual([
      `${SALESFORCE_ACCOUNT}/crm/accounts`,
      `${SALESFORCE_ACCOUNT}/crm/contacts`,
    ]);
    expect(states.get(`${SALESFORCE_ACCOUNT}/crm/contacts`)).toEqual({
      integratedAccountId: SALESFORCE_ACCOUNT,
      resource: 'crm/contacts',
      live: ['003A', '003C'],
      liveCount: 2,
      created: 2,
      updated: 2,
      deleted: 2,
      firstChangeAt: '2024-09-10T15:00:00.000Z',
      lastChangeAt: '2024-09-10T15:25:00.000Z',
    });
    expect(states.get(`${SALESFORCE_ACCOUNT}/crm/accounts`)).toMatchObject({
      live: ['001X'],
      lastChangeAt: '2024-09-10T15:30:00.000Z',
    });
  });
});
