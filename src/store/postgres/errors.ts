/**
 * Driver errors translated once into `StoreError` codes, by SQLSTATE (`err.code`) or Node's
 * system error code, never by message text.
 */
import pg from 'pg';
import { StoreError, isStoreError, type StoreErrorCode } from '../errors.js';

/** SQLSTATEs that mean "try again later", by code. */
const BY_SQLSTATE: Readonly<Record<string, StoreErrorCode>> = {
  '53100': 'store_full', // disk_full
  '53200': 'store_busy', // out_of_memory
  '53300': 'store_busy', // too_many_connections
  '55P03': 'store_busy', // lock_not_available (lock_timeout)
  '40001': 'store_busy', // serialization_failure
  '40P01': 'store_busy', // deadlock_detected
  '57014': 'store_busy', // query_canceled (statement_timeout)
  '57P01': 'store_unavailable', // admin_shutdown (also pg_terminate_backend)
  '57P02': 'store_unavailable', // crash_shutdown
  '57P03': 'store_unavailable', // cannot_connect_now (starting up, recovery)
  '25006': 'store_unavailable', // read_only_sql_transaction (a standby after failover)
};

/** Node system errors while connecting or talking to the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function codeFor(error: unknown): StoreErrorCode {
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? '';
    const mapped = BY_SQLSTATE[code];
    if (mapped) return mapped;
    if (code.startsWith('08')) return 'store_unavailable'; // connection_exception class
    // data_exception (a NUL in text or jsonb: 22021, 22P05), integrity_constraint_violation,
    // program_limit_exceeded (an index entry too large): the same write fails the same way.
    if (code.startsWith('22') || code.startsWith('23') || code.startsWith('54'))
      return 'store_rejected';
    return 'store_failed';
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'store_unavailable';
  // Programming errors (bad values, our bugs) are not worth retrying.
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError)
    return 'store_failed';
  // The remaining driver errors carry no code: a connection that ended or timed out while
  // connecting or mid-query. They are connection faults, so retrying later may succeed.
  if (error instanceof Error) return 'store_unavailable';
  return 'store_failed';
}

/** Translates any error from `pg` into a StoreError (StoreErrors pass through). */
export function translatePgError(error: unknown, doing: string): StoreError {
  if (isStoreError(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new StoreError(codeFor(error), `postgres: ${doing} failed: ${detail}`, { cause: error });
}

/** Whether a pooled client that saw this error should be destroyed rather than reused. */
export function isConnectionFault(error: unknown): boolean {
  const code = codeFor(error);
  return code === 'store_unavailable';
}
