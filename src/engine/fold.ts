/**
 * The fold rule every projection obeys: an entity's state is the fold of its distinct events
 * (by id) sorted by (source time, event id). Shared by the runner (late events), time travel,
 * and the testing helpers, so there is one definition of the order.
 */
import type { AnyEvent, Projection } from './projection.js';

/** Orders two events by (source time, id); ids compare as strings, by code unit. */
export function compareSourceOrder(
  a: { readonly sourceTime: number; readonly id: string },
  b: { readonly sourceTime: number; readonly id: string },
): number {
  if (a.sourceTime !== b.sourceTime) return a.sourceTime < b.sourceTime ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Distinct events (first occurrence of each id wins) in source order. */
export function sortDistinct<E extends { readonly sourceTime: number; readonly id: string }>(
  events: Iterable<E>,
): E[] {
  const byId = new Map<string, E>();
  for (const event of events) if (!byId.has(event.id)) byId.set(event.id, event);
  return [...byId.values()].sort(compareSourceOrder);
}

/**
 * Folds events into one entity's state by the fold rule.
 *
 * @example
 * foldInOrder(accounts, 'acc-1', events) // state after every distinct event, in source order
 */
export function foldInOrder<S, E extends AnyEvent>(
  projection: Projection<string, S, E>,
  key: string,
  events: Iterable<E>,
): S {
  let state = projection.initialState(key);
  for (const event of sortDistinct(events)) state = projection.evolve(state, event);
  return state;
}
