/**
 * The change stream never resumes silently across a gap: a `Last-Event-ID` ahead of the journal
 * (a restored database) or older than what the journal keeps gets an explicit `event: reset`,
 * and so does every client after a rebuild swapped a projection in. Real HTTP on a real port.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpService, type HttpService } from '../../src/http/server.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import { createTrutoEngine, type TrutoEngine } from '../../src/truto/engine.js';
import { postWebhook } from '../http/support/serve.js';
import { connectSse, type SseFrame } from '../http/support/sse.js';
import { accountEvent } from '../http/support/webhooks.js';

const SECRET = 'reset-secret';

interface Running {
  engine: TrutoEngine;
  service: HttpService;
  url: string;
}
const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.service.close();
    await r.engine.close();
  }
});

async function start(changeRetention = 100_000): Promise<Running> {
  const engine = await createTrutoEngine({ store: createMemoryEventStore(), changeRetention });
  const service = createHttpService({
    engine,
    secrets: [SECRET],
    logger: pino({ level: 'silent' }),
  });
  const url = await service.listen(0, '127.0.0.1');
  const r = { engine, service, url };
  running.push(r);
  return r;
}

async function post(url: string, account: string, id: string): Promise<void> {
  const body = accountEvent(account, 'integrated_account:created', { id });
  expect((await postWebhook(url, body, { secret: SECRET })).status).toBe(200);
}

const reset = (frame: SseFrame) => frame.event === 'reset';
const data = (frame: SseFrame) => JSON.parse(frame.data ?? 'null') as Record<string, unknown>;

describe('/changes resets', () => {
  it('answers a Last-Event-ID ahead of the journal with a reset, then goes on live', async () => {
    const { url, engine } = await start();
    await post(url, 'acc-1', 'e1');
    await engine.catchUp();
    const client = await connectSse(`${url}/changes`, { 'last-event-id': '999' });
    try {
      const frame = await client.waitFor(reset);
      expect(data(frame)).toMatchObject({
        kind: 'reset',
        reason: 'journal_gap',
        requestedSeq: 999,
        latestSeq: 1,
      });
      await post(url, 'acc-2', 'e2');
      const next = await client.waitFor((f) => f.event === 'change');
      expect(data(next)).toMatchObject({ key: 'acc-2', seq: 2 });
    } finally {
      client.close();
    }
  });

  it('answers a Last-Event-ID older than the kept journal with a reset naming the oldest seq', async () => {
    const { url, engine } = await start(3);
    // One batch per delivery, and enough of them for the engine to prune the journal.
    for (let i = 0; i < 110; i++) {
      await post(url, `acc-${i}`, `e${i}`);
      await engine.catchUp();
    }
    const client = await connectSse(`${url}/changes`, { 'last-event-id': '1' });
    try {
      const frame = await client.waitFor(reset);
      const oldest = data(frame).oldestSeq as number;
      expect(oldest).toBeGreaterThan(2);
      expect(data(frame)).toMatchObject({ reason: 'journal_gap', requestedSeq: 1 });
      expect(frame.id).toBe(String(data(frame).latestSeq));
    } finally {
      client.close();
    }
  });

  it('tells every live client to reload after a rebuild swapped a projection in', async () => {
    const { url, engine } = await start();
    await post(url, 'acc-1', 'e1');
    await engine.catchUp();
    const client = await connectSse(`${url}/changes?projection=accounts&key=acc-1`);
    try {
      await client.waitFor((f) => f.comments.includes(' connected'));
      await engine.rebuild(['accounts']);
      const frame = await client.waitFor(reset);
      expect(data(frame)).toMatchObject({
        kind: 'reset',
        projection: 'accounts',
        reason: 'rebuilt',
      });
      expect(Number(frame.id)).toBe(await engine.lastChangeSeq());
    } finally {
      client.close();
    }
  });
});
