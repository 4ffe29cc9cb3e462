/**
 * `record-states`: what the `records` summary needs to know of each record, one small entity per
 * record (shared/docs/projections.md: per-record knowledge lives outside the summary row).
 *
 * Key: `JSON.stringify([integratedAccountId, resource, recordId])` (`recordStateKey`); its events
 * are in the stream of its account and resource (`record:<integratedAccountId>/<resource>`), so
 * every record of a resource is in one scale-out partition with the `records` row it moves.
 *
 * Fields: `integratedAccountId`, `resource`, `recordId`; `latest`, the action of the record's
 * latest event in source order (`created`, `updated`, `deleted`; `null` before any), with
 * `latestTime` (epoch ms) and `latestEventId`, its sort key; `created` / `updated` / `deleted`,
 * distinct events of each action for this record; `firstChangeAt`, `lastChangeAt` (ISO-8601).
 *
 * Not published (`publish: false`): its changes are not journalled (a million of them would cost
 * more than folding them); the `records` summary publishes the changes that matter. Read it with
 * `get`, `list` and `stateAt`.
 *
 * Commutative: counts add, the latest event is a max by (source time, id), the first change a
 * min, so folding the distinct events in any order gives the fold in source order. The engine
 * folds a late event on top instead of re-reading the resource's stream, which holds every record
 * of the resource: a late event costs the same at ten records as at a million.
 */
import { compareSourceOrder } from '../../engine/fold.js';
import { RECORD_EVENTS } from '../catalogue.js';
import { defineTrutoProjection, type RecordEvent } from '../events.js';
import { recordsStream } from '../streams.js';
import { toIsoTime } from '../time.js';
import { actionOf } from './shared.js';

export type RecordAction = 'created' | 'updated' | 'deleted';

export interface RecordState {
  readonly integratedAccountId: string;
  readonly resource: string;
  readonly recordId: string;
  readonly latest: RecordAction | null;
  readonly latestTime: number | null;
  readonly latestEventId: string | null;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly firstChangeAt: string | null;
  readonly lastChangeAt: string | null;
}

/** The key of one record: unambiguous whatever the resource and id hold. */
export function recordStateKey(
  integratedAccountId: string,
  resource: string,
  recordId: string,
): string {
  return JSON.stringify([integratedAccountId, resource, recordId]);
}

function parseKey(key: string): [string, string, string] {
  const parsed: unknown = JSON.parse(key);
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    !parsed.every((p) => typeof p === 'string')
  ) {
    throw new Error(`not a record-states key: ${key}`);
  }
  return parsed as [string, string, string];
}

export function initialRecordState(key: string): RecordState {
  const [integratedAccountId, resource, recordId] = parseKey(key);
  return {
    integratedAccountId,
    resource,
    recordId,
    latest: null,
    latestTime: null,
    latestEventId: null,
    created: 0,
    updated: 0,
    deleted: 0,
    firstChangeAt: null,
    lastChangeAt: null,
  };
}

/** Whether a record's latest event makes it live (created or updated). */
export function isLive(state: RecordState | undefined): boolean {
  return state?.latest === 'created' || state?.latest === 'updated';
}

function isRecordAction(action: string): action is RecordAction {
  return action === 'created' || action === 'updated' || action === 'deleted';
}

/** Folds one `record:*` event into its record's state; order-insensitive (see the header). */
export function evolveRecordState(state: RecordState, event: RecordEvent): RecordState {
  const action = actionOf(event.type);
  if (event.facts?.kind !== 'record' || !isRecordAction(action)) return state;
  const at = toIsoTime(event.sourceTime);
  const newest =
    state.latestTime === null ||
    compareSourceOrder(event, { sourceTime: state.latestTime, id: state.latestEventId ?? '' }) > 0;
  return {
    ...state,
    ...(newest
      ? { latest: action, latestTime: event.sourceTime, latestEventId: event.id, lastChangeAt: at }
      : {}),
    [action]: state[action] + 1,
    // ISO-8601 UTC with milliseconds and four-digit years: string order is time order.
    firstChangeAt:
      state.firstChangeAt === null || at < state.firstChangeAt ? at : state.firstChangeAt,
  };
}

/**
 * The `record-states` projection: the members of the `records` aggregate.
 *
 * @example
 * foldEvents(recordStatesProjection, [eventFor(contactCreated)]).latest; // 'created'
 */
export const recordStatesProjection = defineTrutoProjection({
  name: 'record-states',
  version: 1,
  eventTypes: RECORD_EVENTS,
  reads: 'facts',
  commutative: true,
  // A change per record event, journalled, would cost more than the fold; `records` publishes.
  publish: false,
  keyOf: (event) =>
    event.facts?.kind === 'record'
      ? recordStateKey(event.facts.integratedAccountId, event.facts.resource, event.facts.recordId)
      : null,
  initialState: initialRecordState,
  streamOf: (key) => {
    const [integratedAccountId, resource] = parseKey(key);
    return recordsStream(integratedAccountId, resource);
  },
  evolve: evolveRecordState,
});
