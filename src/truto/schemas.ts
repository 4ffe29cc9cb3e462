/**
 * zod schemas for the envelope and for the payloads of the projected families. Each schema is the
 * single source of its type. Payload schemas are lenient about fields truto-state does not read and
 * strict about the ones it does: a payload that fails is stored, with its issues, and not projected.
 *
 * `z.object` (not `looseObject`) drops unread keys, so nothing from a payload, `__proto__`
 * included, is ever copied into an object of ours.
 */
import { z } from 'zod';

/**
 * Text that projections read (keys, group and filter fields). A NUL character (U+0000) is
 * refused here, once: PostgreSQL `text` and `jsonb` cannot hold it, so an event carrying one in
 * such a field is stored with this issue and not projected, on every store alike.
 */
const text = z.string().refine((value) => !value.includes('\u0000'), {
  message: 'holds a NUL character (U+0000), which a key or filter field cannot hold',
});
/**
 * Ids are JSON strings. A number is refused (the payload is stored, not projected): a JSON
 * number past 2^53 loses digits (12345678901234567890 would equal …891), and `7` would be the
 * same entity as `"7"`.
 */
const id = z.string().min(1).pipe(text);
const optionalText = text.nullish();
const optionalId = id.nullish();

/**
 * Free-form values copied into state (`last_error`): nested at most this deep. Deeper values are
 * refused at parse time (the event is stored, not projected) so serialising state never
 * overflows the stack, whatever an authentic sender nests.
 */
export const MAX_VALUE_DEPTH = 64;

/** Whether `value` nests objects and arrays at most `limit` deep (iterative: no recursion). */
export function depthWithin(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return false;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return true;
}

/**
 * A copy of `value` whose strings (keys included) have each NUL replaced by U+FFFD. A NUL in a
 * free-form value is not worth refusing an event for, and no store can filter state holding one
 * (PostgreSQL's JSON operators cannot read `\u0000`); the log's body keeps the original bytes.
 * Iterative, and only called on values already bounded by MAX_VALUE_DEPTH.
 */
export function withoutNul(value: unknown): unknown {
  const clean = (text: string): string => text.replaceAll('\u0000', '\uFFFD');
  if (typeof value === 'string') return clean(value);
  if (value === null || typeof value !== 'object') return value;
  const root: unknown[] | Record<string, unknown> = Array.isArray(value) ? [] : {};
  const work: [unknown, unknown[] | Record<string, unknown>][] = [[value, root]];
  for (let next = work.pop(); next !== undefined; next = work.pop()) {
    const [from, into] = next;
    for (const [key, child] of Object.entries(from as object)) {
      let copy: unknown = child;
      if (typeof child === 'string') copy = clean(child);
      else if (child !== null && typeof child === 'object') {
        copy = Array.isArray(child) ? [] : {};
        work.push([child, copy as unknown[] | Record<string, unknown>]);
      }
      if (Array.isArray(into)) into.push(copy);
      // defineProperty: a `__proto__` key stays an own data property, never a prototype.
      else
        Object.defineProperty(into, clean(key), {
          value: copy,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
  }
  return root;
}

const freeForm = z
  .unknown()
  .refine((value) => depthWithin(value, MAX_VALUE_DEPTH), {
    message: `nested deeper than ${MAX_VALUE_DEPTH} levels`,
  })
  .transform(withoutNul);

export const envelopeSchema = z.object({
  // Checked further in parse.ts (numbers, NUL, length) with a reason of its own.
  id: z.string().min(1),
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
  last_error: freeForm.optional(),
  last_forbidden_error: freeForm.optional(),
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
  resource: text.min(1),
});
export type RecordPayload = z.infer<typeof recordPayloadSchema>;
