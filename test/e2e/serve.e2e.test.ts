/**
 * `truto-state serve` as a real process over a real port: every webhook status, the read API,
 * access rules, metrics, and the start-up rules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/http/signature.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { accountEvent } from '../http/support/webhooks.js';
import {
  getJson,
  postWebhook,
  runCli,
  startServe,
  waitCaughtUp,
  type Served,
} from '../http/support/serve.js';

const SECRET = 'e2e-secret-new';
const OLD_SECRET = 'e2e-secret-old';

let dir: string;
let served: Served;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'truto-serve-'));
  served = await startServe([
    '--port',
    '0',
    '--db',
    join(dir, 'log.db'),
    '--secret',
    OLD_SECRET,
    '--secret',
    SECRET,
  ]);
});
afterAll(async () => {
  expect(await served.stop('SIGTERM')).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

async function stats(): Promise<any> {
  return (await getJson(served.url, '/stats')).json;
}

describe('webhook statuses', () => {
  it('200 stored, 200 duplicate, 200 conflict', async () => {
    const body = accountEvent('acc-s1', 'integrated_account:created', { id: 'st-1' });
    const stored = await postWebhook(served.url, body, { secret: SECRET });
    expect(stored).toMatchObject({
      status: 200,
      json: { status: 'stored', id: 'st-1', projected: true },
    });
    const duplicate = await postWebhook(served.url, body, { secret: SECRET });
    expect(duplicate).toMatchObject({
      status: 200,
      json: { status: 'duplicate', id: 'st-1', position: stored.json.position },
    });
    const conflict = await postWebhook(
      served.url,
      accountEvent('acc-s1', 'integrated_account:active', { id: 'st-1' }),
      { secret: SECRET },
    );
    expect(conflict).toMatchObject({ status: 200, json: { status: 'conflict', id: 'st-1' } });
  });

  it('200 for an unknown event name and for a payload failing its schema (stored, not projected)', async () => {
    const unknown = JSON.stringify({
      id: 'unk-1',
      event: 'shiny:new',
      created_at: '2024-09-10 12:00:00',
      payload: { foo: 'bar' },
    });
    expect(await postWebhook(served.url, unknown, { secret: SECRET })).toMatchObject({
      status: 200,
      json: { status: 'stored', projected: false, reason: 'unknown_type' },
    });
    const invalid = JSON.stringify({
      id: 'inv-1',
      event: 'sync_job_run:completed',
      created_at: '2024-09-10 12:00:00',
      payload: { status: 'x' },
    });
    expect(await postWebhook(served.url, invalid, { secret: SECRET })).toMatchObject({
      status: 200,
      json: { status: 'stored', projected: false, reason: 'invalid_payload' },
    });
  });

  it('200 for either configured secret (rotation), hex or base64', async () => {
    const a = accountEvent('acc-rot');
    expect(
      (await postWebhook(served.url, a, { signature: signBody(a, OLD_SECRET, 'base64') })).status,
    ).toBe(200);
    const b = accountEvent('acc-rot');
    expect(
      (
        await postWebhook(served.url, b, {
          signature: signBody(b, SECRET, 'hex').replace('format=sha256,', ''),
        })
      ).status,
    ).toBe(200);
  });

  it('duplicate ×3 concurrent: all 200, stored once', async () => {
    const before = (await stats()).store.events;
    const body = accountEvent('acc-dup3', 'integrated_account:created', { id: 'dup3-1' });
    const results = await Promise.all(
      [1, 2, 3].map(() => postWebhook(served.url, body, { secret: SECRET })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.json.status).sort()).toEqual(['duplicate', 'duplicate', 'stored']);
    expect(new Set(results.map((r) => r.json.position)).size).toBe(1);
    expect((await stats()).store.events).toBe(before + 1);
  });

  it('401: missing, empty, flipped, truncated, wrong secret, and re-serialised with the original signature', async () => {
    const before = (await stats()).store.events;
    const body = accountEvent('acc-401', 'integrated_account:created', { id: 'x401' });
    const signature = signBody(body, SECRET);
    const flipped = signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0');
    const reserialised = JSON.stringify(JSON.parse(body), null, 2);
    const attempts = [
      await postWebhook(served.url, body),
      await postWebhook(served.url, body, { signature: '' }),
      await postWebhook(served.url, body, { signature: flipped }),
      await postWebhook(served.url, body, { signature: signature.slice(0, 30) }),
      await postWebhook(served.url, body, { signature: 'format=sha256,v=!!!' }),
      await postWebhook(served.url, body, { secret: 'someone-else' }),
      await postWebhook(served.url, reserialised, { signature }),
      await postWebhook(served.url, body.replace('acc-401', 'acc-402'), { signature }),
    ];
    for (const attempt of attempts) {
      expect(attempt.status).toBe(401);
      expect(['missing_signature', 'invalid_signature']).toContain(attempt.json.error);
    }
    expect((await stats()).store.events).toBe(before);
  });

  it('415 without application/json', async () => {
    const body = accountEvent('acc-415');
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const response = await postWebhook(served.url, body, {
        secret: SECRET,
        headers: { 'content-type': type },
      });
      expect(response).toMatchObject({ status: 415, json: { error: 'unsupported_media_type' } });
    }
    // fetch sends text/plain for a string body unless told otherwise; none at all is 415 too.
    const raw = await rawPost(served.url, Buffer.from(body), {
      'x-truto-signature': signBody(body, SECRET),
    });
    expect(raw.status).toBe(415);
  });

  it('400 naming the problem for a signed but unusable body; kept aside', async () => {
    const before = (await stats()).store;
    const cases: [string, string][] = [
      ['{"id":"bad-1","event":"integrated_account:created",', 'invalid_json'],
      ['"just a string"', 'not_an_object'],
      [
        '{"event":"integrated_account:created","created_at":"2024-09-10 12:00:00","payload":{}}',
        'missing_id',
      ],
      ['{"id":"bad-2","created_at":"2024-09-10 12:00:00","payload":{}}', 'missing_event'],
      ['{"id":"bad-3","event":"integrated_account:created","payload":{}}', 'missing_created_at'],
    ];
    for (const [body, code] of cases) {
      const response = await postWebhook(served.url, body, { secret: SECRET });
      expect(response.status, code).toBe(400);
      expect(response.json.error).toBe(code);
      expect(typeof response.json.message).toBe('string');
    }
    const after = (await stats()).store;
    expect(after.events).toBe(before.events);
    expect(after.rejects).toBe(before.rejects + cases.length);
  });

  it('a prototype-pollution payload is stored as inert data', async () => {
    const body =
      '{"id":"pp-1","event":"integrated_account:created","created_at":"2024-09-10T12:00:00Z",' +
      '"__proto__":{"polluted":"envelope"},"constructor":{"prototype":{"polluted":"ctor"}},' +
      '"payload":{"id":"acc-pp","tenant_id":"t-pp","status":"active","__proto__":{"polluted":"payload","status":"deleted"},' +
      '"constructor":{"prototype":{"polluted":"payload-ctor"}},"integration":{"name":"hubspot","__proto__":{"polluted":1}}}}';
    expect(await postWebhook(served.url, body, { secret: SECRET })).toMatchObject({
      status: 200,
      json: { status: 'stored' },
    });
    await waitCaughtUp(served.url);
    const account = await getJson(served.url, '/accounts/acc-pp');
    expect(account.status).toBe(200);
    expect(account.json).toMatchObject({
      id: 'acc-pp',
      status: 'active',
      tenantId: 't-pp',
      integration: 'hubspot',
    });
    expect(account.json).not.toHaveProperty('polluted');
    // Were Object.prototype polluted in the server, every fresh object would carry `polluted`:
    // a filter on it would then match every account. It matches none.
    const listed = await getJson(served.url, '/accounts?status=active&limit=1000');
    expect(listed.json.items.every((a: object) => !Object.hasOwn(a, 'polluted'))).toBe(true);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('413 for a declared Content-Length over the limit, answered before reading', async () => {
    const response = await rawPost(served.url, Buffer.alloc(1000, 0x20), {
      'content-type': 'application/json',
      'x-truto-signature': 'v=' + '0'.repeat(64),
      'content-length': String(2 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error).toBe('payload_too_large');
  });

  it('413 for a chunked body while it is still arriving: not buffered whole first', async () => {
    // The sender sends 1.5 MB of a 12 MB chunked body and then waits for the answer. A server
    // that read the whole body before answering would never answer (until its request timeout).
    const outcome = await chunkedFlood(served.url, 12 * 1024 * 1024, 1.5 * 1024 * 1024);
    expect(outcome.status).toBe(413);
    expect(outcome.sentBeforeAnswer).toBeLessThan(2 * 1024 * 1024);
  });

  it('413 for 12 MB chunked bodies, memory flat, other requests unaffected', async () => {
    const rssBefore = await rss(served.url);
    const outcomes = await Promise.all(
      [1, 2, 3, 4].map(() => chunkedFlood(served.url, 12 * 1024 * 1024)),
    );
    expect(outcomes.map((o) => o.status)).toEqual([413, 413, 413, 413]);
    const rssAfter = await rss(served.url);
    // Four 12 MB bodies buffered would add ≥ 48 MB; the server keeps at most 1 MiB of each.
    expect(rssAfter - rssBefore).toBeLessThan(24 * 1024 * 1024);
    expect((await getJson(served.url, '/health')).status).toBe(200);
    expect(
      (await postWebhook(served.url, accountEvent('acc-after-413'), { secret: SECRET })).status,
    ).toBe(200);
  });
});

describe('read API', () => {
  it('lists, filters, pages, gets, travels in time, 404s', async () => {
    const id = 'acc-read';
    for (const [event, createdAt] of [
      ['integrated_account:created', '2024-09-01T00:00:00.000Z'],
      ['integrated_account:active', '2024-09-02T00:00:00.000Z'],
      ['integrated_account:authentication_error', '2024-09-03T00:00:00.000Z'],
    ] as const) {
      const body = accountEvent(id, event, { createdAt, payload: { tenant_id: 'tenant-read' } });
      expect((await postWebhook(served.url, body, { secret: SECRET })).status).toBe(200);
    }
    await waitCaughtUp(served.url);
    expect((await getJson(served.url, `/accounts/${id}`)).json).toMatchObject({
      status: 'needs_reauth',
      usable: false,
    });
    expect(
      (await getJson(served.url, `/accounts/${id}?at=2024-09-02T12:00:00Z`)).json,
    ).toMatchObject({ status: 'active' });
    expect(
      (await getJson(served.url, `/accounts/${id}?at=${Date.UTC(2024, 8, 1, 6)}`)).json,
    ).toMatchObject({ status: 'connecting' });
    expect((await getJson(served.url, `/accounts/${id}?at=2024-08-01`)).status).toBe(404);
    expect((await getJson(served.url, '/accounts/does-not-exist')).status).toBe(404);
    const byTenant = await getJson(
      served.url,
      '/accounts?tenant=tenant-read&status=needs_reauth&usable=false',
    );
    expect(byTenant.json.items.map((a: { id: string }) => a.id)).toEqual([id]);
    const page = await getJson(served.url, '/accounts?limit=1');
    expect(page.json.items).toHaveLength(1);
    expect(typeof page.json.next).toBe('string');
    const next = await getJson(
      served.url,
      `/accounts?limit=1&after=${encodeURIComponent(page.json.next)}`,
    );
    expect(next.json.items[0].id > page.json.items[0].id).toBe(true);
    expect((await getJson(served.url, '/runs?account=acc-read')).json).toEqual({
      items: [],
      next: null,
    });
    expect((await getJson(served.url, '/runs/nope')).status).toBe(404);
    expect((await getJson(served.url, '/account-sync/acc-read')).status).toBe(404);
    expect((await getJson(served.url, '/records?account=acc-read')).json).toEqual({
      items: [],
      next: null,
    });
    expect((await getJson(served.url, '/accounts?limit=-1')).status).toBe(400);
    expect((await getJson(served.url, '/nowhere')).status).toBe(404);
  });

  it('/metrics speaks Prometheus: ingest outcomes, rejects by reason, projections, HTTP latency', async () => {
    const { status, json: text } = await getJson(served.url, '/metrics');
    expect(status).toBe(200);
    expect(text).toMatch(/truto_state_webhooks_total\{status="stored"\} \d+/);
    expect(text).toMatch(/truto_state_webhook_duplicates_total \d+/);
    expect(text).toMatch(/truto_state_webhooks_rejected_total\{reason="invalid_signature"\} \d+/);
    expect(text).toMatch(/truto_state_projection_lag\{projection="runs"\} \d+/);
    expect(text).toMatch(/truto_state_projection_position\{projection="accounts"\} \d+/);
    expect(text).toMatch(/truto_state_dead_letters\{projection="accounts"\} 0/);
    expect(text).toMatch(
      /truto_state_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/webhooks\/truto",status="200"\}/,
    );
  });
});

describe('start-up rules', () => {
  it('refuses a non-loopback host without a token; serves it with one, token required', async () => {
    const db = join(dir, 'open.db');
    const refused = await runCli([
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--db',
      db,
      '--secret',
      's',
    ]);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/token/);
    const guarded = await startServe([
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--db',
      db,
      '--secret',
      's',
      '--api-token',
      'tok',
    ]);
    try {
      const base = guarded.url.replace('0.0.0.0', '127.0.0.1');
      expect((await getJson(base, '/accounts')).status).toBe(401);
      expect((await getJson(base, '/accounts', 'wrong')).status).toBe(401);
      expect((await getJson(base, '/changes')).status).toBe(401);
      expect((await getJson(base, '/accounts', 'tok')).status).toBe(200);
      expect((await getJson(base, '/health')).status).toBe(200);
    } finally {
      expect(await guarded.stop()).toBe(0);
    }
  });

  it('rejects bad options with a usage error', async () => {
    expect((await runCli(['serve', '--max-body', 'lots', '--db', join(dir, 'x.db')])).code).toBe(
      64,
    );
    expect((await runCli(['serve', '--port', '70000', '--db', join(dir, 'x.db')])).code).toBe(64);
  });

  it('warms up on an in-memory copy before listening: logged, and nothing of it reaches the store or the metrics', async () => {
    const db = join(dir, 'warm.db');
    const warm = await startServe(['--port', '0', '--db', db, '--secret', 's', '--warm-up', '300']);
    try {
      const line = warm.lines.find((l) => l.includes('warmed up'));
      expect(line, warm.lines.join('\n')).toBeDefined();
      const logged = JSON.parse(line as string) as {
        warmUp: { deliveries: number; changes: number };
      };
      // Every generated delivery went through, and its changes came back on the stream.
      expect(logged.warmUp.deliveries).toBe(300);
      expect(logged.warmUp.changes).toBeGreaterThan(100);
      // Before the URL line: the service listened only once warm.
      expect(warm.lines.indexOf(line as string)).toBeLessThan(
        warm.lines.findIndex((l) => l.includes('listening on')),
      );
      const { json } = await getJson(warm.url, '/stats');
      expect(json.store.events).toBe(0);
      expect(json.projections.every((p: { entities: number }) => p.entities === 0)).toBe(true);
      const metrics = (await getJson(warm.url, '/metrics')).json as string;
      expect(metrics).not.toMatch(/truto_state_webhooks_total\{status="stored"\} [1-9]/);
      expect((await postWebhook(warm.url, accountEvent('w1'), { secret: 's' })).status).toBe(200);
      await waitCaughtUp(warm.url);
      expect((await getJson(warm.url, '/stats')).json.store.events).toBe(1);
    } finally {
      expect(await warm.stop()).toBe(0);
    }
    const cold = await startServe(['--port', '0', '--db', db, '--secret', 's', '--warm-up', '0']);
    try {
      expect(cold.lines.some((l) => l.includes('warmed up'))).toBe(false);
    } finally {
      expect(await cold.stop()).toBe(0);
    }
    const refused = await runCli(['serve', '--warm-up', 'lots', '--db', db]);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/--warm-up must be a whole number/);
  });

  it('honours --max-body', async () => {
    const small = await startServe([
      '--port',
      '0',
      '--db',
      join(dir, 'small.db'),
      '--secret',
      's',
      '--max-body',
      '1kb',
    ]);
    try {
      const body = JSON.stringify({
        id: 'big',
        event: 'test',
        created_at: '2024-09-10 12:00:00',
        payload: { pad: 'x'.repeat(1100) },
      });
      expect((await postWebhook(small.url, body, { secret: 's' })).status).toBe(413);
      expect((await postWebhook(small.url, accountEvent('a'), { secret: 's' })).status).toBe(200);
    } finally {
      await small.stop();
    }
  });
});

describe('shutdown', () => {
  it('a SIGTERM sent the moment the URL is logged stops the service cleanly (six at once)', async () => {
    // Writing the URL line wakes whoever waits for it, and on a busy machine that reader can
    // signal before the service runs another instruction: the handler must exist already.
    const codes = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const started = await startServe([
          '--port',
          '0',
          '--db',
          join(dir, `instant-stop-${i}.db`),
          '--secret',
          's',
          '--warm-up',
          '0',
        ]);
        return started.stop('SIGTERM');
      }),
    );
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('SIGTERM under load: stops, exits 0, and every acknowledged delivery is stored', async () => {
    const db = join(dir, 'term.db');
    const server = await startServe([
      '--port',
      '0',
      '--db',
      db,
      '--secret',
      's',
      '--log-level',
      'warn',
    ]);
    const bodies = Array.from({ length: 400 }, (_, i) =>
      accountEvent(`term-${i}`, 'integrated_account:created', { id: `term-${i}` }),
    );
    let acked = 0;
    let signalled = false;
    const ackedIds: string[] = [];
    const statuses: number[] = [];
    const results = await Promise.allSettled(
      bodies.map(async (body) => {
        const response = await postWebhook(server.url, body, { secret: 's' });
        if (response.status === 200) {
          ackedIds.push(String(response.json.id));
          acked += 1;
          if (acked === 50 && !signalled) {
            signalled = true;
            server.child.kill('SIGTERM');
          }
        }
        statuses.push(response.status);
      }),
    );
    // Whatever was answered is a 200, or a 503 while the store closes: never another status.
    // (Requests after the listener closed fail to connect: not acknowledged, so resent by Truto.)
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(await server.exited).toBe(0);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(50);
    // Every acknowledged one is stored (and possibly some whose answer the sender never got).
    const store = createSqliteEventStore({ path: db });
    try {
      for (const id of ackedIds) expect(await store.readEvent(id), id).toBeDefined();
    } finally {
      await store.close();
    }
    const verify = await runCli(['verify', '--db', db]);
    expect(verify.code, verify.stdout).toBe(0);
  });
});

/** A POST through node:http, for headers fetch will not send as given. */
function rawPost(
  base: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // No keep-alive: a lying Content-Length must not leave the connection to the next test.
    const req = request(
      `${base}/webhooks/truto`,
      { method: 'POST', headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Streams `total` bytes as a chunked body, a chunk at a time as the socket drains, and stops
 * when the answer arrives; with `pauseAfter`, stops sending after that many bytes and only waits
 * for the answer. Resolves with the status and how much had been sent by then.
 */
function chunkedFlood(
  base: string,
  total: number,
  pauseAfter = total,
): Promise<{ status: number; sentBeforeAnswer: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const req = request(`${base}/webhooks/truto`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'x-truto-signature': 'v=' + 'a'.repeat(64),
        'transfer-encoding': 'chunked',
      },
    });
    req.on('response', (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sentBeforeAnswer }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, sentBeforeAnswer }));
    });
    // The server closes the connection a little after its 413: an error while writing is expected.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    const pump = (): void => {
      while (!answered && sent < Math.min(total, pauseAfter)) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered && sent >= total) req.end();
    };
    pump();
  });
}

async function rss(base: string): Promise<number> {
  const { json: text } = await getJson(base, '/metrics');
  const match = /^process_resident_memory_bytes (\d+)/m.exec(String(text));
  if (!match) throw new Error('no process_resident_memory_bytes in /metrics');
  return Number(match[1]);
}
