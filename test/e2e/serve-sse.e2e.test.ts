/**
 * `GET /changes` over a real port against the built service: every change once across a
 * disconnect and a `Last-Event-ID` reconnect, filters, and clean-up of closed streams.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountEvent } from '../http/support/webhooks.js';
import { getJson, postWebhook, startServe, type Served } from '../http/support/serve.js';
import { changesIn, connectSse, type SseClient, type SseFrame } from '../http/support/sse.js';

const SECRET = 'sse-secret';
let dir: string;
let served: Served;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'truto-sse-'));
  served = await startServe(['--port', '0', '--db', join(dir, 'sse.db'), '--secret', SECRET]);
});
afterAll(async () => {
  expect(await served.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

const connected = (frame: SseFrame) => frame.comments.includes(' connected');

/** Posts one `created` per account (each makes exactly one `accounts` change); returns the event ids. */
async function postAccounts(prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-evt-${i}`;
    const response = await postWebhook(
      served.url,
      accountEvent(`${prefix}-acc-${i}`, 'integrated_account:created', { id }),
      { secret: SECRET },
    );
    expect(response.status).toBe(200);
    ids.push(id);
  }
  return ids;
}

function awaitEvents(client: SseClient, eventIds: readonly string[]): Promise<unknown> {
  return Promise.all(
    eventIds.map((id) =>
      client.waitFor((f) => f.event === 'change' && JSON.parse(f.data ?? '{}').eventId === id),
    ),
  );
}

describe('GET /changes', () => {
  it('a client that disconnects and reconnects with Last-Event-ID receives every change once', async () => {
    const base = `${served.url}/changes?projection=accounts`;
    const first = await connectSse(base);
    expect(first.status).toBe(200);
    expect(first.response.headers['content-type']).toMatch(/^text\/event-stream/);
    await first.waitFor(connected);
    const phaseA = await postAccounts('a', 15);
    await awaitEvents(first, phaseA);
    first.close();
    await first.ended;
    const seenFirst = changesIn(first.frames);
    const lastId = seenFirst.at(-1)!.id;

    // Missed while disconnected.
    const phaseB = await postAccounts('b', 15);
    const second = await connectSse(base, { 'last-event-id': lastId });
    await awaitEvents(second, phaseB);
    // And live after the replay.
    const phaseC = await postAccounts('c', 10);
    await awaitEvents(second, phaseC);
    second.close();
    const seenSecond = changesIn(second.frames);

    const all = [...seenFirst, ...seenSecond];
    const seqs = all.map((c) => c.seq);
    // Strictly increasing across the reconnect: no repeat, nothing out of order.
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(all.every((c) => c.id === String(c.seq) && c.projection === 'accounts')).toBe(true);
    // Every posted event's change arrived exactly once.
    const eventIds = all.map((c) => c.eventId);
    for (const id of [...phaseA, ...phaseB, ...phaseC])
      expect(
        eventIds.filter((e) => e === id),
        id,
      ).toHaveLength(1);

    // No gap: a full replay from the start holds exactly the same changes up to the last one seen.
    const replay = await connectSse(`${base}&since=0`);
    await replay.waitFor((f) => f.id === String(seqs.at(-1)));
    replay.close();
    const replayed = changesIn(replay.frames).filter(
      (c) => c.seq >= seqs[0]! && c.seq <= seqs.at(-1)!,
    );
    expect(replayed.map((c) => c.seq)).toEqual(seqs);
  });

  it('filters by projection (repeatable or comma list) and key', async () => {
    const byKey = await connectSse(`${served.url}/changes?projection=accounts&key=k-acc-3`);
    const byList = await connectSse(`${served.url}/changes?projection=runs,accounts`);
    const runsOnly = await connectSse(`${served.url}/changes?projection=runs`);
    await Promise.all([
      byKey.waitFor(connected),
      byList.waitFor(connected),
      runsOnly.waitFor(connected),
    ]);
    const ids = await postAccounts('k', 5);
    await awaitEvents(byList, ids);
    await byKey.waitFor((f) => f.event === 'change');
    // A marker every stream sees: the account key stream gets one more change for k-acc-3.
    await postWebhook(
      served.url,
      accountEvent('k-acc-3', 'integrated_account:active', {
        id: 'k-marker',
        createdAt: '2030-01-01T00:00:00Z',
      }),
      { secret: SECRET },
    );
    await byKey.waitFor((f) => f.event === 'change' && JSON.parse(f.data!).eventId === 'k-marker');
    await byList.waitFor((f) => f.event === 'change' && JSON.parse(f.data!).eventId === 'k-marker');
    for (const c of [byKey, byList, runsOnly]) c.close();
    expect(changesIn(byKey.frames).map((c) => c.eventId)).toEqual([ids[3], 'k-marker']);
    expect(changesIn(runsOnly.frames)).toEqual([]);
    expect((await getJson(served.url, '/changes?projection=nope')).status).toBe(400);
    expect((await getJson(served.url, '/changes?since=abc')).status).toBe(400);
  });

  it('forgets closed streams', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => connectSse(`${served.url}/changes`)));
    await Promise.all(clients.map((c) => c.waitFor(connected)));
    expect(await openStreams()).toBeGreaterThanOrEqual(3);
    for (const c of clients) c.close();
    // The server notices the disconnects asynchronously: poll its gauge until it shows them.
    while ((await openStreams()) !== 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await openStreams()).toBe(0);
  });
});

async function openStreams(): Promise<number> {
  const text = String((await getJson(served.url, '/metrics')).json);
  return Number(/^truto_state_sse_clients (\d+)/m.exec(text)?.[1] ?? NaN);
}
