/**
 * Unit-testing a projection with `truto-state/testing` and vitest: events built from raw webhook
 * bodies, folded by the engine's rule (any arrival order, duplicates allowed), and asserted with
 * given/when/then. In an application: `import { … } from 'truto-state/testing'`.
 */
import { describe, expect, it } from 'vitest';
import { eventFor, foldInArrivalOrder, givenEvents } from '../src/testing/index.js';
import { contacts } from './library.js';

const contact = (id: string, event: string, second: number, name?: string) =>
  eventFor({
    id,
    event: `record:${event}`,
    created_at: `2024-09-10T12:00:${String(second).padStart(2, '0')}Z`,
    payload: {
      id: 'c-1',
      integrated_account_id: 'acc-1',
      resource: 'crm/contacts',
      ...(name ? { record: { name } } : {}),
    },
  });

describe('the contacts projection', () => {
  it('keeps the name from the created record', () => {
    givenEvents(contacts)
      .when(contact('e1', 'created', 1, 'Ada'))
      .then({ id: 'c-1', name: 'Ada', deleted: false });
  });

  it('marks a deleted contact, whatever order the deliveries arrived in', () => {
    const created = contact('e1', 'created', 1, 'Ada');
    const deleted = contact('e2', 'deleted', 2);
    givenEvents(contacts).when(deleted, created, deleted).thenMatches({ deleted: true });
    expect(foldInArrivalOrder(contacts, [deleted, created])).toEqual(
      foldInArrivalOrder(contacts, [created, deleted]),
    );
  });
});
