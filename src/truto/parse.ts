/**
 * Raw bytes to a typed webhook event: the one place where a Truto body is read.
 *
 * Tolerant the way Truto is varied (`event` or `event_type`, two time formats, run ids in three
 * places); strict only about what makes an event unusable (no id, no name, no source time). An
 * authentic event with an unknown name or a payload that fails its schema is still an event: it is
 * stored with the reason it is not projected.
 *
 * Values no store can hold are decided here, once, the same way for every store:
 * - the envelope id must be a JSON string without NUL (U+0000), at most MAX_ID_BYTES; the event
 *   name must hold no NUL: otherwise the delivery is refused (`invalid_id`, `invalid_event`);
 * - a NUL in a field that becomes a key, a group or a filter field, a numeric id in the payload,
 *   or a free-form value (`last_error`) nested deeper than MAX_VALUE_DEPTH: the event is stored
 *   and not projected (`invalid_payload`, with the issue and its path);
 * - a NUL inside a free-form value becomes U+FFFD in the facts (the body keeps the bytes).
 */
import type { z } from 'zod';
import { familyOf, isKnownEventType, type EventFamily } from './catalogue.js';
import type { AccountFacts, EventFacts, RecordFacts, RunFacts } from './facts.js';
import { reduceWebhookJson, type ReduceKeys } from './json-reduce.js';
import {
  envelopeSchema,
  integratedAccountPayloadSchema,
  recordPayloadSchema,
  syncJobRunPayloadSchema,
  syncJobRunRecordPayloadSchema,
} from './schemas.js';
import { accountStream, otherStream, recordsStream, runStream } from './streams.js';
import { ACCEPTED_TIME_FORMS, normaliseTime, readSourceTime } from './time.js';

/** Why an event is stored but not projected. */
export type SkipReason = 'unknown_type' | 'not_projected' | 'invalid_payload' | 'no_run_id';

/** One reason a payload does not match its schema: where, what was expected, what came. */
export interface PayloadIssue {
  readonly code: string;
  readonly path: readonly (string | number)[];
  /** Readable, naming the field: `payload.id: expected a non-empty string or a number, received nothing`. */
  readonly message: string;
  readonly expected?: string;
  /** What came, described (`nothing`, `null`, `the number 7`, `an object`…). */
  readonly received: string;
}

export interface SkipNote {
  readonly reason: SkipReason;
  readonly issues?: readonly PayloadIssue[];
}

/** A parsed, authentic-or-not-yet-checked Truto delivery. */
export interface WebhookEvent {
  readonly id: string;
  /** `entity:action`, from `event` or else `event_type`. */
  readonly type: string;
  readonly family: EventFamily;
  readonly known: boolean;
  /** Envelope `created_at`, epoch milliseconds. */
  readonly sourceTime: number;
  /**
   * The entity stream (streams.ts); `null` when the event cannot be projected (a payload that
   * fails its schema, a record batch without a run id).
   */
  readonly stream: string | null;
  /** What projections read; `null` when the event is not projected (see `skipped`). */
  readonly data: EventFacts | null;
  readonly skipped: SkipNote | null;
  /** The exact bytes received: the record of the event. */
  readonly body: Uint8Array;
}

export type EnvelopeErrorCode =
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_id'
  | 'invalid_id'
  | 'missing_event'
  | 'invalid_event'
  | 'missing_created_at'
  | 'invalid_created_at';

/**
 * The longest envelope id kept, in UTF-8 bytes. Truto's ids are UUIDs (36 bytes); the bound keeps
 * every id storable on every store (a PostgreSQL btree entry holds at most about 2.7 KB).
 */
export const MAX_ID_BYTES = 1024;

export type ParseResult =
  | { readonly ok: true; readonly event: WebhookEvent }
  | { readonly ok: false; readonly code: EnvelopeErrorCode; readonly message: string };

const decoder = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();
const decode = (bytes: Uint8Array): string => decoder.decode(bytes);

/** The keys the schemas read; the values of all others never need to be built (json-reduce.ts). */
const REDUCE_KEYS: ReduceKeys = {
  envelope: new Set(Object.keys(envelopeSchema.shape)),
  payloadKey: 'payload',
  payload: new Set(
    [
      integratedAccountPayloadSchema,
      syncJobRunPayloadSchema,
      syncJobRunRecordPayloadSchema,
      recordPayloadSchema,
    ].flatMap((schema) => Object.keys(schema.shape).filter((key) => key !== 'records')),
  ),
  // Only `records.length` is read (runRecordFacts); its elements are z.unknown().
  counted: new Set(['records']),
};

/** Below this size a body is parsed whole: scanning it first would cost more than it saves. */
const REDUCE_FROM_BYTES = 1024;

/**
 * `JSON.parse` of the decoded body, through the reduced text when that is certainly equivalent.
 * Throws exactly what parsing the whole body throws: any doubt takes the whole-body path.
 */
function parseJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength >= REDUCE_FROM_BYTES) {
    const reduced = reduceWebhookJson(bytes, REDUCE_KEYS, decode);
    if (reduced !== null) {
      try {
        return JSON.parse(reduced) as unknown;
      } catch {
        // Not expected (the scanner validated the body); the whole-body parse reports it.
      }
    }
  }
  return JSON.parse(decoder.decode(bytes)) as unknown;
}

/**
 * Parses one webhook body.
 *
 * @example
 * const result = parseWebhook(Buffer.from(JSON.stringify({
 *   id: 'e1', event: 'integrated_account:active', created_at: '2024-09-10 12:00:00',
 *   payload: { id: 'acc-1', status: 'active' },
 * })));
 * if (result.ok) result.event.stream; // 'integrated_account:acc-1'
 */
export function parseWebhook(body: Uint8Array | string): ParseResult {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  let json: unknown;
  try {
    json = typeof body === 'string' ? JSON.parse(body) : parseJson(bytes);
  } catch (error) {
    return fail('invalid_json', `body is not valid JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return fail('not_an_object', 'body must be a JSON object (one event per delivery)');
  }
  if (typeof (json as { id?: unknown }).id === 'number') {
    return fail(
      'invalid_id',
      'envelope "id" must be a JSON string: a number loses precision past 2^53, and 7 would be the same id as "7"',
    );
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return envelopeFailure(envelope.error, json);
  const { id, created_at: createdAt, payload } = envelope.data;
  // The id and the name are columns of every store: refused here (400, kept aside as a reject)
  // when a store could not hold them, rather than failing in the store.
  if (id.includes('\u0000')) {
    return fail('invalid_id', 'envelope "id" holds a NUL character (U+0000), which no store keeps');
  }
  if (Buffer.byteLength(id) > MAX_ID_BYTES) {
    return fail('invalid_id', `envelope "id" is longer than ${MAX_ID_BYTES} bytes`);
  }
  const type = envelope.data.event ?? envelope.data.event_type;
  if (type === undefined)
    return fail('missing_event', 'envelope has neither "event" nor "event_type"');
  if (type.includes('\u0000')) {
    return fail(
      'invalid_event',
      'the event name holds a NUL character (U+0000), which no store keeps',
    );
  }
  const time = readSourceTime(createdAt);
  if (!time.ok) {
    return fail(
      'invalid_created_at',
      `"created_at" ${JSON.stringify(createdAt)} is not a time: ${time.reason} (accepted: ${ACCEPTED_TIME_FORMS})`,
    );
  }
  const sourceTime = time.ms;
  const family = familyOf(type);
  const known = isKnownEventType(type);
  const projected = extractFacts(family, type, payload ?? {});
  const stream = projected.ok
    ? projected.stream
    : family === 'other'
      ? storableStream(otherStream(type, payload, id))
      : null;
  return {
    ok: true,
    event: {
      id,
      type,
      family,
      known,
      sourceTime,
      stream,
      data: projected.ok ? projected.data : null,
      skipped: projected.ok
        ? null
        : known || family !== 'other'
          ? projected.skip
          : { reason: 'unknown_type' },
      body: bytes,
    },
  };
}

/** A stream no store can name (a NUL from the payload) is none: the event is kept, unstreamed. */
function storableStream(stream: string): string | null {
  return stream.includes('\u0000') ? null : stream;
}

function fail(code: EnvelopeErrorCode, message: string): ParseResult {
  return { ok: false, code, message };
}

function envelopeFailure(error: z.ZodError, json: object): ParseResult {
  const fields = new Set(error.issues.map((issue) => String(issue.path[0])));
  const all = error.issues.map((issue) => describeIssue(issue, json, 'envelope')).join('; ');
  if (fields.has('id')) {
    return fail('missing_id', `envelope has no usable "id" (a non-empty string): ${all}`);
  }
  if (fields.has('created_at')) {
    const value = (json as { created_at?: unknown }).created_at;
    return value === undefined || value === null
      ? fail('missing_created_at', 'envelope has no "created_at"')
      : fail(
          'invalid_created_at',
          `"created_at" must be a string (${ACCEPTED_TIME_FORMS}), received ${describeValue(value)}`,
        );
  }
  if (fields.has('event') || fields.has('event_type')) {
    return fail(
      'missing_event',
      `envelope "event"/"event_type" must be a non-empty string: ${all}`,
    );
  }
  return fail('not_an_object', `envelope is malformed: ${all}`);
}

/** `the number 7`, `nothing`, `an empty string`…: what came, for error messages. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : `the string ${JSON.stringify(value.slice(0, 40))}`;
    case 'number':
    case 'boolean':
      return `the ${typeof value} ${String(value)}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** The value at a path of a parsed JSON document (undefined when absent). */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = Object.prototype.hasOwnProperty.call(value, key)
      ? (value as Record<PropertyKey, unknown>)[key]
      : undefined;
  }
  return value;
}

/** What a zod issue expected, in words. */
function expectedOf(issue: z.core.$ZodIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected;
    case 'invalid_union':
      return 'a non-empty string or a number';
    case 'too_small':
      return issue.origin === 'string' ? 'a non-empty string' : `at least ${String(issue.minimum)}`;
    default:
      return undefined;
  }
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown, prefix: string): string {
  const path = [prefix, ...issue.path.map(String)].join('.');
  const expected = expectedOf(issue);
  const received = describeValue(valueAt(root, issue.path));
  return expected
    ? `${path}: expected ${expected}, received ${received}`
    : `${path}: ${issue.message} (received ${received})`;
}

type Extracted = { ok: true; stream: string; data: EventFacts } | { ok: false; skip: SkipNote };

function extractFacts(family: EventFamily, type: string, payload: unknown): Extracted {
  switch (family) {
    case 'integrated_account':
      return accountFacts(payload);
    case 'sync_job_run':
      return type === 'sync_job_run:record' || type === 'sync_job_run:record_error'
        ? runRecordFacts(type, payload)
        : runFacts(payload);
    case 'record':
      return recordFacts(payload);
    case 'other':
      return { ok: false, skip: { reason: 'not_projected' } };
  }
}

function invalid(error: z.ZodError, payload: unknown): Extracted {
  const issues = error.issues.map((issue): PayloadIssue => {
    const expected = expectedOf(issue);
    return {
      code: issue.code,
      path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      message: describeIssue(issue, payload, 'payload'),
      ...(expected === undefined ? {} : { expected }),
      received: describeValue(valueAt(payload, issue.path)),
    };
  });
  return { ok: false, skip: { reason: 'invalid_payload', issues } };
}

function accountFacts(payload: unknown): Extracted {
  const parsed = integratedAccountPayloadSchema.safeParse(payload);
  if (!parsed.success) return invalid(parsed.error, payload);
  const p = parsed.data;
  const data: AccountFacts = {
    kind: 'account',
    accountId: p.id,
    ...defined('status', p.status),
    ...defined('tenantId', p.tenant_id),
    ...defined('integration', p.integration?.name),
    ...defined('environmentIntegrationId', p.environment_integration_id),
    ...defined('lastError', p.last_error),
    ...defined('lastForbiddenError', p.last_forbidden_error),
  };
  return { ok: true, stream: accountStream(p.id), data };
}

function runFacts(payload: unknown): Extracted {
  const parsed = syncJobRunPayloadSchema.safeParse(payload);
  if (!parsed.success) return invalid(parsed.error, payload);
  const p = parsed.data;
  const data: RunFacts = {
    kind: 'run',
    runId: p.id,
    ...defined('syncJobId', p.sync_job_id),
    ...defined('integratedAccountId', p.integrated_account_id),
    ...defined('status', p.status),
    ...defined('createdAt', normaliseTime(p.created_at)),
    ...defined('startedAt', normaliseTime(p.started_at)),
    ...defined('finishedAt', normaliseTime(p.finished_at)),
  };
  return { ok: true, stream: runStream(p.id), data };
}

function runRecordFacts(type: string, payload: unknown): Extracted {
  const parsed = syncJobRunRecordPayloadSchema.safeParse(payload);
  if (!parsed.success) return invalid(parsed.error, payload);
  const p = parsed.data;
  const runId = p.sync_job_run_id ?? p.meta?.sync_job_run_id ?? p.sync_job_run?.id;
  if (runId === null || runId === undefined) return { ok: false, skip: { reason: 'no_run_id' } };
  const accountId =
    p.integrated_account_id ??
    p.meta?.integrated_account_id ??
    p.sync_job_run?.integrated_account_id;
  const data: RunFacts = {
    kind: 'run',
    runId,
    ...defined('integratedAccountId', accountId),
    ...defined('resource', p.resource),
    ...(type === 'sync_job_run:record'
      ? { records: p.records?.length ?? 0 }
      : { errors: Array.isArray(p.errors) ? p.errors.length : 1 }),
  };
  return { ok: true, stream: runStream(runId), data };
}

function recordFacts(payload: unknown): Extracted {
  const parsed = recordPayloadSchema.safeParse(payload);
  if (!parsed.success) return invalid(parsed.error, payload);
  const p = parsed.data;
  const data: RecordFacts = {
    kind: 'record',
    integratedAccountId: p.integrated_account_id,
    resource: p.resource,
    recordId: p.id,
  };
  return { ok: true, stream: recordsStream(p.integrated_account_id, p.resource), data };
}

/** `{ [key]: value }` when the value is present, `{}` otherwise (exactOptionalPropertyTypes). */
function defined<K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } {
  return value === null || value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
