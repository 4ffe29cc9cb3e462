/**
 * What a log event looks like inside KurrentDB: a JSON event whose type is the webhook's type and
 * whose data carries everything the port gives back (`StoredEvent`) plus what the adapter needs to
 * tell duplicates from conflicts. `data` is kept as JSON text, exactly as the other adapters keep
 * it, so every store returns byte-identical facts; the raw body is base64.
 *
 * The same record, written first to the id's index stream, is the claim on that id (see store.ts).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { StoredEvent } from '../port.js';
import type { EventRow } from '../shared/rows.js';
import { fromEventRow } from '../shared/rows.js';

export const LOG_EVENT_VERSION = 1;

const logRecordSchema = z.object({
  v: z.literal(LOG_EVENT_VERSION),
  id: z.string().min(1),
  type: z.string(),
  stream: z.string().nullable(),
  sourceTime: z.number(),
  /** `data` as JSON text. */
  data: z.string(),
  skipped: z.string().nullable(),
  skipIssues: z.string().nullable(),
  /** The raw body, base64. */
  body: z.string(),
  /** sha256 of the raw body, hex: what duplicate/conflict detection compares. */
  sha256: z.string(),
});

export type LogRecord = z.infer<typeof logRecordSchema>;

export function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

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
  };
}

/** Parses a stored record; `undefined` when the event was not written by this adapter. */
export function parseLogRecord(data: unknown): LogRecord | undefined {
  const parsed = logRecordSchema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

export function toStoredEvent(record: LogRecord, position: number, withBody: boolean): StoredEvent {
  return fromEventRow(
    {
      position,
      id: record.id,
      type: record.type,
      stream: record.stream,
      sourceTime: record.sourceTime,
      data: record.data,
      body: withBody ? Buffer.from(record.body, 'base64') : null,
    },
    withBody,
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
} as const;
