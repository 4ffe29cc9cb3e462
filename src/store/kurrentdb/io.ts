/**
 * What the append protocol needs from KurrentDB, as a narrow port internal to this adapter. The
 * store wires it to the official client (`client-io.ts`); the unit tests wire it to a model of
 * the server's documented append rules, so every protocol decision runs here without a server.
 *
 * Errors: implementations throw `StoreError`s only (client errors translated once, at the edge).
 */
import type { Position } from '@kurrent/kurrentdb-client';

/** A stream's last revision, or `no_stream` when it has no events. */
export type Revision = bigint | 'no_stream';

/** The expected state sent with an append. */
export type Expected = Revision | 'any';

/** An event to append: JSON (serialised by the client) or raw bytes. */
export type Proposed =
  | { readonly id: string; readonly type: string; readonly json: unknown }
  | { readonly id: string; readonly type: string; readonly bytes: Uint8Array };

/**
 * What the server answered to an append. `ok` covers both "written" and "already there"
 * (idempotent): the server answers them alike, so the protocol never relies on telling them
 * apart.
 */
export type AppendAnswer =
  | { readonly kind: 'ok'; readonly revision: bigint; readonly position?: Position }
  | { readonly kind: 'wrong_expected_version' };

/** An event read back: `json` for JSON events, `bytes` otherwise. */
export interface Recorded {
  readonly id: string;
  readonly revision: bigint;
  readonly position?: Position;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
}

export interface KurrentIo {
  append(stream: string, events: readonly Proposed[], expected: Expected): Promise<AppendAnswer>;
  /**
   * A stream's events forwards from revision `from`, at most `max` (all when omitted); a missing
   * stream is empty. Served by the leader: the protocol reads what it (or a rival) just wrote.
   */
  read(stream: string, from: bigint, max?: number): AsyncIterable<Recorded>;
  /** The stream's last revision (from the leader). */
  last(stream: string): Promise<Revision>;
}
