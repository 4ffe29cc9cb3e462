/**
 * The package as a user gets it: `npm pack`, installed into a fresh project, used by a strict
 * TypeScript consumer (test/consumer/fixture/, compiled with skipLibCheck: false) as ESM and as
 * CommonJS, then run with node.
 *
 * The install is offline-friendly: everything but the tarball comes from npm's cache
 * (`--prefer-offline`), and better-sqlite3, typescript and @types/node are linked from this
 * repository's node_modules (better-sqlite3 would otherwise compile its native addon, a minute on
 * this machine). If the install fails anyway, the test fails and says why: it never skips.
 *
 * The consumer's programs are plain files in fixture/src: projection.ts (its own projection and
 * the bodies it is fed: edit it when the projection API changes), main.ts (ESM: engine, SQLite,
 * testing helpers), no-driver.ts, require.cts (CommonJS) and postgres.ts. Each asserts with
 * node:assert and prints `consumer ok: <name>`; a new program is one more `node(app, …)` below.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, pgUrl, uniqueName } from '../support/postgres.js';
import { createTempDir, type TempDir } from '../support/temp.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixture', import.meta.url));
const repoModule = (name: string) => join(REPO, 'node_modules', name);

// Only what npm needs to find its config and cache: none of the npm_* variables of an outer
// `npm test`, which would change how the inner npm behaves.
const ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command in `cwd`; a failure reports what was run and everything it printed. */
async function sh(cwd: string, command: string, args: readonly string[]): Promise<Output> {
  try {
    return await run(command, args, { cwd, env: ENV, maxBuffer: 16 << 20, timeout: 90_000 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as Partial<Output>;
    throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd}:\n${stdout}\n${stderr}`, {
      cause: error,
    });
  }
}

/** `npm install` in the consumer project, from the cache when it can. */
async function npmInstall(app: string, packages: readonly string[] = []): Promise<void> {
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'];
  try {
    await sh(app, 'npm', [...args, ...packages]);
  } catch (error) {
    throw new Error(
      `installing the packed tarball into a fresh project failed; its dependencies come from ` +
        `the npm cache or the npm registry, so check that the registry is reachable.\n` +
        String((error as Error).message),
      { cause: error },
    );
  }
}

const node = (app: string, script: string, ...args: string[]) =>
  sh(app, process.execPath, [script, ...args]);

let temp: TempDir;
let app: string;
let packed: string[];
let schema: string | undefined;

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist/src/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (`npm test` does)');
  }
  temp = await createTempDir('truto-state-consumer-');
  // --ignore-scripts: `prepare` would build again; `npm test` has just built.
  const pack = await sh(REPO, 'npm', [
    'pack',
    '--ignore-scripts',
    '--json',
    '--pack-destination',
    temp.dir,
  ]);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack printed no package: ${pack.stdout}`);
  packed = info.files.map((file) => file.path);

  app = temp.path('app');
  cpSync(FIXTURE, app, { recursive: true });
  const manifest = {
    name: 'truto-state-consumer',
    private: true,
    type: 'module',
    dependencies: {
      'truto-state': `file:${temp.path(info.filename)}`,
      'better-sqlite3': `file:${repoModule('better-sqlite3')}`,
      typescript: `file:${repoModule('typescript')}`,
      '@types/node': `file:${repoModule('@types/node')}`,
    },
  };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await npmInstall(app);
}, 120_000);

afterAll(async () => {
  if (schema !== undefined) await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await temp?.cleanup();
});

describe('the packed package', () => {
  it('ships the license, the docs the README links, and the sources its maps point to', () => {
    expect(packed).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((match) => match[1]);
    expect(linked.length).toBeGreaterThan(0);
    expect(packed).toEqual(expect.arrayContaining(linked));
    // Every source and declaration map resolves to a shipped file.
    const maps = packed.filter((path) => path.endsWith('.map'));
    expect(maps.some((path) => path.endsWith('.d.ts.map'))).toBe(true);
    for (const map of maps) {
      const { sources } = JSON.parse(
        readFileSync(join(app, 'node_modules/truto-state', map), 'utf8'),
      ) as { sources: string[] };
      for (const source of sources) {
        const target = join(map, '..', source);
        expect(packed, `${map} -> ${source}`).toContain(target);
      }
    }
    expect(packed.some((path) => path.startsWith('test/'))).toBe(false);
  });

  it('installs no database driver but the SQLite default', () => {
    const installed = (name: string) => existsSync(join(app, 'node_modules', name));
    expect(installed('truto-state')).toBe(true);
    expect(installed('pg')).toBe(false);
    expect(installed('@kurrent/kurrentdb-client')).toBe(false);
    expect(installed('@types/pg')).toBe(false);
    expect(installed('@types/better-sqlite3')).toBe(false);
  });

  it('compiles a strict consumer against its types (skipLibCheck: false)', async () => {
    await sh(app, process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
    expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
    expect(existsSync(join(app, 'dist/require.cjs'))).toBe(true);
  });

  it('loads no driver from the core; a store without its driver says what to install', async () => {
    expect((await node(app, 'dist/no-driver.js')).stdout).toContain('consumer ok: no-driver');
  });

  it('has the CLI name the driver to install for a store that has none', async () => {
    // No server is needed: the driver check comes before any connection.
    const result = sh(app, 'node_modules/.bin/truto-state', [
      'stats',
      '--store',
      'postgres',
      '--pg-url',
      'postgres://127.0.0.1:1/none',
    ]);
    await expect(result).rejects.toThrow(
      "truto-state stats: truto-state/postgres needs the 'pg' package: npm install pg (driver_missing)",
    );
  });

  it('runs the engine, a custom projection, SQLite and the testing helpers (ESM)', async () => {
    expect((await node(app, 'dist/main.js')).stdout).toContain('consumer ok: main');
  });

  it('runs the core through require() (CommonJS)', async () => {
    const { stdout } = await node(app, 'dist/require.cjs');
    expect(readFileSync(join(app, 'dist/require.cjs'), 'utf8')).toContain('require("truto-state")');
    expect(stdout).toContain('consumer ok: require');
  });

  it('runs on PostgreSQL once the user installs pg', async () => {
    await npmInstall(app, ['pg']);
    schema = uniqueName('consumer');
    const { stdout } = await node(app, 'dist/postgres.js', pgUrl(), schema);
    expect(stdout).toContain('consumer ok: postgres');
  });
});
