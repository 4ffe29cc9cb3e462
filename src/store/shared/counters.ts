/**
 * The persistent counters behind `stats()` (a `counters` table of name → value, updated in each
 * append's transaction): `events`, `duplicates`, `conflicts`, `rejects`, `type:<event type>`,
 * `skipped:<reason>`. Reading them costs the number of counters, never the size of the log or of
 * the tables kept aside.
 */
import type { EventStoreStats } from '../port.js';

/** Every counter's name, in one place: the adapters write these, `statsFromCounters` reads them. */
export const COUNTER = {
  events: 'events',
  duplicates: 'duplicates',
  conflicts: 'conflicts',
  rejects: 'rejects',
  ofType: (type: string) => `type:${type}`,
  skipped: (reason: string) => `skipped:${reason}`,
} as const;

const TYPE_PREFIX = COUNTER.ofType('');
const SKIPPED_PREFIX = COUNTER.skipped('');

/** Builds the stats from the counter rows and the figures each adapter reads itself. */
export function statsFromCounters(
  counters: readonly { readonly name: string; readonly value: number }[],
  kept: { readonly headPosition: number },
): EventStoreStats {
  const byType: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  let events = 0;
  let duplicates = 0;
  let conflicts = 0;
  let rejects = 0;
  for (const { name, value } of counters) {
    if (name === COUNTER.events) events = value;
    else if (name === COUNTER.duplicates) duplicates = value;
    else if (name === COUNTER.conflicts) conflicts = value;
    else if (name === COUNTER.rejects) rejects = value;
    else if (name.startsWith(TYPE_PREFIX)) byType[name.slice(TYPE_PREFIX.length)] = value;
    else if (name.startsWith(SKIPPED_PREFIX)) skipped[name.slice(SKIPPED_PREFIX.length)] = value;
  }
  return { events, byType, duplicates, conflicts, rejects, skipped, ...kept };
}
