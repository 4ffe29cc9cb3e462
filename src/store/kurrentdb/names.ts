/**
 * Stream names. Everything this adapter writes lives under one prefix, in two families:
 *
 * - `<prefix>-<entity>`: the log itself, one stream per entity (`<prefix>-integrated_account:acc-1`),
 *   and `<prefix>-%unrouted` for events with no entity stream. `$all` is read with a server-side
 *   filter on the `<prefix>-` prefix, so these are exactly the events `readAll` returns, and
 *   KurrentDB's `$by_category` sees them all as category `<prefix>`.
 * - `<prefix>_<kind>…`: bookkeeping that must not show up in the log: the id index
 *   (`<prefix>_id-<uuid>`), large bodies (`<prefix>_body-<attempt>`), conflicts, duplicates,
 *   rejects.
 *
 * The entity part is escaped so that distinct entity streams can never share a KurrentDB stream:
 * letters, digits and `_ . : @ / -` are kept, every other byte (and `%` itself) becomes `%XX`.
 * The encoder never emits `%` followed by anything but two hex digits, so `%unrouted` cannot
 * collide with an entity.
 */

/** Prefixes are plain words, so `<prefix>-` never matches another prefix's streams. */
const PREFIX = /^[A-Za-z0-9_.]{1,64}$/;
const KEPT = /[A-Za-z0-9_.:@/-]/;

export const DEFAULT_STREAM_PREFIX = 'truto';

export function assertStreamPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new TypeError(`stream prefix "${prefix}" must be 1-64 letters, digits, "_" or "."`);
  }
}

/** Escapes an entity stream name (injective; see the module comment). */
export function escapeEntity(stream: string): string {
  let out = '';
  for (const char of stream) {
    if (KEPT.test(char)) {
      out += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** The names one store uses, derived from its prefix. */
export interface StreamNames {
  /** The `$all` filter prefix for log events. */
  readonly logPrefix: string;
  /** The KurrentDB stream holding an entity's events (`null`: the unrouted stream). */
  entity(stream: string | null): string;
  /** The index stream that claims one event id. */
  id(uuid: string): string;
  /** The chunks of a body too large to sit in its record, named after the claim attempt. */
  body(attempt: string): string;
  readonly conflicts: string;
  readonly duplicates: string;
  /** One stream per distinct reject (claimed with NO_STREAM: kept once). */
  reject(uuid: string): string;
  readonly rejectPrefix: string;
}

export function streamNames(prefix: string): StreamNames {
  assertStreamPrefix(prefix);
  const logPrefix = `${prefix}-`;
  return {
    logPrefix,
    entity: (stream) =>
      stream === null ? `${logPrefix}%unrouted` : `${logPrefix}${escapeEntity(stream)}`,
    id: (uuid) => `${prefix}_id-${uuid}`,
    body: (attempt) => `${prefix}_body-${attempt}`,
    conflicts: `${prefix}_conflicts`,
    duplicates: `${prefix}_duplicates`,
    reject: (uuid) => `${prefix}_reject-${uuid}`,
    rejectPrefix: `${prefix}_reject-`,
  };
}
