/**
 * Facts: the few fields of a payload that the Truto projections read, extracted once at ingest
 * and stored beside the raw body. Projections and rebuilds read facts, never re-parse bodies: a
 * `sync_job_run:record` body carries up to 50 records, its facts only their count.
 */

export interface AccountFacts {
  readonly kind: 'account';
  readonly accountId: string;
  /** `payload.status` as sent (any string); the projection decides what it means. */
  readonly status?: string;
  readonly tenantId?: string;
  /** The `integration.name` slug, e.g. `salesforce`. */
  readonly integration?: string;
  readonly environmentIntegrationId?: string;
  /** `last_error` when present and not null. */
  readonly lastError?: unknown;
  /** `last_forbidden_error` when present and not null. */
  readonly lastForbiddenError?: unknown;
}

export interface RunFacts {
  readonly kind: 'run';
  readonly runId: string;
  readonly syncJobId?: string;
  readonly integratedAccountId?: string;
  /** `payload.status` of lifecycle events, as sent. */
  readonly status?: string;
  /** Payload times, normalised to ISO-8601 UTC with milliseconds. */
  readonly createdAt?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** `record` and `record_error`: the resource named by the payload. */
  readonly resource?: string;
  /** `record`: `records.length`. */
  readonly records?: number;
  /** `record_error`: the length of `errors` when it is an array, else 1. */
  readonly errors?: number;
}

export interface RecordFacts {
  readonly kind: 'record';
  readonly integratedAccountId: string;
  readonly resource: string;
  readonly recordId: string;
}

export type EventFacts = AccountFacts | RunFacts | RecordFacts;
