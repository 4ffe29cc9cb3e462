/**
 * `truto-state serve` as a real process on a real SQLite file and port, under the conditions of
 * issue 11: the database file deleted while serving (item 4), another process holding the write
 * lock (item 6), what `/health` tells an unauthenticated caller (items 5 and 14), a foreign Host
 * without a token (item 9), and the cap on change streams (item 10).
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountEvent } from '../http/support/webhooks.js';
import { getJson, postWebhook, startServe, type Served } from '../http/support/serve.js';
import { connectSse } from '../http/support/sse.js';
import { holdWriteLock } from '../support/lock-holder.js';
import { createTempDir, type TempDir } from '../support/temp.js';

const SECRET = 'hardening-secret';

let dir: TempDir;
let served: Served | undefined;
beforeEach(async () => {
  dir = await createTempDir('truto-harden-');
});
afterEach(async () => {
  await served?.stop('SIGKILL');
  served = undefined;
  await dir.cleanup();
});

async function serve(db: string, extra: string[] = []): Promise<Served> {
  served = await startServe(['--port', '0', '--db', db, '--secret', SECRET, ...extra]);
  return served;
}

describe('the database file deleted while serving (item 4)', () => {
  it('answers writes 503 and /health unhealthy, saying what failed but not where', async () => {
    const db = dir.path('doomed.db');
    const { url } = await serve(db);
    const first = accountEvent('acc-del', 'integrated_account:created', { id: 'del-1' });
    expect((await postWebhook(url, first, { secret: SECRET })).status).toBe(200);
    expect((await getJson(url, '/health')).status).toBe(200);

    rmSync(db);
    const second = accountEvent('acc-del', 'integrated_account:active', { id: 'del-2' });
    const refused = await postWebhook(url, second, { secret: SECRET });
    expect(refused.status).toBe(503);
    expect(refused.json.error).toBe('store_unavailable');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);

    const health = await getJson(url, '/health');
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({
      status: 'unavailable',
      store: { kind: 'sqlite', ok: false, error: 'store_unavailable' },
    });
    expect(health.json.store.reason).toContain('deleted');
    // What failed, not where: neither the file nor its folder is named to an anonymous caller.
    expect(JSON.stringify(health.json)).not.toContain(dir.dir);
    expect(JSON.stringify(health.json)).not.toContain('doomed');
  });
});

describe('another process holding the write lock (item 6)', () => {
  it('keeps reads and /health answering while a webhook waits for the lock; then 200', async () => {
    const db = dir.path('busy.db');
    const { url } = await serve(db);
    const seed = accountEvent('acc-busy', 'integrated_account:created', { id: 'busy-0' });
    expect((await postWebhook(url, seed, { secret: SECRET })).status).toBe(200);

    const holder = await holdWriteLock(db);
    let answered = false;
    const webhook = postWebhook(
      url,
      accountEvent('acc-busy', 'integrated_account:active', { id: 'busy-1' }),
      { secret: SECRET },
    ).finally(() => (answered = true));
    try {
      // Sequential reads while the webhook waits: with a synchronous busy wait the first read
      // that arrived during it would be answered only after the webhook's 503, 5 s later.
      for (let i = 0; i < 25; i += 1) {
        const health = await getJson(url, '/health');
        expect(health.status).toBe(200);
        const account = await getJson(url, '/accounts/acc-busy');
        expect(account.status).toBe(200);
        expect(answered).toBe(false);
      }
    } finally {
      await holder.release();
    }
    expect(await webhook).toMatchObject({ status: 200, json: { status: 'stored', id: 'busy-1' } });
  });
});

describe('reads without a token (item 9)', () => {
  it('refuses a foreign Host and forwarded requests over a real socket', async () => {
    const { url } = await serve(dir.path('host.db'));
    const { request } = await import('node:http');
    const get = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${url}/accounts`, { headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get({})).toBe(200);
    expect(await get({ host: 'evil.example' })).toBe(403);
    expect(await get({ 'x-forwarded-for': '203.0.113.7' })).toBe(403);
  });
});

describe('change streams (item 10)', () => {
  it('caps open streams (from the CLI): 503 with Retry-After beyond it, a slot again once one closes', async () => {
    const { url } = await serve(dir.path('streams.db'), ['--max-streams', '2']);
    const first = await connectSse(`${url}/changes`);
    const second = await connectSse(`${url}/changes`);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await connectSse(`${url}/changes`);
    expect(third.status).toBe(503);
    expect(third.response.headers['retry-after']).toMatch(/^\d+$/);
    third.close();
    first.close();
    // The server notices the close on its own schedule: ask again until it has.
    for (;;) {
      const again = await connectSse(`${url}/changes`);
      if (again.status === 200) {
        again.close();
        break;
      }
      expect(again.status).toBe(503);
      again.close();
    }
    second.close();
  });
});
