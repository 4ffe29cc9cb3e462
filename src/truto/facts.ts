/**
 * Facts: the few fields of a payload that the Truto projections read, extracted once at ingest
 * and stored beside the raw body, so their folds never read or parse bodies (a
 * `sync_job_run:record` body carries up to 50 records, its facts only their count).
 *
 * Each kind is a zod schema, the single source of its type. Stored facts carry their version in
 * `v` (absent: version 1); facts of another version are derived again from the stored body, so a
 * projection that needs one more field gets it for all history by bumping FACTS_VERSION here and
 * its own version (no re-delivery).
 */
import { z } from 'zod';

/** The version of the facts `parseWebhook` extracts now. */
export const FACTS_VERSION = 1;

export const accountFactsSchema = z.object({
  kind: z.literal('account'),
  accountId: z.string(),
  /** `payload.status` as sent (any string); the projection decides what it means. */
  status: z.string().optional(),
  tenantId: z.string().optional(),
  /** The `integration.name` slug, e.g. `salesforce`. */
  integration: z.string().optional(),
  environmentIntegrationId: z.string().optional(),
  /** `last_error` when present and not null. */
  lastError: z.unknown().optional(),
  /** `last_forbidden_error` when present and not null. */
  lastForbiddenError: z.unknown().optional(),
  v: z.number().int().optional(),
});

export const runFactsSchema = z.object({
  kind: z.literal('run'),
  runId: z.string(),
  syncJobId: z.string().optional(),
  integratedAccountId: z.string().optional(),
  /** `payload.status` of lifecycle events, as sent. */
  status: z.string().optional(),
  /** Payload times, normalised to ISO-8601 UTC with milliseconds. */
  createdAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** `record` and `record_error`: the resource named by the payload. */
  resource: z.string().optional(),
  /** `record`: `records.length`. */
  records: z.number().int().optional(),
  /** `record_error`: the length of `errors` when it is an array, else 1. */
  errors: z.number().int().optional(),
  v: z.number().int().optional(),
});

export const recordFactsSchema = z.object({
  kind: z.literal('record'),
  integratedAccountId: z.string(),
  resource: z.string(),
  recordId: z.string(),
  v: z.number().int().optional(),
});

export const eventFactsSchema = z.discriminatedUnion('kind', [
  accountFactsSchema,
  runFactsSchema,
  recordFactsSchema,
]);

export type AccountFacts = z.infer<typeof accountFactsSchema>;
export type RunFacts = z.infer<typeof runFactsSchema>;
export type RecordFacts = z.infer<typeof recordFactsSchema>;
export type EventFacts = z.infer<typeof eventFactsSchema>;

/** Whether stored facts (or `null`: an event without facts) are of the current version. */
export function factsAreCurrent(facts: unknown): boolean {
  if (facts === null || facts === undefined) return true;
  const version = (facts as { v?: unknown }).v;
  return (version === undefined ? 1 : version) === FACTS_VERSION;
}
