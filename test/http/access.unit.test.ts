/**
 * Without an API token, reads are for direct loopback requests only (item 9): a foreign `Host`
 * (DNS rebinding from a browser) or a proxy's headers are refused; with a token, the token
 * decides, from anywhere. The webhook (signed) and `/health` (open) are not affected.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrutoEngine, type TrutoEngine as Engine } from '../../src/truto/engine.js';
import { createApp, type App } from '../../src/http/app.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import { accountEvent, getRequest, SECRET, webhookRequest } from './support/webhooks.js';

const logger = pino({ level: 'silent' });
let engine: Engine;
let open: App;
let guarded: App;
beforeAll(async () => {
  engine = await createTrutoEngine({ store: createMemoryEventStore(), live: false });
  open = createApp({ engine, secrets: [SECRET], logger });
  guarded = createApp({ engine, secrets: [SECRET], logger, apiToken: 'tok' });
});
afterAll(async () => {
  await engine.close();
  await engine.store.close();
});

const READS = ['/accounts', '/runs', '/records', '/stats', '/metrics', '/accounts/x'];

describe('without a token', () => {
  it('serves loopback Host names (and requests without Host)', async () => {
    for (const host of [
      undefined,
      'localhost',
      'localhost:8080',
      '127.0.0.1',
      '127.0.0.1:8080',
      '127.1.2.3:9',
      '[::1]:8080',
      '[::1]',
    ]) {
      for (const path of ['/accounts', '/stats']) {
        const headers: Record<string, string> = host === undefined ? {} : { host };
        expect((await open.handle(getRequest(path, headers))).status, `${host} ${path}`).toBe(200);
      }
    }
  });

  it('refuses any other Host with 403, on every read route', async () => {
    const name = fc.domain().filter((d) => d !== 'localhost');
    await fc.assert(
      fc.asyncProperty(
        name,
        fc.option(fc.integer({ min: 1, max: 65535 })),
        fc.constantFrom(...READS),
        async (host, port, path) => {
          const value = port === null ? host : `${host}:${port}`;
          const response = await open.handle(getRequest(path, { host: value }));
          expect(response.status).toBe(403);
        },
      ),
      { numRuns: 50 },
    );
    for (const host of [
      'evil.example',
      'evil.example:8080',
      '10.0.0.1',
      '[::2]:80',
      'localhost.evil',
      '127.0.0.1.evil',
    ]) {
      expect((await open.handle(getRequest('/accounts', { host }))).status, host).toBe(403);
    }
  });

  it('refuses requests a proxy forwarded, even to a loopback Host', async () => {
    for (const name of [
      'forwarded',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
    ]) {
      const response = await open.handle(
        getRequest('/accounts', { host: '127.0.0.1:8080', [name]: 'for=203.0.113.7' }),
      );
      expect(response.status, name).toBe(403);
      expect(String((response as { body?: unknown }).body)).toContain('api-token');
    }
  });

  it("guards the dashboard's data the same way (its page holds none)", async () => {
    expect((await open.handle(getRequest('/overview', { host: '127.0.0.1:8080' }))).status).toBe(
      200,
    );
    expect((await open.handle(getRequest('/overview', { host: 'evil.example' }))).status).not.toBe(
      200,
    );
    const session = await open.handle(getRequest('/session', { host: 'evil.example' }));
    expect(String((session as { body?: unknown }).body)).toContain('"authenticated":false');
  });

  it('leaves /health and the signed webhook alone', async () => {
    const foreign = { host: 'evil.example', 'x-forwarded-for': '203.0.113.7' };
    expect((await open.handle(getRequest('/health', foreign))).status).toBe(200);
    const webhook = webhookRequest(accountEvent('acc-proxy'));
    const viaProxy = { ...webhook, headers: { ...webhook.headers, ...foreign } };
    expect((await open.handle(viaProxy)).status).toBe(200);
  });
});

describe('with a token', () => {
  it('lets the token decide, behind a proxy and for any Host', async () => {
    const proxied = { host: 'state.example.com', 'x-forwarded-for': '203.0.113.7' };
    expect((await guarded.handle(getRequest('/accounts', proxied))).status).toBe(401);
    const withToken = { ...proxied, authorization: 'Bearer tok' };
    expect((await guarded.handle(getRequest('/accounts', withToken))).status).toBe(200);
  });
});
