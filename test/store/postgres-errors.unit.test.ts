/** Driver faults become StoreError codes by SQLSTATE or system error code, never by message. */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/errors.js';
import { translatePgError } from '../../src/store/postgres/errors.js';

function dbError(
  code: string,
  message = 'whatever the server says, in any language',
): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

function systemError(code: string): Error {
  return Object.assign(new Error('connect failed'), { code });
}

describe('translatePgError', () => {
  it.each([
    ['53100', 'store_full'],
    ['55P03', 'store_busy'],
    ['40001', 'store_busy'],
    ['40P01', 'store_busy'],
    ['57014', 'store_busy'],
    ['53300', 'store_busy'],
    ['08006', 'store_unavailable'],
    ['08001', 'store_unavailable'],
    ['57P01', 'store_unavailable'],
    ['57P03', 'store_unavailable'],
    ['23505', 'store_rejected'],
    ['42P01', 'store_failed'],
    ['22P05', 'store_rejected'],
    ['22021', 'store_rejected'],
    ['54000', 'store_rejected'],
  ])('SQLSTATE %s -> %s', (sqlstate, code) => {
    const translated = translatePgError(dbError(sqlstate), 'appending');
    expect(translated).toBeInstanceOf(StoreError);
    expect(translated.code).toBe(code);
    expect(translated.cause).toBeInstanceOf(pg.DatabaseError);
  });

  it('does not read the message: the same text under another code maps by code', () => {
    expect(
      translatePgError(dbError('23505', 'could not extend file: No space left on device'), 'x')
        .code,
    ).toBe('store_rejected');
    expect(translatePgError(dbError('53100', 'duplicate key'), 'x').code).toBe('store_full');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT'])(
    'system error %s -> store_unavailable',
    (code) => {
      expect(translatePgError(systemError(code), 'connecting').code).toBe('store_unavailable');
    },
  );

  it('programming errors are not retryable; StoreErrors pass through unchanged', () => {
    expect(translatePgError(new TypeError('bad value'), 'x').retryable).toBe(false);
    const original = new StoreError('store_closed', 'closed');
    expect(translatePgError(original, 'x')).toBe(original);
  });
});
