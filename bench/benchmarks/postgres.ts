/**
 * Issue 6: import, rebuild and HTTP ingest on PostgreSQL with one and with three instances,
 * beside the SQLite figures of the same run, and the cost of a lease handover in seconds.
 *
 * Not wired yet: it needs the PostgreSQL adapter (src/store/postgres/) AND multi-instance
 * support (partition leases taken by the engine / `serve`, so three processes share the work).
 * Until both exist, this benchmark runs nothing and says why, in the table and the JSON.
 */
import type { Benchmark, Row } from '../lib/types.js';

const BENCH = 'postgres';

/** What exists of the prerequisites, probed at run time (the code lands in parallel). */
async function probe(): Promise<{ adapter: boolean; multiInstance: boolean }> {
  let adapter: boolean;
  try {
    const module = (await import('../../src/store/postgres/index.js')) as Record<string, unknown>;
    adapter = typeof module.createPostgresEventStore === 'function';
  } catch {
    adapter = false;
  }
  // Multi-instance work sharing has no public switch yet (no partitioned runner option on
  // EngineOptions, no lease-aware `serve`): treated as absent until it does.
  return { adapter, multiInstance: false };
}

export const postgresBenchmark: Benchmark = {
  name: BENCH,
  description:
    'import, rebuild and HTTP ingest on PostgreSQL, 1 and 3 instances, lease handover (issue 6)',
  defaultSizes: [100_000],
  async run() {
    const { adapter, multiInstance } = await probe();
    const missing = [
      ...(adapter ? [] : ['the PostgreSQL adapter (createPostgresEventStore)']),
      ...(multiInstance
        ? []
        : ['multi-instance support (partition leases in the engine and serve)']),
    ];
    const reason = `not wired: needs ${missing.join(' and ')}${adapter ? '; the adapter exists' : ''}`;
    const cases = [
      'import (1 instance)',
      'rebuild (1 instance)',
      'http ingest (1 instance)',
      'http ingest (3 instances)',
      'lease handover (s)',
    ];
    return cases.map((name): Row => ({
      bench: BENCH,
      case: name,
      status: 'not run',
      note: reason,
    }));
  },
};
