/**
 * `truto-state/testing`: given/when/then helpers for projections, framework-neutral (a mismatch
 * throws a `ProjectionAssertionError` with a readable diff; no test runner is imported).
 *
 * Events are built from realistic Truto webhook bodies through the same `parseWebhook` the
 * receiver uses, and folded by the engine's rule: distinct events (by id) sorted by (source time,
 * id). While folding, every state and event is frozen, so a reducer that mutates its input fails
 * loudly instead of corrupting the engine's previous state.
 *
 * @example
 * import { eventFor, givenEvents } from 'truto-state/testing';
 * givenEvents(accountsProjection)
 *   .when(eventFor(createdBody), eventFor(activeBody))
 *   .thenMatches({ status: 'active', usable: true });
 */
import type { StoredEvent } from '../store/port.js';
import { toProjectionEvent as viewOf } from '../engine/event-view.js';
import { sortDistinct } from '../engine/fold.js';
import type {
  AggregateProjection,
  AnyEvent,
  DerivedProjection,
  Projection,
} from '../engine/projection.js';
import { trutoCodec } from '../truto/codec.js';
import type { TrutoEvent } from '../truto/events.js';
import { parseWebhook } from '../truto/parse.js';

/** A webhook envelope as Truto POSTs it: an object, or its JSON text. */
export type WebhookBody = object | string;

/** Any stream projection, whatever its name, state type and events. */
type StreamProjection<S> = Projection<string, S, any>;

/**
 * Runs one webhook body through `parseWebhook` and returns what a reducer would see: envelope,
 * typed payload and facts, exactly as the engine shows a stored event. Throws when the body is
 * refused or its event cannot be projected (the reason is in the message).
 *
 * @example
 * toProjectionEvent({ id: 'e1', event: 'integrated_account:active', created_at: '2024-09-10 12:00:00',
 *   payload: { id: 'acc-1', status: 'active' } }, 1).stream; // 'integrated_account:acc-1'
 */
export function toProjectionEvent(body: WebhookBody, position: number): TrutoEvent {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const parsed = parseWebhook(text);
  if (!parsed.ok) throw new Error(`webhook body refused (${parsed.code}): ${parsed.message}`);
  const { event } = parsed;
  if (event.stream === null) {
    const issues = event.skipped?.issues?.map((i) => i.message).join('; ');
    throw new Error(
      `event ${event.id} (${event.type}) is not projected: ${event.skipped?.reason ?? 'unknown'}` +
        (issues ? ` (${issues})` : ''),
    );
  }
  const stored: StoredEvent = {
    position,
    id: event.id,
    type: event.type,
    stream: event.stream,
    sourceTime: event.sourceTime,
    data: event.data,
    body: event.body,
  };
  return viewOf(stored, trutoCodec) as TrutoEvent;
}

/** `toProjectionEvent(body, position)`, position defaulting to 0 (reducers do not read it). */
export function eventFor(body: WebhookBody, position = 0): TrutoEvent {
  return toProjectionEvent(body, position);
}

/** Each body as a projection event, positions 1, 2, … in the given (arrival) order. */
export function eventsFor(bodies: readonly WebhookBody[]): TrutoEvent[] {
  return bodies.map((body, index) => toProjectionEvent(body, index + 1));
}

/** The events of `projection`'s types that belong to `key` (the engine shows it no others). */
function eventsOfKey<S>(
  projection: StreamProjection<S>,
  events: readonly AnyEvent[],
  key: string | undefined,
): { key: string; events: AnyEvent[] } {
  const types = new Set(projection.eventTypes);
  const keyed = events
    .filter((event) => types.has(event.type))
    .map((event) => ({ event, key: projection.keyOf(event) }))
    .filter((entry): entry is { event: AnyEvent; key: string } => entry.key !== null);
  if (key === undefined) {
    const keys = [...new Set(keyed.map((entry) => entry.key))];
    if (keys.length !== 1) {
      throw new Error(
        keys.length === 0
          ? `no event belongs to projection "${projection.name}": pass a key to fold none`
          : `events belong to ${keys.length} keys of "${projection.name}" (${keys.slice(0, 5).join(', ')}): pass the key`,
      );
    }
    key = keys[0] as string;
  }
  return { key, events: keyed.filter((entry) => entry.key === key).map((entry) => entry.event) };
}

/**
 * Folds events into one entity's state by the engine's rule: keeps the projection's event types
 * and the entity's key (inferred when every event has the same one), de-duplicates by id (first
 * occurrence wins), sorts by (source time, id), and folds from `initialState(key)`.
 *
 * @example
 * foldEvents(runsProjection, eventsFor(runCompletedBodies)).status; // 'completed'
 */
export function foldEvents<S>(
  projection: StreamProjection<S>,
  events: readonly AnyEvent[],
  key?: string,
): S {
  const selected = eventsOfKey(projection, events, key);
  let state = deepFreeze(projection.initialState(selected.key));
  for (const event of sortDistinct(selected.events)) {
    state = deepFreeze(projection.evolve(state, deepFreeze(event)));
  }
  return state;
}

/**
 * Folds the events the way the engine meets them live: in arrival order, skipping ids already
 * seen, evolving the current state when an event comes after the last one folded, and refolding
 * the entity's events from the start when it comes earlier (a late event), unless the projection
 * is `commutative` (then every event folds on top). Equal to `foldEvents` for any pure reducer
 * (and, for a commutative one, one whose order truly does not matter); a reducer that keeps
 * hidden state or mutates its input shows here.
 */
export function foldInArrivalOrder<S>(
  projection: StreamProjection<S>,
  events: readonly AnyEvent[],
  key?: string,
): S {
  const selected = eventsOfKey(projection, events, key);
  const seen: AnyEvent[] = [];
  const ids = new Set<string>();
  let state = deepFreeze(projection.initialState(selected.key));
  let last: AnyEvent | undefined;
  for (const event of selected.events) {
    if (ids.has(event.id)) continue;
    ids.add(event.id);
    seen.push(event);
    // A commutative projection's late event is folded on top, as the engine does.
    const inOrder =
      projection.commutative === true ||
      last === undefined ||
      event.sourceTime > last.sourceTime ||
      (event.sourceTime === last.sourceTime && event.id > last.id);
    if (inOrder) {
      state = deepFreeze(projection.evolve(state, deepFreeze(event)));
      last = event;
    } else {
      state = foldEvents(projection, seen, selected.key);
    }
  }
  return state;
}

/**
 * Folds events into the state of every entity they touch, by the engine's rule.
 *
 * @example
 * foldAll(runsProjection, eventsFor(bodies)).get('run-1')?.status; // 'completed'
 */
export function foldAll<S>(
  projection: StreamProjection<S>,
  events: readonly AnyEvent[],
): Map<string, S> {
  const types = new Set<string>(projection.eventTypes);
  const byKey = new Map<string, AnyEvent[]>();
  for (const event of events) {
    if (!types.has(event.type)) continue;
    const key = projection.keyOf(event);
    if (key === null) continue;
    const list = byKey.get(key);
    if (list) list.push(event);
    else byKey.set(key, [event]);
  }
  const states = new Map<string, S>();
  for (const key of [...byKey.keys()].sort()) {
    states.set(key, foldEvents(projection, byKey.get(key) ?? [], key));
  }
  return states;
}

/**
 * Derives every group of a derived projection from its source states (as `foldAll` returns
 * them), passing each group's sources sorted by source key, as the engine does.
 *
 * @example
 * deriveAll(accountSyncProjection, foldAll(runsProjection, events)).get('acc-1')?.failed; // 1
 */
export function deriveAll<S, T>(
  projection: DerivedProjection<string, S, T>,
  sources: ReadonlyMap<string, T>,
): Map<string, S> {
  const groups = new Map<string, T[]>();
  for (const sourceKey of [...sources.keys()].sort()) {
    const source = sources.get(sourceKey) as T;
    const group = projection.groupOf(source);
    if (group === null) continue;
    const list = groups.get(group);
    if (list) list.push(source);
    else groups.set(group, [source]);
  }
  const states = new Map<string, S>();
  for (const group of [...groups.keys()].sort()) {
    states.set(group, deepFreeze(projection.derive(group, deepFreeze(groups.get(group) ?? []))));
  }
  return states;
}

/**
 * Recomputes every group of an aggregate projection from its members' states (as `foldAll`
 * returns them): each group folded from `initialState(group)` by adding its members one by one,
 * in member key order. The engine moves groups incrementally as members change; a correct
 * `apply` gives this same summary.
 *
 * @example
 * aggregateAll(recordsProjection, foldAll(recordStatesProjection, events)).get('acc-1/contacts')?.live; // 2
 */
export function aggregateAll<S, T>(
  projection: AggregateProjection<string, S, T>,
  members: ReadonlyMap<string, T>,
): Map<string, S> {
  const states = new Map<string, S>();
  for (const key of [...members.keys()].sort()) {
    const member = deepFreeze(members.get(key) as T);
    const group = projection.groupOf(member);
    if (group === null) continue;
    const state = states.has(group) ? (states.get(group) as S) : projection.initialState(group);
    states.set(group, deepFreeze(projection.apply(state, undefined, member)));
  }
  // A group at its initial state has no row in the engine (its members moved nothing).
  const rows = [...states.keys()].filter(
    (group) => JSON.stringify(states.get(group)) !== JSON.stringify(projection.initialState(group)),
  );
  return new Map(rows.sort().map((group) => [group, states.get(group) as S]));
}

/** What `then` accepts: the whole expected state, or a predicate (false or a throw fails). */
export type Expectation<S> = S | ((state: S) => boolean | void);

export interface Outcome<S> {
  /** The folded state. */
  readonly state: S;
  /** Asserts the whole state (JSON equality, after checking the state is plain JSON). */
  then(expected: Expectation<S>): S;
  /** Asserts only the fields given (nested objects partially too; arrays element by element). */
  thenMatches(expected: DeepPartial<S>): S;
}

export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export interface Given<S> {
  /** Folds these events (in any arrival order, duplicates allowed) into the entity's state. */
  when(...events: AnyEvent[]): Outcome<S>;
}

/**
 * Given/when/then for a projection. `key` selects the entity; without it, every event must have
 * the same key.
 *
 * @example
 * givenEvents(accountsProjection, 'acc-1')
 *   .when(eventFor(createdBody), eventFor(authErrorBody))
 *   .then((state) => state.status === 'needs_reauth');
 */
export function givenEvents<S>(projection: StreamProjection<S>, key?: string): Given<S> {
  return { when: (...events) => outcome(foldEvents(projection, events, key)) };
}

/**
 * Given/when/then for a derived projection: `when` takes the source states of one group.
 *
 * @example
 * givenSources(accountSyncProjection, 'acc-1').when(runA, runB).thenMatches({ runs: 2 });
 */
export function givenSources<S, T>(
  projection: DerivedProjection<string, S, T>,
  key: string,
): { when(...sources: T[]): Outcome<S> } {
  return { when: (...sources) => outcome(deepFreeze(projection.derive(key, deepFreeze(sources)))) };
}

function outcome<S>(state: S): Outcome<S> {
  return {
    state,
    then(expected) {
      assertJsonState(state);
      if (typeof expected === 'function') {
        const verdict = (expected as (state: S) => boolean | void)(state);
        if (verdict === false) {
          throw new ProjectionAssertionError(
            `state does not satisfy the predicate:\n${JSON.stringify(state, null, 2)}`,
            [],
            undefined,
            state,
          );
        }
        return state;
      }
      assertJsonEqual(state, expected);
      return state;
    },
    thenMatches(expected) {
      assertJsonState(state);
      const lines = diffJson(expected, state, '$', true);
      if (lines.length > 0) throw mismatch('state does not match', lines, expected, state);
      return state;
    },
  };
}

/** A failed projection assertion: `diff` lists each differing path; `expected`/`actual` for runners. */
export class ProjectionAssertionError extends Error {
  override readonly name = 'ProjectionAssertionError';
  constructor(
    message: string,
    readonly diff: readonly string[],
    readonly expected: unknown,
    readonly actual: unknown,
  ) {
    super(message);
  }
}

const MAX_DIFF_LINES = 30;

function mismatch(
  title: string,
  lines: string[],
  expected: unknown,
  actual: unknown,
): ProjectionAssertionError {
  const shown = lines.slice(0, MAX_DIFF_LINES);
  if (lines.length > shown.length) shown.push(`… and ${lines.length - shown.length} more`);
  return new ProjectionAssertionError(
    `${title}:\n  ${shown.join('\n  ')}`,
    lines,
    expected,
    actual,
  );
}

/** Throws unless `actual` equals `expected` as JSON values (key order ignored). */
export function assertJsonEqual(actual: unknown, expected: unknown): void {
  const lines = diffJson(expected, actual, '$', false);
  if (lines.length > 0)
    throw mismatch('state differs from the expected state', lines, expected, actual);
}

/**
 * Throws unless `state` survives a JSON round trip unchanged, as the stores require: no
 * `undefined` values, no Maps, Sets, Dates, class instances, functions or non-finite numbers.
 */
export function assertJsonState(state: unknown): void {
  const problems = nonJson(state, '$');
  if (problems.length > 0) throw mismatch('state is not plain JSON', problems, undefined, state);
}

function nonJson(value: unknown, path: string): string[] {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return [];
  if (typeof value === 'number')
    return Number.isFinite(value) ? [] : [`${path}: ${value} is not a JSON number`];
  if (typeof value !== 'object') return [`${path}: ${typeof value} is not JSON`];
  if (Array.isArray(value)) return value.flatMap((item, i) => nonJson(item, `${path}[${i}]`));
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    return [`${path}: ${(value as object).constructor?.name ?? 'object'} is not a plain object`];
  }
  return Object.entries(value).flatMap(([k, v]) => nonJson(v, `${path}.${k}`));
}

/**
 * The differences between two JSON values, one line per path. With `partial`, keys absent from
 * `expected` are not compared.
 *
 * @example
 * diffJson({ status: 'active' }, { status: 'connecting' }); // ['$.status: expected "active", received "connecting"']
 */
export function diffJson(
  expected: unknown,
  actual: unknown,
  path = '$',
  partial = false,
): string[] {
  if (Object.is(expected, actual)) return [];
  const bothObjects =
    typeof expected === 'object' &&
    expected !== null &&
    typeof actual === 'object' &&
    actual !== null;
  if (!bothObjects) return [`${path}: expected ${show(expected)}, received ${show(actual)}`];
  if (Array.isArray(expected) !== Array.isArray(actual)) {
    return [`${path}: expected ${show(expected)}, received ${show(actual)}`];
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const lines: string[] = [];
    if (expected.length !== actual.length) {
      lines.push(`${path}: expected ${expected.length} items, received ${actual.length}`);
    }
    const common = Math.min(expected.length, actual.length);
    for (let i = 0; i < common; i++)
      lines.push(...diffJson(expected[i], actual[i], `${path}[${i}]`, partial));
    for (let i = common; i < expected.length; i++)
      lines.push(`${path}[${i}]: missing ${show(expected[i])}`);
    for (let i = common; i < actual.length; i++)
      lines.push(`${path}[${i}]: unexpected ${show(actual[i])}`);
    return lines;
  }
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  const lines: string[] = [];
  for (const key of Object.keys(e)) {
    if (e[key] === undefined && partial) continue;
    if (!Object.prototype.hasOwnProperty.call(a, key) || a[key] === undefined) {
      if (e[key] !== undefined) lines.push(`${path}.${key}: expected ${show(e[key])}, missing`);
      continue;
    }
    lines.push(...diffJson(e[key], a[key], `${path}.${key}`, partial));
  }
  if (!partial) {
    for (const key of Object.keys(a)) {
      if (
        a[key] !== undefined &&
        (!Object.prototype.hasOwnProperty.call(e, key) || e[key] === undefined)
      ) {
        lines.push(`${path}.${key}: unexpected ${show(a[key])}`);
      }
    }
  }
  return lines;
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Freezes a value and everything reachable from it; already-frozen parts are skipped. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  // Typed arrays cannot be frozen (and are not JSON: assertJsonState reports them).
  if (ArrayBuffer.isView(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}
