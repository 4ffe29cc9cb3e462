/**
 * Disk full: the database on a small tmpfs. Appends answer 503 with Retry-After (never 2xx) while
 * nothing fits, nothing is corrupted, and once space is freed the same process recovers: resent
 * events are stored once and the state equals a rebuild.
 *
 * Mounting a tmpfs needs root (CI runs as root); elsewhere the test says why it did not run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, runCli, startServe, type Served } from '../http/support/serve.js';
import { accountEvent, SECRET } from '../http/support/webhooks.js';
import { createTempDir, type TempDir } from '../support/temp.js';

let temp: TempDir;
let mount: string;
let mounted = false;
let why = '';

beforeAll(async () => {
  temp = await createTempDir('truto-state-full-');
  mount = temp.path('disk');
  mkdirSync(mount);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount], { stdio: 'pipe' });
    mounted = true;
  } catch (error) {
    why = `cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]}): needs root`;
    console.warn(`[disk-full] NOT RUN: ${why}`);
  }
});

afterAll(async () => {
  if (mounted) execFileSync('umount', ['-l', mount]);
  await temp?.cleanup();
});

describe('a full disk', () => {
  it('answers 503 with Retry-After, never 2xx, and recovers once space is freed', async (context) => {
    if (!mounted) {
      context.skip(why);
      return;
    }
    const db = `${mount}/log.db`;
    let server: Served | undefined;
    try {
      server = await startServe(['--port', '0', '--db', db, '--secret', SECRET]);
      // Fill what is left with a file we can delete later.
      const filler = `${mount}/filler`;
      const free = () =>
        Number(execFileSync('df', ['--output=avail', '-B1', mount]).toString().split('\n')[1]);
      writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 256 * 1024)));
      const stored = new Set<string>();
      const refused: string[] = [];
      const padding = 'x'.repeat(8 * 1024);
      for (let i = 0; i < 200 && refused.length < 5; i++) {
        const body = accountEvent(`acc-${i}`, 'integrated_account:created', {
          id: `full-${i}`,
          payload: { context: { padding } },
        });
        const response = await postWebhook(server.url, body, { secret: SECRET });
        if (response.status === 200) {
          expect(refused, 'no 2xx once the disk is full').toEqual([]);
          stored.add(`full-${i}`);
        } else {
          expect(response.status, JSON.stringify(response.json)).toBe(503);
          expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
          refused.push(body);
        }
      }
      expect(refused.length).toBeGreaterThan(0);

      rmSync(filler);
      for (const body of refused) {
        const response = await postWebhook(server.url, body, { secret: SECRET });
        expect(response.status, JSON.stringify(response.json)).toBe(200);
        stored.add(String(response.json.id));
      }
      // Resending again is a duplicate, not a second copy.
      const again = await postWebhook(server.url, refused[0] as string, { secret: SECRET });
      expect(again.json.status).toBe('duplicate');
      expect(await server.stop()).toBe(0);
      server = undefined;

      const sqlite = new Database(db, { readonly: true });
      expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
      const ids = (sqlite.prepare('SELECT id FROM events').pluck().all() as string[]).sort();
      sqlite.close();
      expect(ids).toEqual([...stored].sort());
      const verified = await runCli(['verify', '--db', db]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    } finally {
      await server?.stop('SIGKILL');
    }
  });
});
