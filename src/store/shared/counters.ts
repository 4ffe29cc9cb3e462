/**
 * The persistent counters behind `stats()` (a `counters` table of name → value, updated in each
 * append's transaction): `events`, `duplicates`, `conflicts`, `rejects`, `type:<event type>`,
 * `skipped:<reason>`. Reading them costs the number of counters, never the size of the log or of
 * the tables kept aside.
 */
import type { EventStoreStats } from '../port.js';

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
    if (name === 'events') events = value;
    else if (name === 'duplicates') duplicates = value;
    else if (name === 'conflicts') conflicts = value;
    else if (name === 'rejects') rejects = value;
    else if (name.startsWith('type:')) byType[name.slice(5)] = value;
    else if (name.startsWith('skipped:')) skipped[name.slice(8)] = value;
  }
  return { events, byType, duplicates, conflicts, rejects, skipped, ...kept };
}
