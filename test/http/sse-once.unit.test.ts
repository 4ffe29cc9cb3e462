/**
 * Each change is serialised once for all live clients of `/changes`, not once per client
 * (item 10), on a real engine: JSON.stringify is counted for change objects only.
 */
import { firstValueFrom, skip, take, toArray } from 'rxjs';
import { pino } from 'pino';
import { afterEach, expect, it, vi } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import { createApp } from '../../src/http/app.js';
import type { StreamResponse } from '../../src/http/types.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import { accountEvent, getRequest, SECRET, webhookRequest } from './support/webhooks.js';

afterEach(() => {
  vi.restoreAllMocks();
});

it('writes each change once, however many clients stream it', async () => {
  const engine = await createTrutoEngine({ store: createMemoryEventStore() });
  const app = createApp({ engine, secrets: [SECRET], logger: pino({ level: 'silent' }) });
  const clients = 50;
  // Each client: its preamble, then the first change message.
  const streams = await Promise.all(
    Array.from({ length: clients }, async () => {
      const response = (await app.handle(
        getRequest('/changes?projection=accounts'),
      )) as StreamResponse;
      return { first: firstValueFrom(response.open().pipe(skip(1), take(1), toArray())) };
    }),
  );
  const stringify = vi.spyOn(JSON, 'stringify');
  expect((await app.handle(webhookRequest(accountEvent('acc-once')))).status).toBe(200);
  const received = await Promise.all(streams.map((s) => s.first));
  const changeWrites = stringify.mock.calls.filter(([value]) => {
    const v = value as { seq?: unknown; projection?: unknown } | null;
    return v !== null && typeof v === 'object' && 'seq' in v && 'projection' in v;
  });
  expect(received.map(([m]) => m?.id)).toEqual(Array(clients).fill(received[0]?.[0]?.id));
  expect(changeWrites).toHaveLength(1);
  await engine.close();
  await engine.store.close();
});
