/**
 * better-sqlite3 errors to StoreError, once, by the driver's `code` (never the message text).
 * SQLite extended codes share their primary code's prefix (`SQLITE_BUSY_SNAPSHOT`,
 * `SQLITE_IOERR_WRITE`), so matching is on the primary part.
 */
import { StoreError, type StoreErrorCode } from '../errors.js';

export function translateSqliteError(error: unknown, doing: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const storeCode = typeof code === 'string' ? codeFor(code) : 'store_failed';
  const detail = error instanceof Error ? error.message : String(error);
  return new StoreError(
    storeCode,
    `${doing}: ${detail}${typeof code === 'string' ? ` (${code})` : ''}`,
    { cause: error },
  );
}

function codeFor(sqliteCode: string): StoreErrorCode {
  const primary = sqliteCode.split('_').slice(0, 2).join('_');
  switch (primary) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'store_busy';
    case 'SQLITE_FULL':
      return 'store_full';
    // The value itself is refused (a constraint, a size limit, a type): deterministic.
    case 'SQLITE_CONSTRAINT':
    case 'SQLITE_TOOBIG':
    case 'SQLITE_MISMATCH':
      return 'store_rejected';
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_NOTADB':
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      return 'store_unavailable';
    default:
      // An out-of-space write can surface as an I/O error on some filesystems.
      return sqliteCode === 'SQLITE_IOERR_WRITE' || sqliteCode === 'SQLITE_IOERR_FSYNC'
        ? 'store_full'
        : 'store_failed';
  }
}
