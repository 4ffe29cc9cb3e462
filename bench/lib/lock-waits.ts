/**
 * Where PostgreSQL backends wait during a load: samples `pg_stat_activity` of one database at a
 * fixed interval and counts, per sample, the backends running a statement, those waiting on a
 * heavyweight lock (row, transaction, advisory: what serialises writers), and those waiting on
 * WAL (the commit's flush, shared by group commit in PostgreSQL itself). Averages over the
 * samples say how many backends were, on average, in each state: a lock figure near the number of
 * writers means they queue on each other; near 0 means they commit in parallel.
 */
import pg from 'pg';

export interface WaitSummary {
  readonly samples: number;
  /** Mean backends of the database running a statement (state = 'active'). */
  readonly active: number;
  /** Mean backends waiting on a heavyweight lock (wait_event_type = 'Lock'). */
  readonly lockWaits: number;
  /** Lock waits by wait_event (transactionid, tuple, advisory, relation…), as a mean. */
  readonly byLock: Readonly<Record<string, number>>;
  /**
   * Lock waits by what the waiting statement was doing: `append` (events, counters, conflicts:
   * the webhook path), `projection` (states, checkpoints, the change journal), `lease`, `other`.
   */
  readonly byStatement: Readonly<Record<string, number>>;
  /** Mean backends waiting on WAL (WALWrite, WalSync, WALInsert: the commit flush). */
  readonly walWaits: number;
}

/** Starts sampling `database` through `adminUrl` every `intervalMs`; `stop()` summarises. */
export async function startWaitSampler(
  adminUrl: string,
  database: string,
  intervalMs = 20,
): Promise<{ stop(): Promise<WaitSummary> }> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  let samples = 0;
  let active = 0;
  let lockWaits = 0;
  let walWaits = 0;
  const byLock: Record<string, number> = {};
  const byStatement: Record<string, number> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{
        state: string | null;
        wait_event_type: string | null;
        wait_event: string | null;
        query: string;
      }>(
        `SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        [database],
      );
      samples += 1;
      for (const row of rows) {
        if (row.state === 'active') active += 1;
        if (row.wait_event_type === 'Lock') {
          lockWaits += 1;
          const name = row.wait_event ?? '?';
          byLock[name] = (byLock[name] ?? 0) + 1;
          const kind = statementKind(row.query);
          byStatement[kind] = (byStatement[kind] ?? 0) + 1;
        } else if (/^(WALWrite|WalSync|WALInsert|WALSync)$/.test(row.wait_event ?? '')) {
          walWaits += 1;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await client.end().catch(() => undefined);
      const mean = (n: number): number => (samples === 0 ? 0 : n / samples);
      return {
        samples,
        active: mean(active),
        lockWaits: mean(lockWaits),
        byLock: Object.fromEntries(Object.entries(byLock).map(([k, v]) => [k, mean(v)])),
        byStatement: Object.fromEntries(Object.entries(byStatement).map(([k, v]) => [k, mean(v)])),
        walWaits: mean(walWaits),
      };
    },
  };
}

/** What a statement of the serve process is doing, from its text (see WaitSummary.byStatement). */
function statementKind(query: string): string {
  if (/\.(events|counters|conflicts)\b/.test(query) && !/changes_head/.test(query)) return 'append';
  if (
    /\.(states|checkpoints|changes|dead_letters)\b|changes_head|pg_advisory_xact_lock/.test(query)
  )
    return 'projection';
  if (/\.lease/.test(query)) return 'lease';
  return 'other';
}

/** "lock waits 0.02 (transactionid 0.02), WAL 0.31, active 1.4 backends (mean of 412 samples)". */
export function describeWaits(w: WaitSummary): string {
  const locks = Object.entries(w.byLock)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  const by = Object.entries(w.byStatement)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `backends waiting on locks ${w.lockWaits.toFixed(2)}${locks ? ` (${locks}; by statement: ${by})` : ''}, on WAL ${w.walWaits.toFixed(2)}, active ${w.active.toFixed(2)} (mean of ${w.samples} samples)`;
}
