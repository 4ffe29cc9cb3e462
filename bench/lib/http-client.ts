/**
 * The load side of the HTTP benchmarks: signed POSTs over node's http.Agent (keep-alive, 64
 * sockets), a closed loop of N workers, per-request latency and status counts. Also a minimal
 * server-sent-events reader for `GET /changes`.
 */
import { request, Agent, type IncomingMessage } from 'node:http';

export interface SignedBody {
  readonly id: string;
  readonly body: Buffer;
  readonly signature: string;
}

export interface PostResult {
  readonly status: number;
  readonly ms: number;
  /** The response body (the service answers a few bytes of JSON). */
  readonly body: string;
}

export function createAgent(sockets: number, scheduling: 'lifo' | 'fifo' = 'lifo'): Agent {
  return new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling });
}

/**
 * For paced (open-loop) runs: an agent whose `sockets` keep-alive connections are all open before
 * the clock starts, and used in turn (FIFO). node's agent otherwise opens a connection only when
 * every open one is busy, and reuses the most recent first: a run then opens its connections
 * during its first slow moment, a burst of handshakes on both sides (about 0.5-1 ms each here)
 * exactly when the server is behind, and measures that, not the server. Measured at 1k/s on
 * `serve`: with connections opened lazily, the first 100 deliveries held 11-23 changes over
 * 10 ms; opened first, 0-2.
 */
export async function openPool(base: URL, sockets: number): Promise<Agent> {
  const agent = createAgent(sockets, 'fifo');
  await Promise.all(
    Array.from(
      { length: sockets },
      () =>
        new Promise<void>((resolve, reject) => {
          // Any answer keeps the connection (the floor server answers 401, serve 200).
          const req = request(new URL('/health', base), { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end();
        }),
    ),
  );
  return agent;
}

/** One POST; resolves with the status (0 for a transport error) and the latency. */
export function post(agent: Agent, url: URL, item: SignedBody): Promise<PostResult> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': item.body.length,
          'x-truto-signature': item.signature,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - start, body }),
        );
        res.on('error', () => resolve({ status: 0, ms: performance.now() - start, body }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - start, body: '' }));
    req.end(item.body);
  });
}

export interface LoadResult {
  readonly ms: number;
  readonly latencies: number[];
  readonly statuses: Map<number, number>;
}

/** Posts every item once with `concurrency` requests in flight (closed loop). */
export async function closedLoop(
  agent: Agent,
  url: URL,
  items: readonly SignedBody[],
  concurrency: number,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      const result = await post(agent, url, item);
      latencies.push(result.ms);
      statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - start, latencies, statuses };
}

/** Opens `GET url` as server-sent events; calls `onData` with each message's `data` text. */
export function openEventStream(
  url: URL,
  token: string,
  onData: (data: string) => void,
): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${url.pathname} answered ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (const line of message.split('\n'))
              if (line.startsWith('data: ')) onData(line.slice(6));
          }
        });
        res.on('error', () => undefined);
        resolve({ close: () => req.destroy() });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
