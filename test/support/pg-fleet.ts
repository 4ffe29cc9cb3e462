/**
 * `serve` processes on one fresh PostgreSQL database, for the scale-out end-to-end tests: the
 * database and a temp dir are made before the file's tests and removed after them (instances
 * SIGKILLed), and the shared store's dumps can be compared with a single SQLite instance's.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import { cleanEnv, runCli, startServe, type Served } from '../http/support/serve.js';
import { createTestDatabase } from './postgres.js';
import { createTempDir, type TempDir } from './temp.js';

export const TRUTO_PROJECTIONS = ['accounts', 'runs', 'account-sync', 'records'] as const;

export interface PgServeFleet {
  readonly servers: Served[];
  readonly databaseUrl: string;
  readonly temp: TempDir;
  /** The store options every instance and CLI run shares. */
  pgArgs(): string[];
  /** Starts `count` instances (appended to `servers`). */
  start(count: number): Promise<void>;
  /** Every projection's `dump` on the shared store equals a single SQLite instance fed `bodies`. */
  expectSameAsSingleInstance(bodies: readonly string[]): Promise<void>;
}

/** `partitions`: the count every instance is started with; left out, the database's default. */
export function usePgServeFleet(name: string, secret: string, partitions?: number): PgServeFleet {
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let temp: TempDir | undefined;
  const servers: Served[] = [];
  beforeAll(async () => {
    database = await createTestDatabase(`truto_${name}`);
    temp = await createTempDir(`truto-state-${name}-`);
  });
  afterAll(async () => {
    for (const server of servers) await server.stop('SIGKILL');
    await database?.drop();
    await temp?.cleanup();
  });
  const fleet: PgServeFleet = {
    servers,
    get databaseUrl() {
      if (!database) throw new Error('the fleet database is made in beforeAll');
      return database.url;
    },
    get temp() {
      if (!temp) throw new Error('the fleet temp dir is made in beforeAll');
      return temp;
    },
    pgArgs: () => [
      ...['--store', 'postgres', '--pg-url', fleet.databaseUrl],
      ...(partitions === undefined ? [] : ['--partitions', String(partitions)]),
    ],
    async start(count) {
      for (let i = 0; i < count; i++) {
        servers.push(
          await startServe(['--port', '0', '--secret', secret, ...fleet.pgArgs()], {
            env: cleanEnv({ LOG_LEVEL: 'warn' }),
          }),
        );
      }
    },
    async expectSameAsSingleInstance(bodies) {
      const unique = [
        ...new Map(bodies.map((b) => [(JSON.parse(b) as { id: string }).id, b])).values(),
      ];
      const file = fleet.temp.path('events.ndjson');
      await writeFile(file, `${unique.join('\n')}\n`);
      const db = fleet.temp.path('single.db');
      expect((await runCli(['import', file, '--db', db])).code).toBe(0);
      for (const projection of TRUTO_PROJECTIONS) {
        // `dump` joins the instances, waits for every partition to reach the head, then prints.
        const shared = await runCli(['dump', projection, ...fleet.pgArgs()], { env: cleanEnv() });
        expect(shared.code, shared.stderr).toBe(0);
        const single = await runCli(['dump', projection, '--db', db]);
        expect(single.code, single.stderr).toBe(0);
        expect(shared.stdout.split('\n').length).toBeGreaterThan(2);
        expect(shared.stdout, projection).toBe(single.stdout);
      }
    },
  };
  return fleet;
}
