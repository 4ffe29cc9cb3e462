/**
 * What a log event looks like inside KurrentDB: a JSON event whose type is the webhook's type and
 * whose data carries everything the port gives back (`StoredEvent`) plus what the adapter needs to
 * tell duplicates from conflicts. `data` is kept as JSON text, exactly as the other adapters keep
 * it, so every store returns byte-identical facts.
 *
 * The raw body is in the record, base64, when the record still fits one append under the
 * server's `MaxAppendSize` as a claim, a log event and a kept-aside conflict alike. A larger body
 * (the receiver takes up to 1 MiB) is written raw, in chunks, each its own append, to a body
 * stream named after the claim attempt, before the claim; the record then points at it
 * (`bodyRef`). A claim therefore never refers to a body that is not all there.
 *
 * The same record, written first to the id's index stream, is the claim on that id (see
 * protocol.ts).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { StoreError } from '../errors.js';
import type { StoredEvent } from '../port.js';
import type { EventRow } from '../shared/rows.js';
import { fromEventRow } from '../shared/rows.js';
import type { StreamNames } from './names.js';
import { jsonEventSize, splitBytes } from './size.js';

/** 2 adds `bodyRef`; records of version 1 (body always inline) still read. */
export const LOG_EVENT_VERSION = 2;

const bodyRefSchema = z.object({
  /** The stream holding the body's chunks, in order, from revision 0. */
  stream: z.string().min(1),
  chunks: z.number().int().positive(),
  bytes: z.number().int().nonnegative(),
});

export type BodyRef = z.infer<typeof bodyRefSchema>;

const logRecordSchema = z.object({
  v: z.union([z.literal(1), z.literal(LOG_EVENT_VERSION)]),
  id: z.string().min(1),
  type: z.string(),
  stream: z.string().nullable(),
  sourceTime: z.number(),
  /** `data` as JSON text. */
  data: z.string(),
  skipped: z.string().nullable(),
  skipIssues: z.string().nullable(),
  /** The raw body, base64; empty when `bodyRef` says where it is. */
  body: z.string(),
  /** sha256 of the raw body, hex: what duplicate/conflict detection compares. */
  sha256: z.string(),
  bodyRef: bodyRefSchema.nullable().optional(),
});

export type LogRecord = z.infer<typeof logRecordSchema>;

export function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The record with its body inline. */
export function toLogRecord(row: EventRow): LogRecord {
  return {
    v: LOG_EVENT_VERSION,
    id: row.id,
    type: row.type,
    stream: row.stream,
    sourceTime: row.sourceTime,
    data: row.data,
    skipped: row.skipped,
    skipIssues: row.skipIssues,
    body: row.body.toString('base64'),
    sha256: bodyDigest(row.body),
    bodyRef: null,
  };
}

/** Room a kept-aside conflict adds to a record (`,"originalPosition":<up to 2^53>`). */
const CONFLICT_EXTRA = 40;

/** The largest append a record makes: as a claim, a log event or a kept-aside conflict. */
export function recordAppendSize(record: LogRecord): number {
  const longestType = [record.type, EVENT_TYPES.claim, EVENT_TYPES.conflict].reduce((a, b) =>
    a.length >= b.length ? a : b,
  );
  return jsonEventSize(longestType, record) + CONFLICT_EXTRA;
}

/** A record ready to claim, and the body chunks to write first when it points at them. */
export interface PlannedRecord {
  readonly record: LogRecord;
  readonly chunks: readonly Uint8Array[];
}

/**
 * The record for `row` under an append budget: the body inline when that fits, else in chunks of
 * the body stream named after this claim attempt. Throws `store_failed` when even the record
 * without its body is over budget (facts that large are not a webhook's).
 */
export function planRecord(
  row: EventRow,
  attempt: string,
  names: StreamNames,
  maxAppendSize: number,
): PlannedRecord {
  const inline = toLogRecord(row);
  if (recordAppendSize(inline) <= maxAppendSize) return { record: inline, chunks: [] };
  const chunkBytes = maxAppendSize - EVENT_TYPES.body.length * 2;
  const chunks = splitBytes(row.body, chunkBytes);
  const record: LogRecord = {
    ...inline,
    body: '',
    bodyRef: { stream: names.body(attempt), chunks: chunks.length, bytes: row.body.byteLength },
  };
  const size = recordAppendSize(record);
  if (size > maxAppendSize) {
    throw new StoreError(
      'store_failed',
      `kurrentdb: event ${row.id} needs ${size} bytes in one append without its body, over the ` +
        `append budget of ${maxAppendSize} (the server's MaxAppendSize)`,
    );
  }
  return { record, chunks };
}

/** The body of a record, reading its chunks when it points at them; checked against its sha256. */
export async function recordBody(
  record: LogRecord,
  readChunks: (ref: BodyRef) => Promise<Uint8Array[]>,
): Promise<Buffer> {
  if (!record.bodyRef) return Buffer.from(record.body, 'base64');
  const chunks = await readChunks(record.bodyRef);
  const body = Buffer.concat(chunks);
  if (chunks.length !== record.bodyRef.chunks || bodyDigest(body) !== record.sha256) {
    throw new StoreError(
      'store_failed',
      `kurrentdb: the body of ${record.id} in ${record.bodyRef.stream} is incomplete or altered`,
    );
  }
  return body;
}

/** Parses a stored record; `undefined` when the event was not written by this adapter. */
export function parseLogRecord(data: unknown): LogRecord | undefined {
  const parsed = logRecordSchema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

/** The port's event; `body` is the record's body when wanted (see `recordBody`). */
export function toStoredEvent(
  record: LogRecord,
  position: number,
  body: Buffer | null,
): StoredEvent {
  return fromEventRow(
    {
      position,
      id: record.id,
      type: record.type,
      stream: record.stream,
      sourceTime: record.sourceTime,
      data: record.data,
      body,
    },
    body !== null,
  );
}

/** The index stream's second event: where the claimed event landed. */
const locationSchema = z.object({
  stream: z.string(),
  revision: z.string().regex(/^\d+$/),
  /** `encodeCheckpoint` of the event's `$all` position. */
  checkpoint: z.string(),
});

export type LocationRecord = z.infer<typeof locationSchema>;

export function parseLocation(data: unknown): LocationRecord | undefined {
  const parsed = locationSchema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

/** Event types of the bookkeeping streams. */
export const EVENT_TYPES = {
  claim: 'truto-state.claim',
  location: 'truto-state.located',
  conflict: 'truto-state.conflict',
  duplicates: 'truto-state.duplicates',
  reject: 'truto-state.reject',
  body: 'truto-state.body',
} as const;
