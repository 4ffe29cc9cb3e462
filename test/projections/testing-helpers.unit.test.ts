/**
 * `truto-state/testing`: the helpers must fail when they should (readable diffs, impure
 * reducers, non-JSON state), not only pass when they should. Exercised on a user-style projection.
 */
import { describe, expect, it } from 'vitest';
import { defineDerivedProjection, type ProjectionEvent } from '../../src/engine/projection.js';
import { defineTrutoProjection, type TrutoEnvelope } from '../../src/truto/events.js';
import type { RecordFacts } from '../../src/truto/facts.js';
import type { RecordPayload } from '../../src/truto/schemas.js';
import {
  ProjectionAssertionError,
  assertJsonState,
  diffJson,
  eventFor,
  eventsFor,
  foldAll,
  foldEvents,
  foldInArrivalOrder,
  givenEvents,
  givenSources,
  toProjectionEvent,
} from '../../src/testing/index.js';
import { envelope } from './builders.js';

/** A user's projection: which record ids of a resource were touched, in fold order. */
interface Touched {
  readonly resource: string;
  readonly ids: readonly string[];
}
const touched = defineTrutoProjection({
  name: 'touched',
  version: 1,
  eventTypes: ['record:created', 'record:updated'],
  keyOf: (e) => e.facts.resource,
  initialState: (resource): Touched => ({ resource, ids: [] }),
  evolve: (state, e) => ({ ...state, ids: [...state.ids, e.facts.recordId] }),
});

const record = (
  action: string,
  id: string,
  minute: number,
  resource = 'contacts',
  envelopeId?: string,
) =>
  eventFor(
    envelope(
      `record:${action}`,
      { id, integrated_account_id: 'acc-1', resource },
      {
        minute,
        ...(envelopeId !== undefined ? { id: envelopeId } : {}),
      },
    ),
  );

function thrown(fn: () => unknown): ProjectionAssertionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProjectionAssertionError) return error;
    throw error;
  }
  throw new Error('expected a ProjectionAssertionError');
}

describe('event builders', () => {
  it('toProjectionEvent runs a body through parseWebhook (event_type, space-format time)', () => {
    const event = toProjectionEvent(
      {
        id: 'e1',
        event_type: 'record:created',
        created_at: '2024-09-10 12:00:00',
        payload: { id: 'r', integrated_account_id: 'a', resource: 'x' },
      },
      7,
    );
    const { position, id, type, sourceTime, stream, facts } = event;
    expect({ position, id, type, sourceTime, stream, facts }).toEqual({
      position: 7,
      id: 'e1',
      type: 'record:created',
      sourceTime: Date.UTC(2024, 8, 10, 12),
      stream: 'record:a/x',
      facts: { kind: 'record', integratedAccountId: 'a', resource: 'x', recordId: 'r' },
    });
    // The payload and envelope are decoded from the stored body, as the engine shows them.
    expect(event.payload).toEqual({ id: 'r', integrated_account_id: 'a', resource: 'x' });
    expect(event.envelope).toEqual({ environmentId: null, webhookId: null });
  });

  it('refused bodies and events without a stream throw with the reason', () => {
    expect(() => eventFor({ event: 'test', created_at: '2024-09-10 12:00:00' })).toThrow(
      /missing_id/,
    );
    const invalid = () =>
      eventFor({
        id: 'e',
        event: 'record:created',
        created_at: '2024-09-10 12:00:00',
        payload: {},
      });
    expect(invalid).toThrow(/invalid_payload/);
    expect(invalid).toThrow('payload.id: expected string, received nothing');
  });

  it('events of other families get a stream (the payload id, else the event) and no facts', () => {
    const test = eventFor({
      id: 'e',
      event: 'test',
      created_at: '2024-09-10 12:00:00',
      payload: {},
    });
    expect([test.type, test.stream, test.facts]).toEqual(['test', 'event:["test","e"]', null]);
    const batch = eventFor({
      id: 'e2',
      event: 'batch_job:completed',
      created_at: '2024-09-10 12:00:00',
      payload: { id: 'b-1', status: 'done' },
    });
    expect([batch.stream, batch.facts]).toEqual(['other:["batch_job","b-1"]', null]);
    expect(batch.payload).toEqual({ id: 'b-1', status: 'done' });
  });

  it('eventsFor numbers positions in arrival order; JSON text is accepted too', () => {
    const [a, b] = eventsFor([
      JSON.stringify({
        id: 'x',
        event: 'record:created',
        created_at: '2024-09-10T12:00:00Z',
        payload: { id: 'r', integrated_account_id: 'a', resource: 'x' },
      }),
      {
        id: 'y',
        event: 'record:deleted',
        created_at: '2024-09-10T12:00:00Z',
        payload: { id: 'r', integrated_account_id: 'a', resource: 'x' },
      },
    ]);
    expect([a?.position, b?.position]).toEqual([1, 2]);
  });
});

describe('foldEvents', () => {
  it('sorts by (source time, id), de-duplicates by id, keeps only the projection types and the key', () => {
    const state = foldEvents(
      touched,
      [
        record('created', 'late', 5),
        record('created', 'tie-b', 3, 'contacts', 'id-b'),
        record('created', 'tie-a', 3, 'contacts', 'id-a'),
        record('created', 'dup', 1, 'contacts', 'id-dup'),
        record('updated', 'dup-again', 9, 'contacts', 'id-dup'),
        record('deleted', 'not-a-type', 2),
        record('created', 'other-key', 2, 'tickets'),
      ],
      'contacts',
    );
    expect(state.ids).toEqual(['dup', 'tie-a', 'tie-b', 'late']);
  });

  it('infers the key, and asks for one when the events span several', () => {
    expect(foldEvents(touched, [record('created', 'a', 0)]).resource).toBe('contacts');
    expect(() =>
      foldEvents(touched, [record('created', 'a', 0), record('created', 'b', 0, 'tickets')]),
    ).toThrow(/2 keys/);
    expect(foldEvents(touched, [], 'contacts')).toEqual({ resource: 'contacts', ids: [] });
  });

  it('a reducer that mutates its state fails loudly (states are frozen while folding)', () => {
    const mutating = defineTrutoProjection({
      ...touched,
      initialState: (): { ids: string[] } => ({ ids: [] }),
      evolve: (state, e) => {
        state.ids.push(e.facts.recordId);
        return state;
      },
    });
    expect(() => foldEvents(mutating, [record('created', 'a', 0)])).toThrow(TypeError);
  });

  it('foldInArrivalOrder exposes a reducer with hidden state that the sorted fold would not', () => {
    let calls = 0;
    const leaky = defineTrutoProjection({
      ...touched,
      initialState: (): number => 0,
      evolve: () => ++calls,
    });
    const events = [record('created', 'b', 2), record('created', 'a', 1)];
    calls = 0;
    const sorted = foldEvents(leaky, events);
    calls = 0;
    expect(foldInArrivalOrder(leaky, events)).not.toBe(sorted);
  });

  it('foldAll folds every key, sorted', () => {
    const states = foldAll(touched, [
      record('created', 'x', 1, 'tickets'),
      record('created', 'y', 1, 'contacts'),
    ]);
    expect([...states.keys()]).toEqual(['contacts', 'tickets']);
  });
});

describe('given / when / then', () => {
  it('then(expected) passes on equal state and throws a readable diff otherwise', () => {
    const when = givenEvents(touched).when(record('created', 'a', 0), record('created', 'b', 1));
    when.then({ resource: 'contacts', ids: ['a', 'b'] });
    const error = thrown(() => when.then({ resource: 'tickets', ids: ['a'] }));
    expect(error.diff).toEqual([
      '$.resource: expected "tickets", received "contacts"',
      '$.ids: expected 1 items, received 2',
      '$.ids[1]: unexpected "b"',
    ]);
    expect(error.message).toContain('$.resource: expected "tickets", received "contacts"');
    expect(error.actual).toEqual({ resource: 'contacts', ids: ['a', 'b'] });
  });

  it('then(predicate): false fails, true passes, a throwing predicate propagates', () => {
    const when = givenEvents(touched).when(record('created', 'a', 0));
    when.then((s) => s.ids.length === 1);
    expect(() => when.then((s) => s.ids.length === 2)).toThrow(/does not satisfy the predicate/);
    expect(() =>
      when.then(() => {
        throw new Error('from the predicate');
      }),
    ).toThrow('from the predicate');
  });

  it('thenMatches compares only the fields given', () => {
    const when = givenEvents(touched, 'contacts').when(record('created', 'a', 0));
    when.thenMatches({ ids: ['a'] });
    expect(thrown(() => when.thenMatches({ ids: ['b'] })).diff).toEqual([
      '$.ids[0]: expected "b", received "a"',
    ]);
  });

  it('rejects state that is not plain JSON', () => {
    const withMap = defineTrutoProjection({
      ...touched,
      initialState: (): { seen: Map<string, number> } => ({ seen: new Map() }),
      evolve: (s) => s,
    });
    const error = thrown(() =>
      givenEvents(withMap)
        .when(record('created', 'a', 0))
        .then((s) => s.seen.size === 0),
    );
    expect(error.diff).toEqual(['$.seen: Map is not a plain object']);
    expect(thrown(() => assertJsonState({ a: undefined, b: [NaN] })).diff).toEqual([
      '$.a: undefined is not JSON',
      '$.b[0]: NaN is not a JSON number',
    ]);
  });

  it('givenSources runs a derived projection over source states', () => {
    const count = defineDerivedProjection({
      name: 'count',
      version: 1,
      from: touched,
      groupOf: () => 'all',
      derive: (_key, sources): { n: number } => ({ n: sources.length }),
    });
    expect(count.from).toBe('touched');
    givenSources(count, 'all')
      .when({ resource: 'a', ids: [] }, { resource: 'b', ids: [] })
      .then({ n: 2 });
  });

  it('diffJson reports missing and extra keys; key order does not matter', () => {
    expect(diffJson({ a: 1, b: 2 }, { b: 2, a: 1 })).toEqual([]);
    expect(diffJson({ a: 1 }, { b: 1 })).toEqual(['$.a: expected 1, missing', '$.b: unexpected 1']);
  });
});

// A projection defined over Truto events accepts the engine's event type spelled out.
const _typeCheck: (
  e: ProjectionEvent<'record:created', RecordPayload, RecordFacts, TrutoEnvelope>,
) => string | null = (e) => touched.keyOf(e);
void _typeCheck;
