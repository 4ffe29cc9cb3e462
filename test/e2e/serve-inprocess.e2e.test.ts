/**
 * The HTTP service started in this process over a real port, for what needs a hand on its
 * insides: a store that cannot take the write (503), prototype pollution checked in the
 * server's own heap, slow senders, SSE heartbeats and slow-client cut-off, graceful close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import type { TrutoEngine as Engine } from '../../src/truto/engine.js';
import { parseWebhook } from '../../src/truto/parse.js';
import {
  createHttpService,
  type HttpService,
  type HttpServiceOptions,
} from '../../src/http/server.js';
import { signBody } from '../../src/http/signature.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import type { EventStore } from '../../src/store/port.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { accountEvent } from '../http/support/webhooks.js';
import { postWebhook } from '../http/support/serve.js';
import { changesIn, connectSse } from '../http/support/sse.js';

const SECRET = 'in-process-secret';
const dir = mkdtempSync(join(tmpdir(), 'truto-inproc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A logger whose lines can be awaited. */
function capturingLogger(): { logger: Logger; waitFor(text: string): Promise<void> } {
  const lines: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString();
      lines.push(line);
      for (const w of [...waiters]) {
        if (!line.includes(w.text)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      done();
    },
  });
  return {
    logger: pino({ level: 'warn' }, sink),
    waitFor: (text) =>
      lines.some((l) => l.includes(text))
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ text, resolve })),
  };
}

interface Running {
  engine: Engine;
  store: EventStore;
  service: HttpService;
  url: string;
}
const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.service.close();
    await r.engine.close();
    await r.store.close();
  }
});

async function start(
  store: EventStore,
  options: Partial<HttpServiceOptions> = {},
): Promise<Running> {
  const engine = await createTrutoEngine({ store });
  const service = createHttpService({
    engine,
    secrets: [SECRET],
    logger: pino({ level: 'silent' }),
    ...options,
  });
  const url = await service.listen(0, '127.0.0.1');
  const r = { engine, store, service, url };
  running.push(r);
  return r;
}

describe('in-process service', () => {
  it('503 with Retry-After while another writer holds the database past the busy timeout, then 200', async () => {
    const path = join(dir, 'busy.db');
    const { url } = await start(createSqliteEventStore({ path, busyTimeoutMs: 50 }));
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    const body = accountEvent('acc-busy', 'integrated_account:created', { id: 'busy-1' });
    try {
      const refused = await postWebhook(url, body, { secret: SECRET });
      expect(refused.status).toBe(503);
      expect(refused.json.error).toBe('store_busy');
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    // The sender retries later, as Truto does: stored.
    expect(await postWebhook(url, body, { secret: SECRET })).toMatchObject({
      status: 200,
      json: { status: 'stored' },
    });
  });

  it('a prototype-pollution payload stays inert in the server process', async () => {
    const { url, engine, store } = await start(createMemoryEventStore());
    const body =
      '{"id":"pp-2","event":"integrated_account:created","created_at":"2024-09-10T12:00:00Z",' +
      '"__proto__":{"polluted":"envelope"},"constructor":{"prototype":{"polluted":"ctor"}},' +
      '"payload":{"id":"acc-pp","status":"active","__proto__":{"polluted":"payload","usable":false},' +
      '"constructor":{"prototype":{"polluted":"payload-ctor"}}}}';
    expect(await postWebhook(url, body, { secret: SECRET })).toMatchObject({
      status: 200,
      json: { status: 'stored' },
    });
    await engine.catchUp();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const state = (await engine.get('accounts', 'acc-pp')) as unknown as Record<string, unknown>;
    expect(state).toMatchObject({ id: 'acc-pp', status: 'active', usable: true });
    expect(Object.keys(state)).not.toContain('polluted');
    expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
    // The log keeps the exact bytes: the record of what was sent, as data.
    const stored = await store.readEvent('pp-2');
    expect(Buffer.from(stored!.body!).toString()).toBe(body);
    expect(parseWebhook(body).ok).toBe(true);
  });

  it('cuts off a sender that trickles its headers (headersTimeout) or its body (requestTimeout)', async () => {
    const { url } = await start(createMemoryEventStore(), {
      headersTimeout: 300,
      requestTimeout: 600,
      timeoutCheckInterval: 50,
    });
    const { port } = new URL(url);
    const trickle = (head: string, drip: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let received = '';
        socket.on('data', (d) => (received += d.toString()));
        socket.write(head);
        const timer = setInterval(() => socket.write(drip), 50);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearInterval(timer);
          resolve(received);
        });
      });
    const headers = await trickle('POST /webhooks/truto HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
    expect(headers).toMatch(/^HTTP\/1\.1 408/);
    const body = await trickle(
      'POST /webhooks/truto HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `x-truto-signature: v=${'a'.repeat(64)}\r\nContent-Length: 100000\r\n\r\n`,
      ' ',
    );
    expect(body).toMatch(/^HTTP\/1\.1 408/);
  });

  it('sends heartbeat comments on an idle change stream', async () => {
    const { url } = await start(createMemoryEventStore(), { heartbeatMs: 20 });
    const client = await connectSse(`${url}/changes`);
    await client.waitFor((f) => f.comments.includes(' heartbeat'));
    client.close();
  });

  it('a long replay reaches a reading client whole; a client that does not read is cut off', async () => {
    const capture = capturingLogger();
    const store = createMemoryEventStore();
    const engine = await createTrutoEngine({ store, live: false });
    // 20 000 changes (~ 15 MB of SSE) journalled before the clients connect.
    const bodies = Array.from({ length: 20_000 }, (_, i) =>
      accountEvent(`slow-${i}`, 'integrated_account:created', { id: `slow-${i}` }),
    );
    await engine.append(
      bodies.map((b) => {
        const parsed = parseWebhook(b);
        if (!parsed.ok) throw new Error(parsed.message);
        const e = parsed.event;
        return {
          id: e.id,
          type: e.type,
          stream: e.stream,
          sourceTime: e.sourceTime,
          data: e.data,
          body: e.body,
          skipped: e.skipped,
        };
      }),
    );
    await engine.catchUp();
    const service = createHttpService({
      engine,
      secrets: [SECRET],
      logger: capture.logger,
      sseMaxBufferedBytes: 64 * 1024,
      sseDrainTimeoutMs: 300,
    });
    const url = await service.listen(0, '127.0.0.1');
    running.push({ engine, store, service, url });

    // A reader: the replay pauses whenever its buffer is full and resumes from the last id.
    const reader = await connectSse(`${url}/changes?since=0&projection=accounts`);
    await reader.waitFor(
      (f) => f.event === 'change' && JSON.parse(f.data!).eventId === 'slow-19999',
    );
    reader.close();
    const read = changesIn(reader.frames);
    expect(read).toHaveLength(20_000);
    expect(new Set(read.map((c) => c.eventId)).size).toBe(20_000);
    const seqs = read.map((c) => c.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // A client that stops reading is cut off once it fails to drain in time.
    const stalled = await connectSse(`${url}/changes?since=0`);
    stalled.response.pause();
    await capture.waitFor('not keeping up: cut off');
    stalled.response.resume();
    await stalled.ended;
    const got = changesIn(stalled.frames);
    expect(got.length).toBeLessThan(20_000);
    // It resumes from its last id with Last-Event-ID and misses nothing.
    const resumed = await connectSse(`${url}/changes`, { 'last-event-id': got.at(-1)?.id ?? '0' });
    await resumed.waitFor(
      (f) => f.event === 'change' && JSON.parse(f.data!).eventId === 'slow-19999',
    );
    resumed.close();
    const all = [...got, ...changesIn(resumed.frames)].filter((c) => c.projection === 'accounts');
    expect(all).toHaveLength(20_000);
    expect(new Set(all.map((c) => c.eventId)).size).toBe(20_000);
  });

  it('closes gracefully: stops accepting, finishes the request in flight, ends change streams', async () => {
    const r = await start(createMemoryEventStore());
    const sse = await connectSse(`${r.url}/changes`);
    await sse.waitFor((f) => f.comments.includes(' connected'));
    const body = Buffer.from(
      accountEvent('acc-inflight', 'integrated_account:created', { id: 'inflight-1' }),
    );
    const { port } = new URL(r.url);
    // A request in flight: headers and half the body sent.
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    const answered = new Promise<void>((resolve) => socket.on('close', resolve));
    socket.on('data', (d) => (answer += d.toString()));
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    socket.write(
      'POST /webhooks/truto HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `x-truto-signature: ${signBody(body, SECRET)}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, 20));
    // Wait until the server has the request (its body read has begun) before closing.
    await new Promise<void>((resolve) => r.service.server.once('request', () => resolve()));
    const closing = r.service.close();
    running.splice(running.indexOf(r), 1);
    await sse.ended;
    // New connections are refused once closing began.
    await expect(fetch(`${r.url}/health`)).rejects.toThrow();
    socket.end(body.subarray(20));
    await closing;
    await answered;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"status":"stored"');
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(await r.store.readEvent('inflight-1')).toBeDefined();
    await r.engine.close();
    await r.store.close();
  });
});
