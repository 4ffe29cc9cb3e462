/**
 * Tests run as root from a checkout under a private folder (mode 700) must still get a real
 * PostgreSQL (item 16): the server runs as the `postgres` user, which cannot reach binaries
 * inside such a checkout. Here the binaries are placed under a mode-700 folder, as a checkout's
 * `node_modules` would be; the harness must notice and start the server anyway.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBinaries, startEmbeddedPostgres } from '../support/embedded-postgres.js';
import { freePort } from '../support/ports.js';

const root = userInfo().uid === 0;

describe.skipIf(!root)(
  'as root, a checkout under a mode-700 folder (only root runs PostgreSQL as another user)',
  () => {
    let home: string;
    let binaries: string;
    beforeAll(async () => {
      home = mkdtempSync(join(tmpdir(), 'truto-state-private-'));
      chmodSync(home, 0o700);
      binaries = join(home, 'checkout', 'node_modules', 'native');
      mkdirSync(join(home, 'checkout', 'node_modules'), { recursive: true });
      cpSync(await defaultBinaries(), binaries, { recursive: true, verbatimSymlinks: true });
    }, 120_000);
    afterAll(() => rmSync(home, { recursive: true, force: true }));

    it('the postgres user cannot run initdb from there (the failure the harness must avoid)', () => {
      const id = (flag: string) =>
        Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout);
      const attempt = spawnSync(join(binaries, 'bin', 'initdb'), ['--version'], {
        uid: id('-u'),
        gid: id('-g'),
        cwd: tmpdir(),
      });
      expect(attempt.error).toMatchObject({ code: 'EACCES' });
    });

    it('starts a working server anyway, and says why it copied the binaries', async () => {
      const notes: string[] = [];
      const server = await startEmbeddedPostgres({
        port: await freePort(),
        password: 'private-checkout',
        binaries,
        note: (text) => void notes.push(text),
      });
      try {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        const { rows } = await client.query<{ answer: number }>('SELECT 6 * 7 AS answer');
        await client.end();
        expect(rows[0]?.answer).toBe(42);
        expect(notes.join('\n')).toContain('not reachable by the "postgres" user');
      } finally {
        await server.stop();
      }
    }, 120_000);
  },
);
