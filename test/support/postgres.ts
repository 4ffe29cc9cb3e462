/**
 * PostgreSQL for tests: the server URL from the globalSetup (`postgres-global-setup.ts`), a
 * fresh schema per store (cheap, so contract suites can open one per test and test files run in
 * parallel on one server), and a fresh database for code that uses the default schema (the CLI).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import {
  createPostgresEventStore,
  type PostgresEventStore,
  type PostgresStoreOptions,
} from '../../src/store/postgres/index.js';

/** The server every PostgreSQL test uses. */
export function pgUrl(): string {
  return inject('pgUrl');
}

/** A unique lower-case identifier with a readable prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Runs one statement on the server (as the admin URL's user), on a short-lived connection. */
export async function adminQuery(
  sql: string,
  values: unknown[] = [],
  url = pgUrl(),
): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** Opens a store on a schema of its own; cleanup closes it and drops the schema. */
export async function openFreshPostgresStore(
  options: Partial<PostgresStoreOptions> = {},
): Promise<{ store: PostgresEventStore; schema: string; cleanup: () => Promise<void> }> {
  const schema = options.schema ?? uniqueName('t');
  const store = await createPostgresEventStore({
    connectionString: pgUrl(),
    poolSize: 4,
    ...options,
    schema,
  });
  return {
    store,
    schema,
    cleanup: async () => {
      await store.close();
      await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

/** A new, empty database on the server; `drop` removes it (closing leftover connections). */
export async function createTestDatabase(
  prefix = 'truto_test',
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = uniqueName(prefix);
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(pgUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/**
 * Polls `condition` until it holds (for states only the database can tell, such as "this
 * backend is waiting on a lock"; there is no event to await for those). Fails after `timeoutMs`.
 */
export async function waitUntil(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Backends of `applicationName` currently waiting on a lock (advisory locks included). */
export async function lockWaiters(applicationName: string): Promise<number[]> {
  const { rows } = await adminQuery(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
    [applicationName],
  );
  return rows.map((r: { pid: number }) => r.pid);
}

/**
 * SQL that makes an insert wait on advisory lock `lockKey` (held by the test) when its event id,
 * or with `changes` a journalled change's projection, starts with "held": how the gap tests hold
 * a transaction open after it has numbered its rows, to force a late commit. BEFORE the row, not
 * AFTER: AFTER row triggers run at the end of the statement, when a one-statement append already
 * holds its counter rows, and the hold would then also stop every append sharing that shard.
 */
export function holdInsertsSql(
  schema: string,
  lockKey: number,
  options: { readonly changes?: boolean } = {},
): string {
  const hold = (name: string, table: string, column: string) => `
    CREATE FUNCTION "${schema}".${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.${column} LIKE 'held%' THEN PERFORM pg_advisory_xact_lock_shared(${lockKey}); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER hold BEFORE INSERT ON "${schema}".${table} FOR EACH ROW EXECUTE FUNCTION "${schema}".${name}();`;
  return (
    hold('hold_event', 'events', 'id') +
    (options.changes ? hold('hold_change', 'changes', 'projection') : '')
  );
}
