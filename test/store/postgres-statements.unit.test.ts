/**
 * Prepared statements on PostgreSQL: fixed texts get stable, distinct names (a name reused for
 * another text would make node-postgres refuse the query), and switching them off leaves plain
 * text, which poolers in transaction mode need. The store contract runs both ways in
 * postgres.int.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readStoreConfig } from '../../src/cli/config.js';
import { preparer, queryConfig } from '../../src/store/postgres/sql.js';

describe('preparer', () => {
  it('names each text once, the same name every time, a different name per text', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 2 }), (texts) => {
        const prepare = preparer(true);
        const names = texts.map((text) => prepare(text));
        for (const [i, statement] of names.entries()) {
          expect(statement).toEqual({ name: expect.any(String), text: texts[i] });
          expect(preparer(true)(texts[i] as string)).toEqual(statement);
        }
        const distinct = new Set(names.map((n) => (typeof n === 'string' ? n : n.name)));
        expect(distinct.size).toBe(texts.length);
      }),
    );
  });

  it('gives names PostgreSQL keeps whole (identifiers are cut at 63 bytes)', () => {
    const statement = preparer(true)(`SELECT ${'x, '.repeat(500)}1`);
    expect(typeof statement).toBe('object');
    if (typeof statement === 'object') expect(Buffer.byteLength(statement.name)).toBeLessThan(64);
  });

  it('leaves the text plain when switched off', () => {
    expect(preparer(false)('SELECT 1')).toBe('SELECT 1');
  });

  it('builds a fresh query config per call (node-postgres writes values into the object)', () => {
    const statement = preparer(true)('SELECT $1::int');
    const a = queryConfig(statement, [1]);
    const b = queryConfig(statement, [2]);
    expect(a).not.toBe(b);
    expect(a).toMatchObject({ text: 'SELECT $1::int', values: [1] });
    expect(b).toMatchObject({ text: 'SELECT $1::int', values: [2] });
    expect(a.name).toBe(b.name);
    expect(queryConfig('SELECT 1')).toEqual({ text: 'SELECT 1', values: [] });
  });
});

describe('TRUTO_STATE_PG_PREPARED_STATEMENTS', () => {
  const read = (value: string | undefined) =>
    readStoreConfig(
      { store: 'postgres', 'pg-url': 'postgres://h/db' },
      { TRUTO_STATE_PG_PREPARED_STATEMENTS: value },
    ).pgPreparedStatements;

  it('is left to the store default when unset, and read as on or off', () => {
    expect(read(undefined)).toBeUndefined();
    expect(read('')).toBeUndefined();
    for (const on of ['on', 'true', '1', 'YES']) expect(read(on)).toBe(true);
    for (const off of ['off', 'false', '0', 'No ']) expect(read(off)).toBe(false);
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => read('maybe')).toThrow(/TRUTO_STATE_PG_PREPARED_STATEMENTS must be on or off/);
  });
});
