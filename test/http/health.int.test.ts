/**
 * `/health` is liveness: cheap and constant (no stats, nothing that grows with state), open to
 * anyone who reaches the port, so a failure says what failed and never where (items 5, 14).
 * `/stats` and `/metrics` share one computation of the engine's stats per second while the head
 * stays put (item 5), per 100 ms while it shows a projection behind.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrutoEngine, type TrutoEngine } from '../../src/truto/engine.js';
import { createApp } from '../../src/http/app.js';
import type { BufferedResponse, HttpResponse } from '../../src/http/types.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import type { ProjectionStore } from '../../src/store/port.js';
import { createPostgresEventStore } from '../../src/store/postgres/index.js';
import { createTestDatabase } from '../support/postgres.js';
import { accountEvent, getRequest, SECRET, webhookRequest } from './support/webhooks.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function body(response: HttpResponse): Record<string, any> {
  return JSON.parse(String((response as BufferedResponse).body)) as Record<string, any>;
}

async function memoryEngine(projectionStore?: (store: ProjectionStore) => ProjectionStore) {
  const store = createMemoryEventStore();
  const engine = await createTrutoEngine({
    store,
    projectionStore: projectionStore ? projectionStore(store.projections) : store.projections,
    live: false,
  });
  cleanups.push(async () => {
    await engine.close();
    await store.close();
  });
  return engine;
}

describe('/health (item 5)', () => {
  it('reads nothing that grows with state: no counts, no dead letters, no stats', async () => {
    const refuse = () => Promise.reject(new Error('/health must not read projected state'));
    const engine = await memoryEngine((inner) => ({
      ...inner,
      countStates: refuse,
      listStates: refuse,
      readDeadLetters: refuse,
    }));
    engine.stats = refuse;
    const app = createApp({ engine, secrets: [SECRET], logger });
    await app.handle(webhookRequest(accountEvent('acc-h', 'integrated_account:created')));
    const health = await app.handle(getRequest('/health'));
    expect(health.status).toBe(200);
    expect(body(health)).toEqual({ status: 'ok', store: { kind: 'memory', ok: true } });
  });
});

describe('/stats and /metrics share one computation (item 5)', () => {
  it('computes once for concurrent requests, again after an append or once the time is up', async () => {
    const engine = await memoryEngine();
    let computed = 0;
    const stats = engine.stats.bind(engine);
    engine.stats = () => {
      computed += 1;
      return stats();
    };
    let clock = 0;
    const app = createApp({
      engine,
      secrets: [SECRET],
      logger,
      statsTtlMs: 1000,
      now: () => clock,
    });
    const concurrent = await Promise.all([
      ...Array.from({ length: 20 }, () => app.handle(getRequest('/stats'))),
      app.handle(getRequest('/metrics')),
    ]);
    expect(concurrent.every((r) => r.status === 200)).toBe(true);
    expect(computed).toBe(1);

    await app.handle(webhookRequest(accountEvent('acc-s', 'integrated_account:created')));
    expect(body(await app.handle(getRequest('/stats')))).toMatchObject({ head: 1 });
    expect(computed).toBe(2);

    // A figure showing lag is reused only briefly: the projection is moving.
    await engine.catchUp();
    clock += 99;
    expect(body(await app.handle(getRequest('/stats'))).projections[0].lag).toBe(1);
    clock += 1;
    expect(body(await app.handle(getRequest('/stats'))).projections[0].lag).toBe(0);
    expect(computed).toBe(3);

    // A caught-up one for the whole time.
    clock += 999;
    await app.handle(getRequest('/stats'));
    expect(computed).toBe(3);
    clock += 1;
    await app.handle(getRequest('/stats'));
    expect(computed).toBe(4);
  });
});

describe('/health on an unreachable PostgreSQL (item 14)', () => {
  it('says what failed, not where: no host, port or database name', async () => {
    const database = await createTestDatabase('truto_health');
    const store = await createPostgresEventStore({ connectionString: database.url, poolSize: 2 });
    const engine: TrutoEngine = await createTrutoEngine({ store, live: false });
    cleanups.push(async () => {
      await engine.close();
      await store.close().catch(() => undefined);
      await database.drop();
    });
    const logged: unknown[] = [];
    const app = createApp({
      engine,
      secrets: [SECRET],
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }),
    });
    expect((await app.handle(getRequest('/health'))).status).toBe(200);

    await database.drop();
    const health = await app.handle(getRequest('/health'));
    expect(health.status).toBe(503);
    const answer = body(health);
    expect(answer).toMatchObject({ status: 'unavailable', store: { kind: 'postgres', ok: false } });
    expect(typeof answer.store.reason).toBe('string');
    const url = new URL(database.url);
    for (const where of [database.name, url.hostname, url.port, 'postgres://']) {
      expect(JSON.stringify(answer)).not.toContain(where);
    }
    // The operator's log has the detail.
    expect(logged.join('\n')).toContain(database.name);
  });
});
