/**
 * The one place KurrentDB client errors become `StoreError`s. Matched on the client's error
 * classes (after `convertToCommandError`, which turns raw gRPC service errors into them by status
 * code), never on message text.
 */
import {
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
  convertToCommandError,
} from '@kurrent/kurrentdb-client';
import { StoreError, type StoreErrorCode } from '../errors.js';

/** The `StoreError` code for a client error. */
export function kurrentErrorCode(error: unknown): StoreErrorCode {
  if (error instanceof StoreError) return error.code;
  const converted = error instanceof Error ? convertToCommandError(error) : error;
  // Retry later: the server is down, unreachable, switching leader, or too slow to answer.
  if (
    converted instanceof UnavailableError ||
    converted instanceof NotLeaderError ||
    converted instanceof DeadlineExceededError ||
    converted instanceof TimeoutError ||
    converted instanceof CancelledError
  ) {
    return 'store_unavailable';
  }
  // Optimistic-concurrency contention that outlived the adapter's own retries.
  if (converted instanceof WrongExpectedVersionError) return 'store_busy';
  // Everything else is not worth retrying as it is, notably: too big (MaxAppendSizeExceeded,
  // AppendRecordSizeExceeded, TransactionMaxSizeExceeded), forbidden (AccessDenied), our streams
  // deleted by hand (StreamDeleted, StreamTombstoned), and unknown server faults.
  return 'store_failed';
}

/** Wraps any error from the client as a `StoreError` (a `StoreError` passes through). */
export function translateKurrentError(error: unknown, doing: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = kurrentErrorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new StoreError(code, `kurrentdb: ${doing} failed (${code}): ${detail}`, { cause: error });
}
