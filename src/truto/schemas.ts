/**
 * zod schemas for the envelope and for the payloads of the projected families. Each schema is the
 * single source of its type. Payload schemas are lenient about fields truto-state does not read and
 * strict about the ones it does: a payload that fails is stored, with its issues, and not projected.
 *
 * `z.object` (not `looseObject`) drops unread keys, so nothing from a payload, `__proto__`
 * included, is ever copied into an object of ours.
 */
import { z } from 'zod';

const id = z.union([z.string().min(1), z.number().finite()]).transform(String);
const optionalText = z.string().nullish();
const optionalId = id.nullish();

export const envelopeSchema = z.object({
  id,
  event: z.string().min(1).optional(),
  event_type: z.string().min(1).optional(),
  created_at: z.string(),
  payload: z.unknown().optional(),
  environment_id: optionalText,
  webhook_id: optionalText,
});
export type Envelope = z.infer<typeof envelopeSchema>;

export const integratedAccountPayloadSchema = z.object({
  id,
  status: optionalText,
  tenant_id: optionalText,
  environment_id: optionalText,
  environment_integration_id: optionalText,
  integration: z.object({ id: optionalId, name: optionalText }).nullish(),
  last_error: z.unknown().optional(),
  last_forbidden_error: z.unknown().optional(),
});
export type IntegratedAccountPayload = z.infer<typeof integratedAccountPayloadSchema>;

export const syncJobRunPayloadSchema = z.object({
  id,
  sync_job_id: optionalId,
  integrated_account_id: optionalId,
  status: optionalText,
  created_at: optionalText,
  started_at: optionalText,
  finished_at: optionalText,
});
export type SyncJobRunPayload = z.infer<typeof syncJobRunPayloadSchema>;

const runReference = z.object({ id: optionalId, integrated_account_id: optionalId }).nullish();
const runMeta = z
  .object({ sync_job_run_id: optionalId, integrated_account_id: optionalId })
  .nullish();

/** `sync_job_run:record` and `record_error`: the run id is found in one of three places. */
export const syncJobRunRecordPayloadSchema = z.object({
  sync_job_run_id: optionalId,
  integrated_account_id: optionalId,
  meta: runMeta,
  sync_job_run: runReference,
  resource: optionalText,
  method: optionalText,
  records: z.array(z.unknown()).nullish(),
  error: z.unknown().optional(),
  errors: z.unknown().optional(),
});
export type SyncJobRunRecordPayload = z.infer<typeof syncJobRunRecordPayloadSchema>;

export const recordPayloadSchema = z.object({
  id,
  integrated_account_id: id,
  resource: z.string().min(1),
});
export type RecordPayload = z.infer<typeof recordPayloadSchema>;
