/**
 * `truto-state serve` instances for the multi-instance benchmarks: start one on a store (SQLite
 * file or shared PostgreSQL), drive several with one closed-loop load whose connections are spread
 * round-robin over them, and wait until every projection (every partition) has caught up.
 */
import type { Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { post, type LoadResult, type SignedBody } from './http-client.js';
import { freePort, start, waitUntilUp, type Running } from './processes.js';

export interface Instance {
  readonly running: Running;
  readonly base: string;
  readonly pid: number;
}

export interface ServeOptions {
  readonly root: string;
  /** `--db <file>` or `--store postgres --pg-url <url> --partitions 8`. */
  readonly storeArgs: readonly string[];
  readonly secret: string;
  readonly token: string;
}

export async function startInstance(options: ServeOptions): Promise<Instance> {
  const port = await freePort();
  const running = start([
    join(options.root, 'dist/src/cli/main.js'),
    'serve',
    '--port',
    String(port),
    ...options.storeArgs,
    '--secret',
    options.secret,
    '--api-token',
    options.token,
    '--log-level',
    'warn',
  ]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(`${base}/health`, running);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return { running, base, pid: running.child.pid ?? -1 };
}

interface StatsAnswer {
  head?: number;
  projections?: { name: string; lag: number }[];
}

/** The largest projection lag `GET /stats` reports (on a shared store: over every partition). */
export async function maxLag(base: string, token: string): Promise<{ head: number; lag: number }> {
  const response = await fetch(`${base}/stats`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`GET /stats answered ${response.status}`);
  const stats = (await response.json()) as StatsAnswer;
  const lags = (stats.projections ?? []).map((p) => p.lag);
  if (lags.length === 0) throw new Error('GET /stats lists no projections');
  return { head: stats.head ?? 0, lag: Math.max(...lags) };
}

/** Polls `/stats` until the lag is 0 at a head of at least `head`; resolves with when (ms). */
export async function waitProjected(
  base: string,
  token: string,
  head: number,
  timeoutMs = 120_000,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const now = performance.now();
    const status = await maxLag(base, token);
    if (status.lag === 0 && status.head >= head) return now;
    if (now > deadline)
      throw new Error(
        `projections still ${status.lag} behind head ${status.head} after ${timeoutMs} ms`,
      );
    await sleep(25);
  }
}

/**
 * Posts every item once with `concurrency` requests in flight; connection (worker) w talks to
 * `urls[w % urls.length]`, so the connections are spread round-robin over the instances.
 */
export async function closedLoopSpread(
  agent: Agent,
  urls: readonly URL[],
  items: readonly SignedBody[],
  concurrency: number,
): Promise<LoadResult & { maxPosition: number; samples: Map<number, string> }> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  let maxPosition = 0;
  /** The first answer of each non-200 status, to say what went wrong. */
  const samples = new Map<number, string>();
  const start = performance.now();
  const worker = async (w: number) => {
    const url = urls[w % urls.length]!;
    while (next < items.length) {
      const item = items[next++]!;
      const result = await post(agent, url, item);
      latencies.push(result.ms);
      statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
      if (result.status !== 200 && !samples.has(result.status))
        samples.set(result.status, result.body.slice(0, 300));
      if (result.status === 200) {
        const position = (JSON.parse(result.body) as { position?: number }).position;
        if (typeof position === 'number') maxPosition = Math.max(maxPosition, position);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return { ms: performance.now() - start, latencies, statuses, maxPosition, samples };
}
