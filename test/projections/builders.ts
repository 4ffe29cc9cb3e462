/**
 * Terse webhook-body builders for table tests: each returns a realistic envelope (through
 * `eventFor`, so it goes through `parseWebhook` and is a real view of a stored event, typed as
 * the member of `TrutoEvent` its family gives). Times are minutes after a fixed origin, so
 * tests read `at(3)` instead of timestamps.
 */
import type {
  IntegratedAccountEvent,
  RecordEvent,
  SyncJobRunEvent,
} from '../../src/truto/events.js';
import { eventFor } from '../../src/testing/index.js';

const ORIGIN = Date.UTC(2024, 8, 10, 12, 0, 0);

/** The ISO time `minutes` after the origin, as state shows it. */
export function at(minutes: number): string {
  return new Date(ORIGIN + minutes * 60_000).toISOString();
}

let counter = 0;
/** A fresh envelope id; sortable ids are given explicitly where ties matter. */
function nextId(): string {
  counter += 1;
  return `evt-${String(counter).padStart(6, '0')}`;
}

export interface BodyOptions {
  readonly minute?: number;
  readonly id?: string;
}

export function envelope(type: string, payload: object, options: BodyOptions = {}): object {
  return {
    id: options.id ?? nextId(),
    event: type,
    payload,
    environment_id: 'env-1',
    created_at: at(options.minute ?? 0),
    webhook_id: 'wh-1',
  };
}

export const ACCOUNT = 'acc-1';

/** An `integrated_account:<action>` event for `acc-1`. */
export function accountEvent(
  action: string,
  payload: Record<string, unknown> = {},
  options: BodyOptions = {},
): IntegratedAccountEvent {
  return eventFor(
    envelope(`integrated_account:${action}`, { id: ACCOUNT, ...payload }, options),
  ) as IntegratedAccountEvent;
}

export const RUN = 'run-1';

/** A lifecycle `sync_job_run:<action>` event for `run-1`. */
export function runEvent(
  action: string,
  payload: Record<string, unknown> = {},
  options: BodyOptions = {},
): SyncJobRunEvent {
  return eventFor(
    envelope(`sync_job_run:${action}`, { id: RUN, ...payload }, options),
  ) as SyncJobRunEvent;
}

/** A `sync_job_run:record` batch of `count` records for `run-1`. */
export function recordBatch(
  resource: string,
  count: number,
  options: BodyOptions = {},
): SyncJobRunEvent {
  const records = Array.from({ length: count }, (_, i) => ({ id: `r${i}` }));
  return eventFor(
    envelope('sync_job_run:record', { sync_job_run_id: RUN, resource, records }, options),
  ) as SyncJobRunEvent;
}

/** A `record:<action>` event for one record of `acc-1`'s `resource`. */
export function recordEvent(
  action: 'created' | 'updated' | 'deleted',
  recordId: string,
  resource = 'crm/contacts',
  options: BodyOptions = {},
): RecordEvent {
  return eventFor(
    envelope(
      `record:${action}`,
      { id: recordId, integrated_account_id: ACCOUNT, resource },
      options,
    ),
  ) as RecordEvent;
}
