/**
 * The Truto event catalogue: which event names exist, and which families truto-state projects.
 * Names outside it are still stored (Truto adds types); they are simply not projected.
 */

export const INTEGRATED_ACCOUNT_EVENTS = [
  'integrated_account:created',
  'integrated_account:updated',
  'integrated_account:active',
  'integrated_account:reactivated',
  'integrated_account:authentication_error',
  'integrated_account:post_install_error',
  'integrated_account:validation_error',
  'integrated_account:post_connect_form_submitted',
  'integrated_account:deleted',
  'integrated_account:forbidden_error',
] as const;

export const SYNC_JOB_RUN_EVENTS = [
  'sync_job_run:created',
  'sync_job_run:started',
  'sync_job_run:updated',
  'sync_job_run:rate_limited',
  'sync_job_run:completed',
  'sync_job_run:failed',
  'sync_job_run:deleted',
  'sync_job_run:record',
  'sync_job_run:record_error',
] as const;

export const RECORD_EVENTS = ['record:created', 'record:updated', 'record:deleted'] as const;

/** Known but not projected: stored as facts for later projections. */
export const OTHER_KNOWN_EVENTS = [
  'sync_job_cron_trigger:failed',
  'batch_job:dry_run_completed',
  'batch_job:completed',
  'batch_job:dry_run_failed',
  'batch_job:failed',
  'link_token:connection_error',
  'record:meta',
  'test',
] as const;

/** Families whose every action is known even when not listed one by one. */
const OTHER_KNOWN_PREFIXES = [
  'environment_integration:',
  'environment_unified_model:',
  'api_token:',
];

export type IntegratedAccountEventType = (typeof INTEGRATED_ACCOUNT_EVENTS)[number];
export type SyncJobRunEventType = (typeof SYNC_JOB_RUN_EVENTS)[number];
export type RecordEventType = (typeof RECORD_EVENTS)[number];
export type ProjectedEventType = IntegratedAccountEventType | SyncJobRunEventType | RecordEventType;
export type OtherKnownEventType = (typeof OTHER_KNOWN_EVENTS)[number];
/** Every event name of the catalogue. */
export type TrutoEventType = ProjectedEventType | OtherKnownEventType;

export type EventFamily = 'integrated_account' | 'sync_job_run' | 'record' | 'other';

const PROJECTED = new Map<string, EventFamily>([
  ...INTEGRATED_ACCOUNT_EVENTS.map((t) => [t, 'integrated_account'] as const),
  ...SYNC_JOB_RUN_EVENTS.map((t) => [t, 'sync_job_run'] as const),
  ...RECORD_EVENTS.map((t) => [t, 'record'] as const),
]);
const OTHER_KNOWN = new Set<string>(OTHER_KNOWN_EVENTS);

/** The projected family of an event name, or `'other'`. */
export function familyOf(type: string): EventFamily {
  return PROJECTED.get(type) ?? 'other';
}

/** Whether truto-state knows this event name (projected or not). */
export function isKnownEventType(type: string): boolean {
  return (
    PROJECTED.has(type) ||
    OTHER_KNOWN.has(type) ||
    OTHER_KNOWN_PREFIXES.some((p) => type.startsWith(p))
  );
}

/** Truto's five integrated-account statuses (truto-state adds `reactivated` and `deleted`). */
export const TRUTO_ACCOUNT_STATUSES = [
  'connecting',
  'active',
  'post_install_error',
  'validation_error',
  'needs_reauth',
] as const;

export const RUN_STATUSES = [
  'created',
  'running',
  'rate_limited',
  'completed',
  'failed',
  'stopped',
] as const;
