/**
 * Projection definitions: data plus pure functions. A stream projection folds the events of one
 * entity into that entity's state; the engine guarantees the fold is over the entity's distinct
 * events sorted by (source time, event id), whatever order they arrived in.
 *
 * Types carry through: a projection's name is a literal type and its state a type of its own, so
 * an engine built from a list of projections knows `get('accounts', id)` returns `AccountState`
 * and refuses `get('acounts', id)` at compile time. Events are typed per event type: a
 * projection over `['record:created']` sees `event.payload` as that event's payload.
 *
 * All events of one entity must be in one stream (`event.stream`, or `streamOf(key)` when the
 * projection names it): a late event is folded into its place by re-reading that stream.
 */

/** Envelope fields beyond id, type and source time, as the event codec decoded them. */
export type EventEnvelope = Readonly<Record<string, unknown>>;

/**
 * What a reducer sees of a stored event: the envelope, the payload (decoded from the stored body
 * on first access), and the facts the codec extracted at ingest.
 */
export interface ProjectionEvent<
  Type extends string = string,
  Payload = unknown,
  Facts = unknown,
  Envelope extends EventEnvelope = EventEnvelope,
> {
  /** Log position (arrival order). */
  readonly position: number;
  /** The event id (the de-duplication key). */
  readonly id: string;
  readonly type: Type;
  /** Source time, epoch milliseconds. */
  readonly sourceTime: number;
  /** The entity stream the codec assigned. */
  readonly stream: string;
  readonly envelope: Envelope;
  /**
   * The event's payload, decoded from the stored body. Projections declared `reads: 'facts'`
   * are folded without bodies: reading `payload` there throws.
   */
  readonly payload: Payload;
  /** What the codec extracted at ingest (current facts version), or `null`. */
  readonly facts: Facts;
}

/** Any event type: the widest event a projection can be defined over. */
export type AnyEvent = ProjectionEvent<string, any, any, any>;

/**
 * The member of an event union with a given type. Over an open union (`type: string`, the core's
 * default) it is that event with its type narrowed.
 */
export type EventOfType<E extends AnyEvent, T extends string> = E extends AnyEvent
  ? string extends E['type']
    ? ProjectionEvent<T, E['payload'], E['facts'], E['envelope']>
    : E['type'] extends T
      ? E
      : never
  : never;

export interface Projection<
  Name extends string = string,
  State = unknown,
  Event extends AnyEvent = AnyEvent,
> {
  readonly kind: 'stream';
  readonly name: Name;
  /** Bump to rebuild this projection from history on the next start. */
  readonly version: number;
  /** The event types folded; others are never shown to `evolve`. */
  readonly eventTypes: readonly Event['type'][];
  /**
   * `payload` (default): reducers read `event.payload`, so the engine loads each event's body.
   * `facts`: reducers read only `event.facts` and the envelope columns; folds skip the bodies.
   */
  readonly reads: 'payload' | 'facts';
  /** The entity an event belongs to, or `null` to skip it. */
  keyOf(event: Event): string | null;
  /** The state before an entity's first event. */
  initialState(key: string): State;
  /** Pure: no I/O, no clock, no randomness. May throw: the event becomes a dead letter. */
  evolve(state: State, event: Event): State;
  /** The stream holding an entity's events; enables time travel (`stateAt`). */
  streamOf?(key: string): string;
  /**
   * `true` promises that `evolve` gives the same state whatever order an entity's distinct events
   * are folded in (counts, a max by source order, a min). The engine then folds a late event on
   * top instead of refolding the entity from its stream: a late event costs one `evolve`, not a
   * re-read of the stream (which, for an entity in a large shared stream, grows with the stream).
   */
  readonly commutative?: boolean;
  /**
   * `false`: the projection's changes are neither journalled nor published (`changesOf` and
   * `watch` refuse it); it is read with `get`, `list`, `count` and `stateAt`, and aggregates over
   * it are moved as usual. For an index of many small entities that nobody follows one by one
   * (a million records' states), whose journal would cost more than their fold.
   */
  readonly publish?: boolean;
}

/** What derived and aggregate projections share: a name, a version, and how they group a source. */
export interface GroupingProjection<Kind extends string, Name extends string, Member> {
  readonly kind: Kind;
  readonly name: Name;
  /** Bump to rebuild this projection (with its source) on the next start. */
  readonly version: number;
  /** The source projection's name. */
  readonly from: string;
  /** The group (derived entity) a source state belongs to, or `null` for none. */
  groupOf(member: Member): string | null;
}

/**
 * A projection computed from another projection's states: `derive(key, sources)` over every
 * source state whose `groupOf` is `key`. It is order-insensitive by construction and never
 * persisted: it is derived when read (the source rows carry their group in an indexed column),
 * and its changes are published when its sources change.
 */
export interface DerivedProjection<
  Name extends string = string,
  State = unknown,
  Source = unknown,
> extends GroupingProjection<'derived', Name, Source> {
  /** Pure: the derived state of `key` from its source states (sorted by source key). */
  derive(key: string, sources: readonly Source[]): State;
}

/**
 * A persisted summary of another stream projection's entities, maintained incrementally: each
 * time a member entity of `from` changes, `apply(state, before, after)` moves its group's state
 * by that change (`before` is `undefined` for a new member). It is committed in the same
 * transaction as the members, rebuilt with them, journalled like any projection, and read with
 * `get`, `list` and `count`. The cost of a member's change is one `apply`, whatever the size of
 * the group: for summaries of groups too large to derive when read (a million records of one
 * resource).
 *
 * `apply` must be exact for any sequence of member changes, so the state always equals the
 * members' summary however the changes were batched: move counts by `after - before`; keep a max
 * or min only of member fields that move one way.
 *
 * A group whose state is back at `initialState(group)` (its last member left) has no row: `get`
 * answers `undefined`, `list` skips it, and its change has `after: null`.
 *
 * Not time-travelable (`stateAt` answers `not_supported`): its state at a past point would be the
 * summary of every member at that point. Under scale-out partitions, a group's members must live
 * in streams of one partition (so one instance updates the group's row).
 */
export interface AggregateProjection<
  Name extends string = string,
  State = unknown,
  Member = unknown,
> extends GroupingProjection<'aggregate', Name, Member> {
  /** The state of a group before its first member. */
  initialState(group: string): State;
  /** Pure: the group's state after one member went from `before` to `after`. */
  apply(state: State, before: Member | undefined, after: Member | undefined): State;
}

export type AnyStreamProjection = Projection<string, any, any>;
export type AnyDerivedProjection = DerivedProjection<string, any, any>;
export type AnyAggregateProjection = AggregateProjection<string, any, any>;
export type AnyProjection = AnyStreamProjection | AnyDerivedProjection | AnyAggregateProjection;

/** The names of a list of projections, as a union of literals. */
export type ProjectionName<P extends readonly AnyProjection[]> = P[number]['name'];

/** The state type of projection `N` in the list `P` (`unknown` for an untyped list). */
export type StateOf<
  P extends readonly AnyProjection[],
  N extends string,
> = string extends P[number]['name']
  ? unknown
  : Extract<P[number], { readonly name: N }> extends infer X
    ? X extends Projection<string, infer S, any>
      ? S
      : X extends DerivedProjection<string, infer S, any>
        ? S
        : X extends AggregateProjection<string, infer S, any>
          ? S
          : never
    : never;

/** The event a projection folds (for helpers that build events for it). */
export type EventOf<P> = P extends Projection<string, any, infer E> ? E : never;

/** A stream projection as written by its author; `defineProjection` fills in the rest. */
export interface ProjectionDefinition<Name extends string, State, Type extends string, Event> {
  readonly name: Name;
  readonly version: number;
  readonly eventTypes: readonly Type[];
  readonly reads?: 'payload' | 'facts';
  keyOf(event: Event): string | null;
  initialState(key: string): State;
  evolve(state: State, event: Event): State;
  streamOf?(key: string): string;
  readonly commutative?: boolean;
  readonly publish?: boolean;
}

/**
 * A `defineProjection` for one event union: `eventTypes` must be types of that union, and
 * `evolve` sees the member of the union for each type it folds.
 *
 * @example
 * type MyEvent = ProjectionEvent<'order:placed', { total: number }>;
 * const defineOrderProjection = projectionsOver<MyEvent>();
 * const revenue = defineOrderProjection({
 *   name: 'revenue', version: 1, eventTypes: ['order:placed'],
 *   keyOf: () => 'all', initialState: () => 0,
 *   evolve: (sum, event) => sum + event.payload.total,
 * });
 */
export function projectionsOver<E extends AnyEvent>() {
  return function define<const Name extends string, State, const Type extends E['type']>(
    definition: ProjectionDefinition<Name, State, Type, EventOfType<E, Type>>,
  ): Projection<Name, State, EventOfType<E, Type>> {
    return { kind: 'stream', reads: 'payload', ...definition };
  };
}

/**
 * Lifts a plain reducer definition into a projection over any event type (payload `unknown`).
 * Domains offer typed versions (`defineTrutoProjection`); see `projectionsOver`.
 *
 * @example
 * const counts = defineProjection({
 *   name: 'counts', version: 1, eventTypes: ['record:created'],
 *   keyOf: (e) => e.stream, initialState: () => 0, evolve: (n) => n + 1,
 * });
 */
export const defineProjection = projectionsOver<ProjectionEvent>();

/**
 * Lifts a derivation into a derived projection over the states of `from`.
 *
 * @example
 * const perAccount = defineDerivedProjection({
 *   name: 'runs-per-account', version: 1, from: runsProjection,
 *   groupOf: (run) => run.integratedAccountId,
 *   derive: (account, runs) => ({ account, runs: runs.length }),
 * });
 */
export function defineDerivedProjection<const Name extends string, State, Source>(definition: {
  readonly name: Name;
  readonly version: number;
  readonly from: Projection<string, Source, any>;
  groupOf(source: Source): string | null;
  derive(key: string, sources: readonly Source[]): State;
}): DerivedProjection<Name, State, Source> {
  return { ...definition, kind: 'derived', from: definition.from.name };
}

/**
 * Lifts an incremental summary into an aggregate projection over the entities of `from`.
 *
 * @example
 * const perAccount = defineAggregateProjection({
 *   name: 'runs-per-account', version: 1, from: runsProjection,
 *   groupOf: (run) => run.integratedAccountId,
 *   initialState: (account) => ({ account, runs: 0 }),
 *   apply: (state, before, after) =>
 *     before === undefined && after !== undefined ? { ...state, runs: state.runs + 1 } : state,
 * });
 */
export function defineAggregateProjection<const Name extends string, State, Member>(definition: {
  readonly name: Name;
  readonly version: number;
  readonly from: Projection<string, Member, any>;
  groupOf(member: Member): string | null;
  initialState(group: string): State;
  apply(state: State, before: Member | undefined, after: Member | undefined): State;
}): AggregateProjection<Name, State, Member> {
  return { ...definition, kind: 'aggregate', from: definition.from.name };
}
