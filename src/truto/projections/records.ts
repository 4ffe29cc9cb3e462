/**
 * `records`: changes in the underlying apps, per integrated account and resource
 * (shared/docs/projections.md).
 *
 * Key: `<integratedAccountId>/<resource>` (stream `record:<key>`), with `%` and `/` in the account id
 * escaped as `%25` and `%2F` (streams.ts): an account id holding `/` cannot make two pairs share
 * a key (`a/b` + `c` against `a` + `b/c`). The state's `integratedAccountId` and `resource` fields
 * are the ids as sent. Version 3 rebuilds states of version 1 (unescaped keys, ids in the row).
 *
 * Fields: `integratedAccountId`, `resource`, `live` (the number of distinct records whose latest
 * event in source order is created or updated), `liveCount` (the same number, kept for readers of
 * earlier versions), `created`, `updated`, `deleted`, `firstChangeAt`, `lastChangeAt`. Times are
 * ISO-8601 UTC strings with milliseconds.
 *
 * Scale: one resource can hold millions of records. This row is a small summary, an aggregate
 * over `record-states` (one entity per record, its latest event and its counts): each record
 * event moves its record's entity, and the record's move (before → after) moves this row by
 * `apply`, in the same transaction. Folding one record event therefore costs the same at ten
 * records as at a million, and no row holds the ids. Earlier versions (v1) kept every live id in
 * this row; the version bump rebuilds it from the log on the first start.
 *
 * Choices where the specification is silent:
 * - `record:updated` for a record never seen created makes it live (its latest event is an
 *   update); `record:deleted` for a record not live only counts. A record deleted then created
 *   again is live.
 * - `created` / `updated` / `deleted` count distinct events, whether or not they changed `live`.
 * - Not time-travelable (an aggregate): `stateAt` of `record-states` gives a record's past.
 */
import { defineAggregateProjection } from '../../engine/projection.js';
import { recordsKey, splitRecordsKey } from '../streams.js';
import { isLive, recordStatesProjection, type RecordState } from './record-states.js';

export interface RecordsState {
  readonly integratedAccountId: string;
  readonly resource: string;
  /** Records whose latest event is created or updated. */
  readonly live: number;
  /** `live`, under its earlier name. */
  readonly liveCount: number;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly firstChangeAt: string | null;
  readonly lastChangeAt: string | null;
}

export { recordsKey };

/** The state before the first record. */
export function initialRecordsState(key: string): RecordsState {
  return {
    ...splitRecordsKey(key),
    live: 0,
    liveCount: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    firstChangeAt: null,
    lastChangeAt: null,
  };
}

const earlier = (a: string | null, b: string | null) =>
  a === null || (b !== null && b < a) ? b : a;
const later = (a: string | null, b: string | null) => (a === null || (b !== null && b > a) ? b : a);

/**
 * Moves a resource's summary by one record's change. Exact for any sequence of moves: counts move
 * by `after - before`, and a record's first change only moves earlier and its last only later,
 * so the summary's min and max follow without looking at other records.
 */
export function applyRecordMove(
  state: RecordsState,
  before: RecordState | undefined,
  after: RecordState | undefined,
): RecordsState {
  const live = state.live + Number(isLive(after)) - Number(isLive(before));
  return {
    ...state,
    live,
    liveCount: live,
    created: state.created + (after?.created ?? 0) - (before?.created ?? 0),
    updated: state.updated + (after?.updated ?? 0) - (before?.updated ?? 0),
    deleted: state.deleted + (after?.deleted ?? 0) - (before?.deleted ?? 0),
    firstChangeAt: earlier(state.firstChangeAt, after?.firstChangeAt ?? null),
    lastChangeAt: later(state.lastChangeAt, after?.lastChangeAt ?? null),
  };
}

/**
 * The `records` projection.
 *
 * @example
 * aggregateAll(recordsProjection, foldAll(recordStatesProjection, events)).get('acc-1/crm/contacts')?.live; // 2
 */
export const recordsProjection = defineAggregateProjection({
  name: 'records',
  version: 3,
  from: recordStatesProjection,
  groupOf: (record: RecordState) => recordsKey(record.integratedAccountId, record.resource),
  initialState: initialRecordsState,
  apply: applyRecordMove,
});
