/**
 * What the adapter needs from KurrentDB, as a narrow port internal to it. The store wires it to
 * the official client (`client-io.ts`); the unit tests wire it to a model of the server's
 * documented rules, so the append protocol, and the whole store with the shared contract suite,
 * run without a server.
 *
 * Errors: implementations throw `StoreError`s only (client errors translated once, at the edge).
 */
import type { Position } from './positions.js';

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

/** A `$all` event: with its stream, and always its log position. */
export interface LogRecorded extends Recorded {
  readonly stream: string;
  readonly position: Position;
}

/** A read of `$all`, filtered on the server by stream-name prefixes. */
export interface AllRead {
  /** Where to start (inclusive). */
  readonly from: Position | 'start' | 'end';
  readonly direction: 'forwards' | 'backwards';
  readonly max?: number;
  readonly prefixes: readonly string[];
}

/** What a live `$all` subscription reports. */
export interface LiveHandlers {
  /** The server confirmed the subscription: it is live. */
  confirmed(): void;
  /** An event at this log position (the port's number). */
  position(position: number): void;
  /** It ended: with the error, or quietly (the server closed it). */
  ended(error?: unknown): void;
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
  /** `$all`, from the leader. */
  readAll(read: AllRead): AsyncIterable<LogRecorded>;
  /** Subscribes to `$all` events after log position `from` (0: from the start). */
  subscribeAll(from: number, prefixes: readonly string[], on: LiveHandlers): { close(): void };
}
