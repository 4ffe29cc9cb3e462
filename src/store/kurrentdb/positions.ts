/**
 * Positions. KurrentDB orders `$all` by a pair of 64-bit log positions, commit and prepare. The
 * port wants one number that only increases, so:
 *
 * - `position` (the port's number) is the event's **commit position**. This adapter writes every
 *   log event in its own single-event append, so each event's commit position is unique and, for
 *   such writes, equal to its prepare position; reading `$all` from `{commit: n, prepare: n}`
 *   therefore resumes right at event `n`. The integration suite checks that equality on a live
 *   server. Numbers are exact below 2^53 (a log of 9 PB); past that the adapter refuses with
 *   `store_failed` rather than round.
 * - A **checkpoint** (`encodeCheckpoint`) keeps both positions, as the opaque string
 *   `kdb:<commit>:<prepare>`, for consumers that subscribe to `$all` themselves and must resume at
 *   an exact record even where the two differ (events written by other tools in multi-event
 *   transactions).
 */
import { StoreError } from '../errors.js';

/**
 * A `$all` position, as the client's `Position`. Declared here (the same shape) so that the
 * public declarations need no client types: they compile before the driver is installed.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** An encoded `$all` position. Branded: produce it with `encodeCheckpoint` only. */
export type KurrentCheckpoint = string & { readonly __brand: 'KurrentCheckpoint' };

const CHECKPOINT = /^kdb:(0|[1-9][0-9]{0,19}):(0|[1-9][0-9]{0,19})$/;
const U64_MAX = (1n << 64n) - 1n;

/**
 * @example
 * encodeCheckpoint({ commit: 1234n, prepare: 1200n }); // 'kdb:1234:1200'
 */
export function encodeCheckpoint(position: Position): KurrentCheckpoint {
  assertU64(position.commit);
  assertU64(position.prepare);
  return `kdb:${position.commit}:${position.prepare}` as KurrentCheckpoint;
}

/** The inverse of `encodeCheckpoint`; throws a TypeError on anything it did not produce. */
export function decodeCheckpoint(text: string): Position {
  const match = CHECKPOINT.exec(text);
  if (!match) throw new TypeError(`not a KurrentDB checkpoint: ${JSON.stringify(text)}`);
  const position = { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
  assertU64(position.commit);
  assertU64(position.prepare);
  return position;
}

/** The port's number for an event at `position`: its commit position. */
export function positionToNumber(position: Position): number {
  if (position.commit > BigInt(Number.MAX_SAFE_INTEGER) || position.commit < 0n) {
    throw new StoreError(
      'store_failed',
      `commit position ${position.commit} does not fit a safe integer`,
    );
  }
  return Number(position.commit);
}

/** Where to resume `$all` after the port's number `n` (see the module comment). */
export function numberToPosition(n: number): Position {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`not a log position: ${n}`);
  return { commit: BigInt(n), prepare: BigInt(n) };
}

function assertU64(value: bigint): void {
  if (value < 0n || value > U64_MAX) throw new TypeError(`log position out of range: ${value}`);
}
