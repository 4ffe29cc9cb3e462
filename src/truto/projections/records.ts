/**
 * `records`: changes in the underlying apps, per integrated account and resource
 * (shared/docs/projections.md).
 *
 * Key: `<integratedAccountId>/<resource>` (stream `record:<key>`), with `%` and `/` in the account id
 * escaped as `%25` and `%2F` (streams.ts): an account id holding `/` cannot make two pairs share
 * a key (`a/b` + `c` against `a` + `b/c`). The state's `integratedAccountId` and `resource` fields
 * are the ids as sent. Version 2 rebuilds states keyed by version 1's unescaped form.
 *
 * Fields: `integratedAccountId`, `resource`, `live`, `liveCount`, `created`, `updated`, `deleted`,
 * `firstChangeAt`, `lastChangeAt`. Times are ISO-8601 UTC strings with milliseconds.
 *
 * Choices where the specification is silent:
 * - `live` is an array of record ids sorted by UTF-16 code unit (JavaScript's default string
 *   order), so it is plain JSON and stable across rebuilds; `liveCount` is its length.
 * - `record:updated` for a record never seen created makes it live (its latest event is an
 *   update); `record:deleted` for a record not live only counts.
 * - `created` / `updated` / `deleted` count distinct events, whether or not they changed `live`.
 * - Each event copies `live` (reducers are pure and the engine keeps the previous state), which
 *   costs O(live records) per event: fine for thousands of records per account and resource.
 */
import { RECORD_EVENTS } from '../catalogue.js';
import { defineTrutoProjection, type RecordEvent } from '../events.js';
import { recordsKey, recordsStream, splitRecordsKey } from '../streams.js';
import { toIsoTime } from '../time.js';
import { actionOf } from './shared.js';

export interface RecordsState {
  readonly integratedAccountId: string;
  readonly resource: string;
  /** Ids of records whose latest event is created or updated, sorted. */
  readonly live: readonly string[];
  readonly liveCount: number;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly firstChangeAt: string | null;
  readonly lastChangeAt: string | null;
}

export { recordsKey };

/** The state before the first event. */
export function initialRecordsState(key: string): RecordsState {
  return {
    ...splitRecordsKey(key),
    live: [],
    liveCount: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    firstChangeAt: null,
    lastChangeAt: null,
  };
}

/** Index of `id` in the sorted `ids`, or where it would be inserted (as `-(index + 1)`). */
function search(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const value = ids[mid] as string;
    if (value === id) return mid;
    if (value < id) low = mid + 1;
    else high = mid - 1;
  }
  return -(low + 1);
}

function withLive(ids: readonly string[], id: string): readonly string[] {
  const at = search(ids, id);
  if (at >= 0) return ids;
  const insert = -at - 1;
  return [...ids.slice(0, insert), id, ...ids.slice(insert)];
}

function withoutLive(ids: readonly string[], id: string): readonly string[] {
  const at = search(ids, id);
  if (at < 0) return ids;
  return [...ids.slice(0, at), ...ids.slice(at + 1)];
}

/** Folds one `record:*` event into the resource's state. */
export function evolveRecords(state: RecordsState, event: RecordEvent): RecordsState {
  const facts = event.facts;
  if (facts?.kind !== 'record') return state;
  const at = toIsoTime(event.sourceTime);
  const action = actionOf(event.type);
  let { live, created, updated, deleted } = state;
  if (action === 'created') {
    created += 1;
    live = withLive(live, facts.recordId);
  } else if (action === 'updated') {
    updated += 1;
    live = withLive(live, facts.recordId);
  } else if (action === 'deleted') {
    deleted += 1;
    live = withoutLive(live, facts.recordId);
  } else {
    return state;
  }
  return {
    integratedAccountId: facts.integratedAccountId,
    resource: facts.resource,
    live,
    liveCount: live.length,
    created,
    updated,
    deleted,
    firstChangeAt: state.firstChangeAt ?? at,
    lastChangeAt: at,
  };
}

/**
 * The `records` projection.
 *
 * @example
 * foldEvents(recordsProjection, [eventFor(contactCreated)]).live; // ['c-1']
 */
export const recordsProjection = defineTrutoProjection({
  name: 'records',
  version: 2,
  eventTypes: RECORD_EVENTS,
  reads: 'facts',
  keyOf: (event) =>
    event.facts?.kind === 'record'
      ? recordsKey(event.facts.integratedAccountId, event.facts.resource)
      : null,
  initialState: initialRecordsState,
  streamOf: (key) => {
    const state = initialRecordsState(key);
    return recordsStream(state.integratedAccountId, state.resource);
  },
  evolve: evolveRecords,
});
