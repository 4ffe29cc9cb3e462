/**
 * A store subpath whose driver is not installed fails with one clear `driver_missing` error
 * naming the package; an installed driver loads. (The packed-package test checks the same
 * through the real subpaths, in a project where pg and the KurrentDB client are absent.)
 */
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/store/errors.js';
import { assertDriverInstalled, requireDriver } from '../../src/store/shared/driver.js';

// A package name that no registry holds (npm names cannot start with a dot).
const ABSENT = '.no-such-driver';

describe('store drivers', () => {
  it('names the missing package and how to install it', () => {
    let caught: unknown;
    try {
      assertDriverInstalled('truto-state/example', ABSENT);
    } catch (error) {
      caught = error;
    }
    expect(isStoreError(caught) && caught.code).toBe('driver_missing');
    expect((caught as Error).message).toBe(
      `truto-state/example needs the '${ABSENT}' package: npm install ${ABSENT}`,
    );
    expect(isStoreError(caught) && caught.retryable).toBe(false);
  });

  it('loads an installed driver', () => {
    expect(() => assertDriverInstalled('truto-state/postgres', 'pg')).not.toThrow();
    const sqlite = requireDriver<new (path: string) => { close(): void }>(
      'truto-state/sqlite',
      'better-sqlite3',
    );
    const db = new sqlite(':memory:');
    db.close();
  });
});
