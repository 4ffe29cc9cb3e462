/**
 * The dashboard's routes without a port: the page and its assets (from a built directory made
 * here), the session cookie and what it may authorise, and the overview counts against the
 * list routes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTrutoEngine, type TrutoEngine as Engine } from '../../src/truto/engine.js';
import { createApp, type App } from '../../src/http/app.js';
import { overviewHandler } from '../../src/http/dashboard/overview.js';
import type { BufferedResponse, HttpRequest, HttpResponse } from '../../src/http/types.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import { accountEvent, getRequest, webhookRequest } from './support/webhooks.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'unit-token';

const built = mkdtempSync(join(tmpdir(), 'truto-ui-'));
mkdirSync(join(built, 'assets'));
writeFileSync(
  join(built, 'index.html'),
  '<!doctype html><script type="module" src="/assets/app-1.js"></script>',
);
writeFileSync(join(built, 'assets', 'app-1.js'), 'export {};');
afterAll(() => rmSync(built, { recursive: true, force: true }));

function buffered(response: HttpResponse): BufferedResponse {
  if ('open' in response) throw new Error('expected a buffered response');
  return response;
}
const json = (response: HttpResponse) => JSON.parse(String(buffered(response).body)) as any;

function postSession(body: string, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: 'POST',
    path: '/session',
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/json', host: 'localhost:8080', ...headers },
    body: Buffer.from(body),
  };
}

let engine: Engine;
let app: App;

beforeEach(async () => {
  engine = await createTrutoEngine({ store: createMemoryEventStore(), live: false });
  app = createApp({ engine, secrets: ['s'], logger, apiToken: TOKEN, dashboardDir: built });
});
afterEach(async () => {
  await engine.close();
  await engine.store.close();
});

describe('the page and its assets', () => {
  it('serves the page open, with a CSP without inline script, revalidated by ETag', async () => {
    const page = buffered(await app.handle(getRequest('/')));
    expect(page.status).toBe(200);
    expect(page.headers!['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers!['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.headers!['cache-control']).toBe('no-cache');
    const again = await app.handle(getRequest('/', { 'if-none-match': page.headers!.etag! }));
    expect(again.status).toBe(304);
  });

  it('serves hashed assets as immutable, and 404 for anything else under /assets', async () => {
    const asset = buffered(await app.handle(getRequest('/assets/app-1.js')));
    expect(asset.status).toBe(200);
    expect(asset.headers!['content-type']).toMatch(/^text\/javascript/);
    expect(asset.headers!['cache-control']).toContain('immutable');
    expect((await app.handle(getRequest('/assets/../index.html'))).status).toBe(404);
    expect((await app.handle(getRequest('/assets/nope.js'))).status).toBe(404);
  });

  it('explains itself when the dashboard was not built', async () => {
    const bare = createApp({ engine, secrets: ['s'], logger, dashboardDir: join(built, 'none') });
    const page = buffered(await bare.handle(getRequest('/')));
    expect(page.status).toBe(503);
    expect(String(page.body)).toContain('npm run build');
  });
});

describe('the session', () => {
  it('GET /session says a token is needed, without a 401', async () => {
    const session = await app.handle(getRequest('/session'));
    expect(session.status).toBe(200);
    expect(json(session)).toEqual({ tokenRequired: true, authenticated: false });
  });

  it('a wrong token is refused with a message; the right one sets an HttpOnly SameSite=Strict cookie that is not the token', async () => {
    const wrong = await app.handle(postSession(JSON.stringify({ token: 'nope' })));
    expect(wrong.status).toBe(401);
    expect(json(wrong).message).toMatch(/not the API token/);
    expect(buffered(wrong).headers!['set-cookie']).toBeUndefined();

    const right = buffered(await app.handle(postSession(JSON.stringify({ token: TOKEN }))));
    expect(right.status).toBe(200);
    const cookie = right.headers!['set-cookie']!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    const pair = cookie.split(';')[0]!;

    expect(json(await app.handle(getRequest('/session', { cookie: pair })))).toEqual({
      tokenRequired: true,
      authenticated: true,
    });
    expect((await app.handle(getRequest('/accounts', { cookie: pair }))).status).toBe(200);
    expect((await app.handle(getRequest('/overview', { cookie: pair }))).status).toBe(200);
    expect((await app.handle(getRequest('/accounts', { cookie: `${pair}x` }))).status).toBe(401);
    expect((await app.handle(getRequest('/accounts'))).status).toBe(401);
    expect((await app.handle(getRequest('/overview'))).status).toBe(401);
  });

  it('the cookie never authorises a write: the webhook stays signature-only', async () => {
    const right = buffered(await app.handle(postSession(JSON.stringify({ token: TOKEN }))));
    const pair = right.headers!['set-cookie']!.split(';')[0]!;
    const unsigned = webhookRequest(accountEvent('acc-1'), { signature: null });
    const response = await app.handle({
      ...unsigned,
      headers: { ...unsigned.headers, cookie: pair },
    });
    expect(response.status).toBe(401);
  });

  it('refuses session requests that are not JSON or come from another origin', async () => {
    const form = postSession(`token=${TOKEN}`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect((await app.handle(form)).status).toBe(415);
    const cross = postSession(JSON.stringify({ token: TOKEN }), { origin: 'https://evil.example' });
    expect((await app.handle(cross)).status).toBe(401);
    const same = postSession(JSON.stringify({ token: TOKEN }), { origin: 'http://localhost:8080' });
    expect((await app.handle(same)).status).toBe(200);
  });
});

describe('GET /overview', () => {
  it('counts accounts by status as the status filter lists them, and lists the ones needing attention', async () => {
    const open = createApp({ engine, secrets: ['s'], logger, dashboardDir: built });
    const events = [
      accountEvent('a-1'),
      accountEvent('a-2'),
      accountEvent('a-2', 'integrated_account:active'),
      accountEvent('a-3'),
      accountEvent('a-3', 'integrated_account:authentication_error'),
    ];
    for (const body of events) await engine.ingest(body);
    await engine.catchUp();
    const overview = json(await open.handle(getRequest('/overview')));
    for (const [status, n] of Object.entries(overview.accounts.byStatus)) {
      const listed = json(await open.handle(getRequest(`/accounts?status=${status}`)));
      expect(listed.items.length, status).toBe(n);
    }
    expect(overview.accounts.total).toBe(3);
    expect(overview.accounts.attention.map((a: { id: string }) => a.id)).toEqual(['a-3']);
  });
});

describe('the overview of runs', () => {
  const run = (id: string, event: string, createdAt: string) =>
    JSON.stringify({
      id: `${id}-${event}`,
      event: `sync_job_run:${event}`,
      created_at: createdAt,
      payload: {
        id,
        sync_job_id: 'job-1',
        integrated_account_id: 'acc-1',
        status: event === 'created' ? 'created' : event,
        created_at: createdAt,
      },
    });

  it('counts runs by status overall and for the 24 hours before now', async () => {
    for (const body of [
      run('old', 'created', '2024-09-08T10:00:00.000Z'),
      run('old', 'failed', '2024-09-08T10:05:00.000Z'),
      run('new-1', 'created', '2024-09-10T09:00:00.000Z'),
      run('new-1', 'completed', '2024-09-10T09:05:00.000Z'),
      run('new-2', 'created', '2024-09-10T19:00:00.000Z'),
    ])
      expect((await engine.ingest(body)).status).toBe('stored');
    await engine.catchUp();
    const overview = overviewHandler(engine, () => Date.parse('2024-09-10T20:00:00.000Z'));
    const { runs } = JSON.parse(String((await overview()).body));
    expect(runs.total).toBe(3);
    expect(runs.byStatus).toMatchObject({ failed: 1, completed: 1, created: 1 });
    expect(runs.lastDay).toMatchObject({
      from: '2024-09-09T20:00:00.000Z',
      to: '2024-09-10T20:00:00.000Z',
      byStatus: { failed: 0, completed: 1, created: 1 },
    });
  });
});
