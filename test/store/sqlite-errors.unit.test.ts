/** Driver errors become StoreErrors by their SQLite code, never by message text. */
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/errors.js';
import { translateSqliteError } from '../../src/store/sqlite/errors.js';

const driverError = (code: string, message = 'whatever the driver says') =>
  Object.assign(new Error(message), { code });

describe('translateSqliteError', () => {
  it.each([
    ['SQLITE_BUSY', 'store_busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'store_busy'],
    ['SQLITE_LOCKED', 'store_busy'],
    ['SQLITE_LOCKED_SHAREDCACHE', 'store_busy'],
    ['SQLITE_FULL', 'store_full'],
    ['SQLITE_IOERR_WRITE', 'store_full'],
    ['SQLITE_CANTOPEN', 'store_unavailable'],
    ['SQLITE_READONLY_DBMOVED', 'store_unavailable'],
    ['SQLITE_CORRUPT', 'store_failed'],
    ['SQLITE_CONSTRAINT_UNIQUE', 'store_rejected'],
    ['SQLITE_CONSTRAINT_TRIGGER', 'store_rejected'],
    ['SQLITE_TOOBIG', 'store_rejected'],
  ])('%s -> %s', (code, expected) => {
    const translated = translateSqliteError(driverError(code), 'appending');
    expect(translated).toBeInstanceOf(StoreError);
    expect(translated.code).toBe(expected);
    expect(translated.cause).toBeInstanceOf(Error);
  });

  it('ignores the message text', () => {
    expect(
      translateSqliteError(driverError('SQLITE_CORRUPT', 'database is locked'), 'x').code,
    ).toBe('store_failed');
    expect(translateSqliteError(new Error('SQLITE_BUSY: database is locked'), 'x').code).toBe(
      'store_failed',
    );
  });

  it('passes StoreErrors through', () => {
    const original = new StoreError('store_closed', 'closed');
    expect(translateSqliteError(original, 'x')).toBe(original);
  });
});
