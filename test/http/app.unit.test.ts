/**
 * The service without a port: the framework-free app over a real engine on the in-memory store.
 * Every webhook status and the read API's routing, filters, pagination and access rules.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import type { TrutoEngine as Engine } from '../../src/truto/engine.js';
import { createApp, type App } from '../../src/http/app.js';
import { signBody } from '../../src/http/signature.js';
import type { BufferedResponse, HttpResponse } from '../../src/http/types.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import { accountEvent, getRequest, SECRET, webhookRequest } from './support/webhooks.js';

const logger = pino({ level: 'silent' });

function buffered(response: HttpResponse): BufferedResponse {
  if ('open' in response) throw new Error('expected a buffered response');
  return response;
}
function bodyOf(response: HttpResponse): Record<string, unknown> {
  return JSON.parse(String(buffered(response).body)) as Record<string, unknown>;
}

let engine: Engine;
let app: App;

beforeEach(async () => {
  engine = await createTrutoEngine({ store: createMemoryEventStore(), live: false });
  app = createApp({ engine, secrets: ['old-secret', SECRET], logger, maxBody: 4096 });
});
afterEach(async () => {
  await engine.close();
  await engine.store.close();
});

describe('POST /webhooks/truto', () => {
  it('200 stored, then 200 duplicate for the same bytes, then 200 conflict for other bytes', async () => {
    const body = accountEvent('acc-1', 'integrated_account:created', { id: 'e-1' });
    const first = await app.handle(webhookRequest(body));
    expect(first.status).toBe(200);
    expect(bodyOf(first)).toEqual({ status: 'stored', id: 'e-1', position: 1, projected: true });
    const again = await app.handle(webhookRequest(body));
    expect(again.status).toBe(200);
    expect(bodyOf(again)).toMatchObject({ status: 'duplicate', id: 'e-1', position: 1 });
    const other = accountEvent('acc-1', 'integrated_account:active', { id: 'e-1' });
    const conflict = await app.handle(webhookRequest(other));
    expect(conflict.status).toBe(200);
    expect(bodyOf(conflict)).toMatchObject({ status: 'conflict', id: 'e-1' });
    const stats = await engine.store.stats();
    expect(stats).toMatchObject({ events: 1, duplicates: 1, conflicts: 1 });
  });

  it('200 for an authentic unknown event or an invalid payload: stored, not projected, with the reason', async () => {
    const unknown = JSON.stringify({
      id: 'u-1',
      event: 'brand_new:thing',
      created_at: '2024-09-10 12:00:00',
      payload: { x: 1 },
    });
    const response = await app.handle(webhookRequest(unknown));
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({
      status: 'stored',
      id: 'u-1',
      position: 1,
      projected: false,
      reason: 'unknown_type',
    });
    const invalid = JSON.stringify({
      id: 'i-1',
      event: 'integrated_account:active',
      created_at: '2024-09-10 12:00:00',
      payload: { status: 'active' },
    });
    const invalidResponse = await app.handle(webhookRequest(invalid));
    expect(invalidResponse.status).toBe(200);
    expect(bodyOf(invalidResponse)).toMatchObject({
      status: 'stored',
      projected: false,
      reason: 'invalid_payload',
    });
    expect((await engine.store.stats()).events).toBe(2);
  });

  it('accepts a charset on application/json and any configured secret (rotation), hex or base64', async () => {
    const body = accountEvent('acc-2');
    const request = webhookRequest(body, {
      secret: 'old-secret',
      contentType: 'application/json; charset=utf-8',
    });
    expect((await app.handle(request)).status).toBe(200);
    const signedForAnother = webhookRequest(accountEvent('acc-2'), {
      signature: signBody(accountEvent('acc-2'), SECRET),
    });
    expect((await app.handle(signedForAnother)).status).toBe(401);
    const body2 = accountEvent('acc-3');
    expect(
      (await app.handle(webhookRequest(body2, { signature: signBody(body2, SECRET, 'base64') })))
        .status,
    ).toBe(200);
  });

  it('415 without application/json', async () => {
    for (const contentType of [
      null,
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/jsonx',
    ]) {
      const response = await app.handle(webhookRequest(accountEvent('acc-1'), { contentType }));
      expect(response.status, String(contentType)).toBe(415);
      expect(bodyOf(response).error).toBe('unsupported_media_type');
    }
    expect((await engine.store.stats()).events).toBe(0);
  });

  it('413 over the limit, declared or not', async () => {
    const big = JSON.stringify({
      id: 'b',
      event: 'test',
      created_at: '2024-09-10 12:00:00',
      payload: { pad: 'x'.repeat(5000) },
    });
    const declared = webhookRequest(big);
    const withLength = {
      ...declared,
      headers: { ...declared.headers, 'content-length': String(Buffer.byteLength(big)) },
    };
    expect(app.prepare({ ...withLength, body: undefined as never }).kind).toBe('respond');
    expect((await app.handle(withLength)).status).toBe(413);
    const undeclared = await app.handle(webhookRequest(big));
    expect(undeclared.status).toBe(413);
    expect(bodyOf(undeclared).error).toBe('payload_too_large');
    expect((await engine.store.stats()).events).toBe(0);
  });

  it('401 for a missing, empty, invalid or re-serialised signature; nothing stored', async () => {
    const body = accountEvent('acc-1');
    const signature = signBody(body, SECRET);
    const reserialised = JSON.stringify(JSON.parse(body), null, 2);
    const cases = [
      webhookRequest(body, { signature: null }),
      webhookRequest(body, { signature: '' }),
      webhookRequest(body, { signature: 'format=sha256,v=' }),
      webhookRequest(body, { signature: signature.slice(0, -2) }),
      webhookRequest(body, { secret: 'not-configured' }),
      webhookRequest(reserialised, { signature }),
    ];
    for (const request of cases) {
      const response = await app.handle(request);
      expect(response.status).toBe(401);
      expect(['missing_signature', 'invalid_signature']).toContain(bodyOf(response).error);
    }
    expect((await engine.store.stats()).events).toBe(0);
  });

  it('400 naming the problem for an authentic but unusable body, which is kept aside', async () => {
    const cases: [string, string][] = [
      ['{"id": "x", "event":', 'invalid_json'],
      ['[1,2]', 'not_an_object'],
      ['{"event":"integrated_account:created","created_at":"2024-09-10 12:00:00"}', 'missing_id'],
      ['{"id":"x","created_at":"2024-09-10 12:00:00"}', 'missing_event'],
      ['{"id":"x","event":"integrated_account:created"}', 'missing_created_at'],
      [
        '{"id":"x","event":"integrated_account:created","created_at":"yesterday"}',
        'invalid_created_at',
      ],
    ];
    for (const [body, code] of cases) {
      const response = await app.handle(webhookRequest(body));
      expect(response.status, code).toBe(400);
      expect(bodyOf(response)).toMatchObject({ error: code });
      expect(String(bodyOf(response).message).length).toBeGreaterThan(0);
    }
    const stats = await engine.store.stats();
    expect(stats.events).toBe(0);
    expect(stats.rejects).toBe(cases.length);
  });

  it('503 with Retry-After when the store cannot take the write (closed)', async () => {
    await engine.store.close();
    const response = buffered(await app.handle(webhookRequest(accountEvent('acc-1'))));
    expect(response.status).toBe(503);
    expect(response.headers?.['retry-after']).toMatch(/^\d+$/);
  });

  it('405 for other methods', async () => {
    const response = await app.handle({ ...getRequest('/webhooks/truto') });
    expect(response.status).toBe(405);
  });
});

describe('read API', () => {
  async function seed(): Promise<void> {
    const bodies = [
      accountEvent('acc-a', 'integrated_account:created', { payload: { tenant_id: 't1' } }),
      accountEvent('acc-b', 'integrated_account:created', {
        payload: { tenant_id: 't2', integration: { name: 'hubspot' } },
      }),
      accountEvent('acc-c', 'integrated_account:created', { payload: { tenant_id: 't1' } }),
    ];
    for (const b of bodies) expect((await app.handle(webhookRequest(b))).status).toBe(200);
    const active = accountEvent('acc-a', 'integrated_account:active', {
      createdAt: '2024-09-11T00:00:00.000Z',
      payload: { tenant_id: 't1', status: 'active' },
    });
    expect((await app.handle(webhookRequest(active))).status).toBe(200);
    await engine.catchUp();
  }

  it('lists accounts with filters and pagination', async () => {
    await seed();
    const all = bodyOf(await app.handle(getRequest('/accounts')));
    expect((all.items as { id: string }[]).map((a) => a.id)).toEqual(['acc-a', 'acc-b', 'acc-c']);
    expect(all.next).toBeNull();
    const byTenant = bodyOf(await app.handle(getRequest('/accounts?tenant=t1')));
    expect((byTenant.items as { id: string }[]).map((a) => a.id)).toEqual(['acc-a', 'acc-c']);
    const usable = bodyOf(await app.handle(getRequest('/accounts?usable=true')));
    expect((usable.items as { id: string }[]).map((a) => a.id)).toEqual(['acc-a']);
    const hubspot = bodyOf(
      await app.handle(getRequest('/accounts?integration=hubspot&status=connecting')),
    );
    expect((hubspot.items as { id: string }[]).map((a) => a.id)).toEqual(['acc-b']);
    const page1 = bodyOf(await app.handle(getRequest('/accounts?limit=2')));
    expect((page1.items as unknown[]).length).toBe(2);
    expect(page1.next).toBe('acc-b');
    const page2 = bodyOf(await app.handle(getRequest('/accounts?limit=2&after=acc-b')));
    expect((page2.items as { id: string }[]).map((a) => a.id)).toEqual(['acc-c']);
    expect(page2.next).toBeNull();
    for (const bad of [
      '/accounts?limit=0',
      '/accounts?limit=x',
      '/accounts?usable=maybe',
      '/accounts?status=a&status=b',
    ]) {
      expect((await app.handle(getRequest(bad))).status, bad).toBe(400);
    }
  });

  it('gets one account, 404 when unknown, and travels in time', async () => {
    await seed();
    const now = bodyOf(await app.handle(getRequest('/accounts/acc-a')));
    expect(now).toMatchObject({ id: 'acc-a', status: 'active', usable: true });
    expect((await app.handle(getRequest('/accounts/nope'))).status).toBe(404);
    const before = await app.handle(getRequest('/accounts/acc-a?at=2024-09-10T23:59:59.000Z'));
    expect(before.status).toBe(200);
    expect(bodyOf(before)).toMatchObject({ id: 'acc-a', status: 'connecting' });
    const epoch = await app.handle(getRequest(`/accounts/acc-a?at=${Date.UTC(2024, 8, 11)}`));
    expect(bodyOf(epoch)).toMatchObject({ status: 'active' });
    expect((await app.handle(getRequest('/accounts/acc-a?at=2020-01-01'))).status).toBe(404);
    expect((await app.handle(getRequest('/accounts/acc-a?at=soon'))).status).toBe(400);
  });

  it('needs the bearer token when one is set; /health stays open', async () => {
    const guarded = createApp({ engine, secrets: [SECRET], logger, apiToken: 'tok-123' });
    for (const path of [
      '/accounts',
      '/accounts/x',
      '/runs',
      '/records',
      '/stats',
      '/metrics',
      '/changes',
    ]) {
      const denied = await guarded.handle(getRequest(path));
      expect(denied.status, path).toBe(401);
      const wrong = await guarded.handle(getRequest(path, { authorization: 'Bearer tok-124' }));
      expect(wrong.status, path).toBe(401);
    }
    expect(
      (await guarded.handle(getRequest('/accounts', { authorization: 'Bearer tok-123' }))).status,
    ).toBe(200);
    expect((await guarded.handle(getRequest('/health'))).status).toBe(200);
    // The webhook is authenticated by its signature, not the token.
    expect((await guarded.handle(webhookRequest(accountEvent('acc-z')))).status).toBe(200);
  });

  it('404 for unknown routes, 405 for wrong methods, 400 for bad percent-encoding', async () => {
    expect((await app.handle(getRequest('/nope'))).status).toBe(404);
    expect((await app.handle({ ...getRequest('/accounts'), method: 'DELETE' })).status).toBe(405);
    expect((await app.handle(getRequest('/accounts/%E0%A4%A'))).status).toBe(400);
  });

  it('serves runs, account-sync, records, stats and health', async () => {
    await seed();
    expect(bodyOf(await app.handle(getRequest('/runs?account=acc-a')))).toEqual({
      items: [],
      next: null,
    });
    expect((await app.handle(getRequest('/runs/r-1'))).status).toBe(404);
    expect((await app.handle(getRequest('/account-sync/acc-a'))).status).toBe(404);
    expect(bodyOf(await app.handle(getRequest('/records?account=acc-a')))).toEqual({
      items: [],
      next: null,
    });
    const stats = bodyOf(await app.handle(getRequest('/stats')));
    expect(stats).toMatchObject({ head: 4, store: { events: 4 } });
    const health = bodyOf(await app.handle(getRequest('/health')));
    expect(health).toEqual({ status: 'ok', store: { ok: true, kind: 'memory' } });
    expect(stats.projections).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'accounts', lag: 0 })]),
    );
  });

  it('serves a run, its account sync health and record counts (keys with a slash)', async () => {
    const run = (event: string, status: string, at: string) =>
      JSON.stringify({
        id: `run-evt-${event}`,
        event,
        created_at: at,
        payload: { id: 'run-1', sync_job_id: 'job-1', integrated_account_id: 'acc-r', status },
      });
    const record = JSON.stringify({
      id: 'rec-evt-1',
      event: 'record:created',
      created_at: '2024-09-10T12:05:00Z',
      payload: { id: 'contact-1', integrated_account_id: 'acc-r', resource: 'crm/contacts' },
    });
    for (const body of [
      run('sync_job_run:created', 'created', '2024-09-10T12:00:00Z'),
      run('sync_job_run:started', 'running', '2024-09-10T12:00:01Z'),
      run('sync_job_run:completed', 'completed', '2024-09-10T12:10:00Z'),
      record,
    ]) {
      expect((await app.handle(webhookRequest(body))).status).toBe(200);
    }
    await engine.catchUp();
    expect(bodyOf(await app.handle(getRequest('/runs/run-1')))).toMatchObject({
      id: 'run-1',
      status: 'completed',
    });
    expect(
      bodyOf(await app.handle(getRequest('/runs/run-1?at=2024-09-10T12:05:00Z'))),
    ).toMatchObject({ status: 'running' });
    const listed = bodyOf(await app.handle(getRequest('/runs?account=acc-r&status=completed')));
    expect((listed.items as { id: string }[]).map((r) => r.id)).toEqual(['run-1']);
    expect(bodyOf(await app.handle(getRequest('/runs?status=failed'))).items).toEqual([]);
    expect(bodyOf(await app.handle(getRequest('/account-sync/acc-r')))).toMatchObject({
      integratedAccountId: 'acc-r',
      runs: 1,
      completed: 1,
    });
    expect(bodyOf(await app.handle(getRequest('/records/acc-r/crm/contacts')))).toMatchObject({
      integratedAccountId: 'acc-r',
      resource: 'crm/contacts',
      live: 1,
    });
    expect(bodyOf(await app.handle(getRequest('/records/acc-r%2Fcrm%2Fcontacts')))).toMatchObject({
      resource: 'crm/contacts',
    });
    const records = bodyOf(await app.handle(getRequest('/records?account=acc-r')));
    expect((records.items as unknown[]).length).toBe(1);
  });

  it('exposes Prometheus metrics: outcomes, rejects by reason, projection gauges', async () => {
    await seed();
    await app.handle(webhookRequest(accountEvent('acc-a'), { signature: null }));
    await app.handle(webhookRequest('{oops'));
    const response = buffered(await app.handle(getRequest('/metrics')));
    expect(response.status).toBe(200);
    const text = String(response.body);
    expect(text).toMatch(/truto_state_webhooks_total\{status="stored"\} 4/);
    expect(text).toMatch(/truto_state_webhooks_rejected_total\{reason="missing_signature"\} 1/);
    expect(text).toMatch(/truto_state_webhooks_rejected_total\{reason="invalid_json"\} 1/);
    expect(text).toMatch(/truto_state_projection_lag\{projection="accounts"\} 0/);
    expect(text).toMatch(/truto_state_projection_position\{projection="accounts"\} 4/);
    expect(text).toMatch(/truto_state_dead_letters\{projection="runs"\} 0/);
    expect(text).toMatch(/process_resident_memory_bytes \d+/);
  });

  it('leaves the process metrics out when asked (a copy of the service that is not the process)', async () => {
    const copy = createApp({ engine, secrets: [SECRET], logger, processMetrics: false });
    const text = String(buffered(await copy.handle(getRequest('/metrics'))).body);
    expect(text).toMatch(/truto_state_webhooks_total/);
    expect(text).not.toMatch(/process_resident_memory_bytes|nodejs_eventloop_lag/);
  });
});
