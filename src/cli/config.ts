/**
 * Configuration from argv and env: the only place either is read. Everything below `src/cli/`
 * takes typed options.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';

export type StoreKind = 'sqlite' | 'postgres' | 'kurrentdb' | 'memory';

export interface StoreConfig {
  readonly kind: StoreKind;
  /** SQLite file (the log, or for KurrentDB the local state file). */
  readonly db: string;
  readonly pgUrl?: string;
  /** PostgreSQL: named prepared statements (off behind a pooler that does not track them). */
  readonly pgPreparedStatements?: boolean;
  readonly kurrentdbUrl?: string;
  /**
   * PostgreSQL: how many partitions instances share projection work in (same on all); left out,
   * the count the database already has (1 for a new one).
   */
  readonly partitions?: number;
}

export const DEFAULT_DB = './data/truto-state.db';

/** The options every store-using command accepts. */
export const storeOptions = {
  db: { type: 'string' },
  store: { type: 'string' },
  'pg-url': { type: 'string' },
  'kurrentdb-url': { type: 'string' },
  partitions: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const STORE_USAGE = `Store options:
  --db <path>             SQLite database file (env TRUTO_STATE_DB, default ${DEFAULT_DB})
  --store <kind>          sqlite | postgres | kurrentdb (env TRUTO_STATE_STORE, default sqlite)
  --pg-url <url>          PostgreSQL connection string (env TRUTO_STATE_PG_URL); set
                          TRUTO_STATE_PG_PREPARED_STATEMENTS=off behind a pooler in transaction
                          mode that does not track prepared statements (PgBouncer before 1.21)
  --kurrentdb-url <url>   KurrentDB connection string (env KURRENTDB_URL)
  --partitions <n>        PostgreSQL: partitions of projection work shared by instances
                          (env TRUTO_STATE_PARTITIONS; the same on every instance; default: the
                          count the database already has, 1 for a new one: one instance projects,
                          the others ingest and stand by)`;

type Env = Readonly<Record<string, string | undefined>>;

/** parseArgs with usage errors instead of TypeErrors. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: O,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function readStoreConfig(
  values: {
    db?: string | undefined;
    store?: string | undefined;
    'pg-url'?: string | undefined;
    'kurrentdb-url'?: string | undefined;
    partitions?: string | undefined;
  },
  env: Env,
): StoreConfig {
  const kind = (values.store ?? env.TRUTO_STATE_STORE ?? 'sqlite').toLowerCase();
  if (!isStoreKind(kind)) {
    throw new UsageError(`unknown store "${kind}": use sqlite, postgres or kurrentdb`);
  }
  const pgUrl = values['pg-url'] ?? env.TRUTO_STATE_PG_URL;
  const kurrentdbUrl = values['kurrentdb-url'] ?? env.KURRENTDB_URL;
  if (kind === 'postgres' && !pgUrl) {
    throw new UsageError('--store postgres needs --pg-url or TRUTO_STATE_PG_URL');
  }
  if (kind === 'kurrentdb' && !kurrentdbUrl) {
    throw new UsageError('--store kurrentdb needs --kurrentdb-url or KURRENTDB_URL');
  }
  const prepared = readSwitch(
    'TRUTO_STATE_PG_PREPARED_STATEMENTS',
    env.TRUTO_STATE_PG_PREPARED_STATEMENTS,
  );
  const partitionText = values.partitions ?? env.TRUTO_STATE_PARTITIONS;
  const partitions = partitionText === undefined ? undefined : Number(partitionText);
  if (
    partitions !== undefined &&
    (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 1024)
  ) {
    throw new UsageError(
      `--partitions must be a whole number from 1 to 1024, got "${partitionText}"`,
    );
  }
  return {
    kind,
    ...(partitions === undefined ? {} : { partitions }),
    db: values.db ?? env.TRUTO_STATE_DB ?? DEFAULT_DB,
    ...(pgUrl ? { pgUrl } : {}),
    ...(prepared === undefined ? {} : { pgPreparedStatements: prepared }),
    ...(kurrentdbUrl ? { kurrentdbUrl } : {}),
  };
}

/** An on/off environment setting; undefined when unset. */
function readSwitch(name: string, text: string | undefined): boolean | undefined {
  if (text === undefined || text === '') return undefined;
  const value = text.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(value)) return true;
  if (['off', 'false', '0', 'no'].includes(value)) return false;
  throw new UsageError(`${name} must be on or off, got "${text}"`);
}

function isStoreKind(kind: string): kind is StoreKind {
  return kind === 'sqlite' || kind === 'postgres' || kind === 'kurrentdb' || kind === 'memory';
}
