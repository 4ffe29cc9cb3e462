/**
 * `account-sync`: sync health per integrated account, derived from the `runs` states
 * (shared/docs/projections.md). Order-insensitive by construction: it reads run states, which are
 * themselves folds in source order, and sorts them itself.
 *
 * Key: `integratedAccountId` of runs (runs without one belong to no account).
 *
 * Fields: `integratedAccountId`, `runs`, `completed`, `failed`, `stopped`, `running`, `lastRunId`,
 * `lastRunStatus`, `lastRunStartedAt`, `lastSuccessAt`, `consecutiveFailures`, plus
 * `lastFailureAt`. Absent values are `null`.
 *
 * Choices where the specification is silent:
 * - Runs are ordered by (`createdAt`, run id): the id breaks ties, and a run without `createdAt`
 *   (never the case once it has an event) sorts first.
 * - `lastRunStartedAt` is the `startedAt` of that last run (`null` if it has not started).
 * - `consecutiveFailures` counts `failed` runs after the last `completed` one; `stopped` and
 *   unfinished runs in between neither count nor reset the streak.
 * - `lastSuccessAt` / `lastFailureAt`: the latest `finishedAt` of completed / failed runs, `null`
 *   when none has one.
 */
import { defineDerivedProjection } from '../../engine/projection.js';
import { ACTIVE_RUN_STATUSES, runsProjection, type RunState, type RunStatus } from './runs.js';

export interface AccountSyncState {
  readonly integratedAccountId: string;
  /** Distinct runs. */
  readonly runs: number;
  readonly completed: number;
  readonly failed: number;
  readonly stopped: number;
  /** Runs whose current status is `created`, `running` or `rate_limited`. */
  readonly running: number;
  /** The run with the latest `createdAt`. */
  readonly lastRunId: string | null;
  readonly lastRunStatus: RunStatus | null;
  readonly lastRunStartedAt: string | null;
  /** Latest `finishedAt` among completed runs. */
  readonly lastSuccessAt: string | null;
  /** Latest `finishedAt` among failed runs. */
  readonly lastFailureAt: string | null;
  /** Failed runs since the last completed one, by `createdAt`. */
  readonly consecutiveFailures: number;
}

function byCreation(a: RunState, b: RunState): number {
  const ac = a.createdAt ?? '';
  const bc = b.createdAt ?? '';
  if (ac !== bc) return ac < bc ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** ISO-8601 UTC strings with milliseconds compare in time order as strings. */
function latest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return b > a ? b : a;
}

/** Sync health of one account from its runs' states (any order). */
export function deriveAccountSync(
  integratedAccountId: string,
  runs: readonly RunState[],
): AccountSyncState {
  const ordered = [...runs].sort(byCreation);
  let completed = 0;
  let failed = 0;
  let stopped = 0;
  let running = 0;
  let lastSuccessAt: string | null = null;
  let lastFailureAt: string | null = null;
  let consecutiveFailures = 0;
  for (const run of ordered) {
    if (run.status === 'completed') {
      completed += 1;
      lastSuccessAt = latest(lastSuccessAt, run.finishedAt);
      consecutiveFailures = 0;
    } else if (run.status === 'failed') {
      failed += 1;
      lastFailureAt = latest(lastFailureAt, run.finishedAt);
      consecutiveFailures += 1;
    } else if (run.status === 'stopped') {
      stopped += 1;
    } else if (ACTIVE_RUN_STATUSES.includes(run.status)) {
      running += 1;
    }
  }
  const last = ordered.at(-1);
  return {
    integratedAccountId,
    runs: ordered.length,
    completed,
    failed,
    stopped,
    running,
    lastRunId: last?.id ?? null,
    lastRunStatus: last?.status ?? null,
    lastRunStartedAt: last?.startedAt ?? null,
    lastSuccessAt,
    lastFailureAt,
    consecutiveFailures,
  };
}

/**
 * The `account-sync` projection, derived from `runs`.
 *
 * @example
 * deriveAll(accountSyncProjection, foldAll(runsProjection, events)); // { 'acc-1': { runs: 3, … } }
 */
export const accountSyncProjection = defineDerivedProjection({
  name: 'account-sync',
  version: 1,
  from: runsProjection,
  groupOf: (run) => run.integratedAccountId ?? null,
  derive: (key, runs): AccountSyncState => deriveAccountSync(key, runs),
});
