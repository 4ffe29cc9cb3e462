/**
 * Projection definitions: data plus pure functions. A projection folds the events of one entity
 * stream into that entity's state; the engine guarantees the fold is over the entity's distinct
 * events sorted by (source time, event id), whatever order they arrived in.
 *
 * All events of one entity must be in one stream (`event.stream`): a late event is folded into
 * its place by re-reading that stream.
 */
/** What a reducer sees of a stored event. */
export interface ProjectionEvent<D = unknown> {
  readonly position: number;
  readonly id: string;
  readonly type: string;
  /** Source time, epoch milliseconds. */
  readonly sourceTime: number;
  readonly stream: string;
  readonly data: D;
}

export interface Projection<S = unknown, D = unknown> {
  readonly kind: 'stream';
  readonly name: string;
  /** Bump to rebuild this projection from history on the next start. */
  readonly version: number;
  /** The event types folded; others are never shown to `evolve`. */
  readonly eventTypes: readonly string[];
  /** The entity an event belongs to, or `null` to skip it. */
  keyOf(event: ProjectionEvent<D>): string | null;
  /** The state before an entity's first event. */
  initialState(key: string): S;
  /** Pure: no I/O, no clock, no randomness. May throw: the event becomes a dead letter. */
  evolve(state: S, event: ProjectionEvent<D>): S;
  /** The stream holding an entity's events; enables time travel (`stateAt`). */
  streamOf?(key: string): string;
}

/**
 * A projection computed from another projection's states: `derive(key, sources)` over every
 * source state whose `groupOf` is `key`. It is order-insensitive by construction and never
 * persisted: it is derived when read (the source rows carry their group in an indexed column),
 * and its changes are published when its sources change.
 */
export interface DerivedProjection<S = unknown, T = unknown> {
  readonly kind: 'derived';
  readonly name: string;
  readonly version: number;
  /** The source projection's name. */
  readonly from: string;
  /** The derived entity a source state belongs to, or `null`. */
  groupOf(source: T): string | null;
  /** Pure: the derived state of `key` from its source states (sorted by source key). */
  derive(key: string, sources: readonly T[]): S;
}

export type AnyProjection = Projection<any, any> | DerivedProjection<any, any>;

/**
 * Lifts a plain reducer definition into a projection.
 *
 * @example
 * const counts = defineProjection({
 *   name: 'counts', version: 1, eventTypes: ['record:created'],
 *   keyOf: (e) => e.stream, initialState: () => 0, evolve: (n) => n + 1,
 * });
 */
export function defineProjection<S, D = unknown>(
  definition: Omit<Projection<S, D>, 'kind'>,
): Projection<S, D> {
  return { kind: 'stream', ...definition };
}

/** Lifts a derivation into a derived projection. */
export function defineDerivedProjection<S, T>(
  definition: Omit<DerivedProjection<S, T>, 'kind'>,
): DerivedProjection<S, T> {
  return { kind: 'derived', ...definition };
}
