/**
 * Small SQL helpers for the PostgreSQL adapter: identifier quoting, the adapter's connection
 * settings (int8 read as a JS number), and the advisory-lock keys that serialise migrations and
 * change-journal writes per schema (appends take no lock: see event-store.ts).
 */
import pg from 'pg';
import { fnv1a32 } from './partition.js';

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
