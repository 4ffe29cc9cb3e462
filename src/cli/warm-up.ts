/**
 * Warming the service's code before it takes real deliveries.
 *
 * A freshly started `serve` answers its first few hundred webhooks several times slower than later
 * ones: V8 compiles each function on its first call and optimises it only after many calls, and
 * the first requests pay for the whole path (HTTP, signature, parsing and schemas, the store,
 * every projection, the change stream). Under a steady 1k webhooks/s right after a start, that was
 * the largest change latency a subscriber saw: 24-26 ms at most over 5 s, against 11-15 ms with
 * the warm-up (bench `latency`, three runs each).
 *
 * So before listening, `serve` sends a generated history (signed Truto deliveries of every
 * family) through a complete second instance of itself: the same projections over an in-memory
 * store of the same kind where it can (SQLite; the memory store otherwise), its own HTTP service
 * on a loopback port, and a change-stream client. Nothing of it touches the configured store or
 * the service's metrics, and it is all closed before the real service starts.
 */
import { Agent, request } from 'node:http';
import type { Logger } from 'pino';
import { createHttpService } from '../http/server.js';
import { SIGNATURE_HEADER, signBody } from '../http/signature.js';
import type { EventStoreWithProjections } from '../store/port.js';
import { createTrutoEngine } from '../truto/engine.js';
import { generateDeliveries } from '../workload/generator.js';
import type { StoreConfig } from './config.js';

export const DEFAULT_WARM_UP = 1000;
export const MAX_WARM_UP = 100_000;
/** However many deliveries were asked for, the warm-up stops sending after this long. */
const DEADLINE_MS = 5_000;

const SECRET = 'warm-up';
const TOKEN = 'warm-up';
const CONNECTIONS = 8;

export interface WarmUpOptions {
  readonly deliveries: number;
  /** The configured store's kind: the warm-up runs on the same adapter code, in memory. */
  readonly store: StoreConfig['kind'];
  readonly logger: Logger;
}

export interface WarmUpResult {
  readonly deliveries: number;
  readonly changes: number;
  readonly ms: number;
}

/**
 * Runs the warm-up and logs what it did. It never stops the service from starting: a failure is
 * logged, and the service starts cold.
 */
export async function warmUp(options: WarmUpOptions): Promise<WarmUpResult | undefined> {
  try {
    const result = await runWarmUp(options);
    options.logger.info(
      { warmUp: { ...result, ms: Math.round(result.ms) } },
      `warmed up: ${result.deliveries} generated deliveries in ${Math.round(result.ms)} ms`,
    );
    return result;
  } catch (error) {
    options.logger.warn({ err: error }, 'warm-up failed; starting without it');
    return undefined;
  }
}

async function openWarmUpStore(kind: StoreConfig['kind']): Promise<EventStoreWithProjections> {
  if (kind === 'sqlite') {
    const { createSqliteEventStore } = await import('../store/sqlite/index.js');
    return createSqliteEventStore({ path: ':memory:' });
  }
  // PostgreSQL and KurrentDB warm everything but their adapter; never a second real database.
  const { createMemoryEventStore } = await import('../store/memory/index.js');
  return createMemoryEventStore();
}

async function runWarmUp(options: WarmUpOptions): Promise<WarmUpResult> {
  const started = performance.now();
  const store = await openWarmUpStore(options.store);
  const engine = await createTrutoEngine({ store, projectionStore: store.projections });
  const service = createHttpService({
    engine,
    secrets: [SECRET],
    apiToken: TOKEN,
    maxStreams: 10,
    processMetrics: false,
    // The warm-up's requests are not the service's: nothing of them is logged.
    logger: options.logger.child({}, { level: 'silent' }),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let changes = 0;
  let sent = 0;
  let stream: { destroy(): void } | undefined;
  try {
    const base = await service.listen(0, '127.0.0.1');
    stream = openChanges(`${base}/changes`, () => {
      changes += 1;
    });
    const bodies = generateDeliveries({
      events: options.deliveries,
      seed: 7,
      maxRecordsPerPage: 5,
    });
    const next = (): string | undefined => {
      if (performance.now() - started > DEADLINE_MS) return undefined;
      const step = bodies.next();
      return step.done ? undefined : step.value.body;
    };
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        for (let body = next(); body !== undefined; body = next()) {
          await post(agent, `${base}/webhooks/truto`, body);
          sent += 1;
        }
      }),
    );
    await engine.catchUp();
  } finally {
    stream?.destroy();
    agent.destroy();
    await service.close();
    await engine.close();
    await store.close();
  }
  return { deliveries: sent, changes, ms: performance.now() - started };
}

function post(agent: Agent, url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signBody(body, SECRET),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve()
          : reject(new Error(`a warm-up delivery was answered ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

function openChanges(url: string, onChange: () => void): { destroy(): void } {
  const req = request(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  req.on('response', (res) => {
    res.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('data:')) onChange();
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { destroy: () => req.destroy() };
}
