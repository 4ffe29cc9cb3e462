/**
 * The row shape every adapter stores for an event, and the conversions to and from the port's
 * types. Memory keeps these rows as they are; SQL adapters map them onto columns. Sharing one
 * shape means `data` is JSON-serialised the same way everywhere, so a memory store behaves like a
 * database one (undefined fields dropped, a fresh object on every read).
 */
import { checkStorableText } from '../errors.js';
import type { EventToAppend, StoredEvent } from '../port.js';
import { JsonText, stringify } from './json.js';

export interface EventRow {
  readonly id: string;
  readonly type: string;
  readonly stream: string | null;
  readonly sourceTime: number;
  /** `data` as JSON text (`null` when the event has none). */
  readonly data: string;
  readonly body: Buffer;
  readonly skipped: string | null;
  /** `skipped.issues` as JSON text, when any. */
  readonly skipIssues: string | null;
}

/**
 * Serialises an event for storage. Throws before any transaction starts, so a bad event fails
 * its caller only: a TypeError for a malformed event, StoreError `store_rejected` for a value no
 * store can hold (a NUL in the id, type or stream; `data` JSON cannot write).
 */
export function toEventRow(event: EventToAppend): EventRow {
  // Copied: the caller may reuse its buffer after append resolves, and this row may outlive it.
  return serialise(event, Buffer.from(event.body));
}

/**
 * As `toEventRow`, with the body viewed rather than copied: for adapters that write the row
 * before `append` resolves and keep nothing of it afterwards (a copy of every body is most of an
 * import's allocation).
 */
export function toTransientEventRow(event: EventToAppend): EventRow {
  return serialise(event, asBuffer(event.body));
}

function serialise(event: EventToAppend, body: Buffer): EventRow {
  if (typeof event.id !== 'string' || event.id.length === 0) {
    throw new TypeError('an event needs a non-empty string id');
  }
  if (!Number.isFinite(event.sourceTime)) {
    throw new TypeError(`event ${event.id}: sourceTime must be a finite number of milliseconds`);
  }
  // Checked before the event joins a group commit: a bad one must fail its caller only, not
  // roll back the transaction it would share with other callers' events.
  if (typeof event.type !== 'string' || event.type.length === 0) {
    throw new TypeError(`event ${event.id}: type must be a non-empty string`);
  }
  if (event.stream !== null && typeof event.stream !== 'string') {
    throw new TypeError(`event ${event.id}: stream must be a string or null`);
  }
  if (!(event.body instanceof Uint8Array)) {
    throw new TypeError(`event ${event.id}: body must be bytes (a Uint8Array)`);
  }
  checkStorableText(event.id, () => `event id ${JSON.stringify(event.id)}`);
  checkStorableText(event.type, () => `event ${JSON.stringify(event.id)}: type`);
  if (event.stream !== null)
    checkStorableText(event.stream, () => `event ${JSON.stringify(event.id)}: stream`);
  // NUL inside `data` is fine: JSON writes it as the escape \u0000, which every store keeps.
  return {
    id: event.id,
    type: event.type,
    stream: event.stream,
    sourceTime: event.sourceTime,
    data: dataText(event),
    body,
    skipped: event.skipped?.reason ?? null,
    skipIssues: event.skipped?.issues ? stringify(event.skipped.issues, 'skip issues') : null,
  };
}

/** `data` as the JSON text it is stored as (JsonText: as given). */
export function dataText(event: Pick<EventToAppend, 'id' | 'data'>): string {
  return event.data instanceof JsonText
    ? event.data.text
    : stringify(event.data ?? null, `event ${JSON.stringify(event.id)}: data`);
}

/** A stored row back to the port's shape; `data` is parsed afresh each time. */
export function fromEventRow(
  row: {
    position: number;
    id: string;
    type: string;
    stream: string | null;
    sourceTime: number;
    data: string;
    body?: Buffer | null;
  },
  withBody: boolean,
): StoredEvent {
  const event = {
    position: row.position,
    id: row.id,
    type: row.type,
    stream: row.stream,
    sourceTime: row.sourceTime,
    data: JSON.parse(row.data) as unknown,
  };
  return withBody && row.body ? { ...event, body: new Uint8Array(row.body) } : event;
}

/** Byte equality: what tells a duplicate (same bytes) from a conflict (different bytes). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** A Buffer view of bytes without copying (drivers want Buffers). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
