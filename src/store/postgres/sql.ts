/**
 * Small SQL helpers for the PostgreSQL adapter: identifier quoting, the adapter's connection
 * settings (int8 read as a JS number), and the advisory-lock keys that serialise migrations and
 * change-journal writes per schema (appends take no lock: see event-store.ts).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { fnv1a32 } from '../shared/partition.js';
import { isConnectionFault } from './errors.js';

/** Schema names the adapter accepts: plain lower-case identifiers, so no quoting surprises. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      `invalid PostgreSQL schema name ${JSON.stringify(schema)} (use [a-z_][a-z0-9_]*)`,
    );
  }
  return schema;
}

/**
 * What an advisory lock protects. The two-int form `pg_advisory_xact_lock(purpose, schemaHash)`
 * keeps our keys apart from other users of advisory locks in the same database.
 */
export const LockPurpose = {
  migrate: 0x74730001,
  // 0x74730002 was the append lock (before migration 6): not reused.
  journal: 0x74730003,
  /** One derived group (key 2: a hash of schema, source and group; see projection-store.ts). */
  group: 0x74730004,
  /** Held (session-level) by the one process rebuilding projections of a schema. */
  rebuild: 0x74730005,
} as const;

/** The `(int4, int4)` key of a lock for one schema, as SQL literal arguments. */
export function lockArgs(purpose: number, schema: string): string {
  return `${purpose | 0}, ${fnv1a32(schema) | 0}`;
}

/**
 * Runs `work` in one transaction on a connection of its own from `pool`: committed if it
 * resolves, rolled back if it throws. A connection that failed (isConnectionFault) is dropped,
 * not pooled again.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(isConnectionFault(error) ? true : undefined);
    throw error;
  }
}

/** NOTIFY channel names for one schema (identifiers, at most 63 bytes). */
export function channelName(kind: 'append' | 'changes', schema: string): string {
  return `truto_state_${kind}_${fnv1a32(schema).toString(16)}`;
}

/** int8 (count, bigint columns) as a JS number: positions and counts stay far below 2^53. */
const int8AsNumber = (value: string): number => Number(value);

export const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? int8AsNumber
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface ConnectionSettings {
  readonly connectionString: string;
  readonly applicationName?: string;
  /**
   * The server ends a session that sits idle inside a transaction this long (default 5000 ms).
   * Our transactions send their statements back to back, so only a stalled or cut-off process
   * (SIGSTOP, GC pause, network partition) hits it; until then it would hold back the readers'
   * fence (every reader of the log), its row locks, or a lease row (blocking a takeover).
   */
  readonly idleInTransactionTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

/** Client settings shared by the pool and the LISTEN client. */
export function clientConfig(settings: ConnectionSettings): pg.ClientConfig {
  return {
    connectionString: settings.connectionString,
    application_name: settings.applicationName ?? 'truto-state',
    types: typeParsers,
    keepAlive: true,
    connectionTimeoutMillis: settings.connectTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs ?? 5_000,
  };
}

/**
 * A statement's text, or the same text as a named prepared statement: PostgreSQL parses and plans
 * it once per connection instead of on every call. The hot statements (appends, log and state
 * reads, projection commits) are prepared; under load, parse and plan were about a quarter of
 * PostgreSQL's CPU per request.
 */
export type Statement = string | { readonly name: string; readonly text: string };

/** Statement names by text: only fixed texts are prepared, so this stays small. */
const statementNames = new Map<string, string>();

/**
 * Marks fixed statement texts as prepared, or leaves them plain when `enabled` is false (a
 * pooler in transaction mode that does not track prepared statements, e.g. PgBouncer before 1.21).
 * Never for texts built per call: each distinct text is a statement kept on every connection.
 */
export function preparer(enabled: boolean): (text: string) => Statement {
  if (!enabled) return (text) => text;
  return (text) => {
    let name = statementNames.get(text);
    if (name === undefined) {
      name = `truto_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      statementNames.set(text, name);
    }
    return { name, text };
  };
}

/** The query config node-postgres takes for a statement and its values (a fresh object per call). */
export function queryConfig(statement: Statement, values: unknown[] = []): pg.QueryConfig {
  return typeof statement === 'string'
    ? { text: statement, values }
    : { name: statement.name, text: statement.text, values };
}
