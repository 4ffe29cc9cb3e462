/**
 * `runs`: the sync-job-run timeline (shared/docs/projections.md).
 *
 * Key: the run id (`payload.id` for lifecycle events; for `record` / `record_error`,
 * `payload.sync_job_run_id`, else `payload.meta.sync_job_run_id`, else `payload.sync_job_run.id`,
 * resolved at parse time into `RunFacts.runId`). Record events without a run id never reach here.
 *
 * Fields: `id`, `syncJobId`, `integratedAccountId`, `status`, `deleted`, `createdAt`, `startedAt`,
 * `finishedAt`, `durationMs`, `recordsReceived`, `recordBatches`, `recordsByResource`, `errors`,
 * `rateLimited`, `timeline` (`[{ at, event, status }]`), `firstEventAt`, `lastEventAt`,
 * `eventCount`. Times are ISO-8601 UTC strings with milliseconds; absent values are `null`.
 *
 * Choices where the specification is silent:
 * - Before its first status-setting event a run shows `created` (a run first seen through its
 *   `record` events stays `created` until a lifecycle event says otherwise: records do not move
 *   the status).
 * - Payload times win over source times: `createdAt`, `startedAt` and `finishedAt` take the latest
 *   payload value seen (in source order); the source-time fallbacks apply only while no payload
 *   has given one. `finishedAt`'s fallback is the first event that made the run terminal.
 * - `durationMs` = `finishedAt` − (`startedAt`, else `createdAt`); `null` until finished. It is
 *   not clamped: a negative value shows clocks that disagree.
 * - `rateLimited` counts entries into `rate_limited` (from another status), whether through a
 *   `rate_limited` event or an `updated` with that status; a repeated notice is not a new entry.
 * - `recordsByResource` counts records (not batches) of `record` events; a batch without a
 *   resource is counted under `(unknown)`. Keys are the resource names as sent.
 * - `event` in the timeline is the action name (`record`, `completed`), `status` the status after
 *   the event.
 * - `syncJobId` / `integratedAccountId`: the latest payload (in source order) that has them.
 */
import { RUN_STATUSES, SYNC_JOB_RUN_EVENTS } from '../catalogue.js';
import { defineTrutoProjection, type SyncJobRunEvent } from '../events.js';
import { runStream } from '../streams.js';
import { toIsoTime } from '../time.js';
import { actionOf, isOneOf, millisBetween } from './shared.js';

export { RUN_STATUSES };
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses a run does not leave for a non-terminal one. */
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'stopped'];
/** Statuses counted as `running` by `account-sync`. */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'rate_limited'];

/** The resource name under which batches without a resource are counted. */
export const UNKNOWN_RESOURCE = '(unknown)';

export interface RunTimelineEntry {
  readonly at: string;
  /** The action, e.g. `started`, `record`. */
  readonly event: string;
  /** The run's status after this event. */
  readonly status: RunStatus;
}

export interface RunState {
  readonly id: string;
  readonly syncJobId: string | null;
  readonly integratedAccountId: string | null;
  readonly status: RunStatus;
  readonly deleted: boolean;
  readonly createdAt: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly recordsReceived: number;
  readonly recordBatches: number;
  readonly recordsByResource: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly rateLimited: number;
  readonly timeline: readonly RunTimelineEntry[];
  readonly firstEventAt: string | null;
  readonly lastEventAt: string | null;
  readonly eventCount: number;
}

export function isTerminalRunStatus(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.includes(status);
}

/** The state before a run's first event. */
export function initialRunState(id: string): RunState {
  return {
    id,
    syncJobId: null,
    integratedAccountId: null,
    status: 'created',
    deleted: false,
    createdAt: null,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    recordsReceived: 0,
    recordBatches: 0,
    recordsByResource: {},
    errors: 0,
    rateLimited: 0,
    timeline: [],
    firstEventAt: null,
    lastEventAt: null,
    eventCount: 0,
  };
}

/** The status an event asks for, or `null` for "unchanged" (before the terminal rule). */
export function requestedRunStatus(
  current: RunStatus,
  action: string,
  payloadStatus: string | undefined,
): RunStatus | null {
  switch (action) {
    case 'created':
      return 'created';
    case 'started':
      return 'running';
    case 'rate_limited':
      return 'rate_limited';
    case 'updated':
      return isOneOf(RUN_STATUSES, payloadStatus) ? payloadStatus : null;
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    case 'deleted':
      return current === 'completed' || current === 'failed' ? null : 'stopped';
    default:
      // record, record_error, and anything Truto adds later.
      return null;
  }
}

/** Applies the terminal rule: a terminal status yields only to another terminal status. */
export function nextRunStatus(current: RunStatus, requested: RunStatus | null): RunStatus {
  if (requested === null) return current;
  if (isTerminalRunStatus(current) && !isTerminalRunStatus(requested)) return current;
  return requested;
}

/** Folds one sync-job-run event into the run's state. */
export function evolveRun(state: RunState, event: SyncJobRunEvent): RunState {
  const facts = event.facts;
  if (facts?.kind !== 'run') return state;
  const at = toIsoTime(event.sourceTime);
  const action = actionOf(event.type);
  const status = nextRunStatus(
    state.status,
    requestedRunStatus(state.status, action, facts.status),
  );
  const becameTerminal = isTerminalRunStatus(status) && !isTerminalRunStatus(state.status);

  const createdAt = facts.createdAt ?? state.createdAt ?? at;
  const startedAt = facts.startedAt ?? state.startedAt ?? (action === 'started' ? at : null);
  const finishedAt = facts.finishedAt ?? state.finishedAt ?? (becameTerminal ? at : null);

  let { recordsReceived, recordBatches, recordsByResource, errors } = state;
  if (action === 'record') {
    const count = facts.records ?? 0;
    const resource = facts.resource ?? UNKNOWN_RESOURCE;
    recordsReceived += count;
    recordBatches += 1;
    // A computed key defines an own property even for `__proto__`: no prototype is touched.
    recordsByResource = {
      ...recordsByResource,
      [resource]: ownCount(recordsByResource, resource) + count,
    };
  } else if (action === 'record_error') {
    errors += facts.errors ?? 1;
  }
  const timeline = state.timeline.slice();
  timeline.push({ at, event: action, status });

  // Every field written out, in the order of initialRunState: one object shape for every state
  // (a spread of the old state and overrides made a new one per call, and folds run per event).
  return {
    id: state.id,
    syncJobId: facts.syncJobId ?? state.syncJobId,
    integratedAccountId: facts.integratedAccountId ?? state.integratedAccountId,
    status,
    deleted: state.deleted || action === 'deleted',
    createdAt,
    startedAt,
    finishedAt,
    durationMs:
      finishedAt === null
        ? null
        : // The same three times give the same duration: parsed again only when one moved.
          finishedAt === state.finishedAt &&
            startedAt === state.startedAt &&
            createdAt === state.createdAt
          ? state.durationMs
          : millisBetween(startedAt ?? createdAt, finishedAt),
    recordsReceived,
    recordBatches,
    recordsByResource,
    errors,
    rateLimited:
      state.rateLimited + (status === 'rate_limited' && state.status !== 'rate_limited' ? 1 : 0),
    timeline,
    firstEventAt: state.firstEventAt ?? at,
    lastEventAt: at,
    eventCount: state.eventCount + 1,
  };
}

function ownCount(counts: Readonly<Record<string, number>>, key: string): number {
  return Object.prototype.hasOwnProperty.call(counts, key) ? (counts[key] ?? 0) : 0;
}

/**
 * The `runs` projection.
 *
 * @example
 * const run = foldEvents(runsProjection, [eventFor(createdBody), eventFor(completedBody)]);
 * run.status; // 'completed'
 */
export const runsProjection = defineTrutoProjection({
  name: 'runs',
  version: 1,
  eventTypes: SYNC_JOB_RUN_EVENTS,
  reads: 'facts',
  keyOf: (event) => (event.facts?.kind === 'run' ? event.facts.runId : null),
  initialState: initialRunState,
  // Record events are filed under their run's stream at parse time, so one stream holds a run.
  streamOf: runStream,
  evolve: evolveRun,
});
