/**
 * The thin node:http bridge: turns node requests into `HttpRequest`s for the app, reads webhook
 * bodies under the limit, writes buffered and streamed responses, times and logs each request,
 * and shuts down gracefully.
 *
 * Against slow senders: `headersTimeout` (headers trickled in), `requestTimeout` (the whole
 * request, body included) and `keepAliveTimeout` (idle connections).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Subscription } from 'rxjs';
import { performance } from 'node:perf_hooks';
import { createApp, DEFAULT_MAX_BODY, type App, type AppOptions } from './app.js';
import { readBody } from './body.js';
import { errorResponse } from './errors.js';
import {
  isStreamResponse,
  type BufferedResponse,
  type HttpRequest,
  type StreamResponse,
} from './types.js';

export const DEFAULT_MAX_STREAMS = 100;

/** How long a refused body may keep arriving after the answer before the connection is dropped. */
const LINGER_MS = 2_000;

export interface HttpServiceOptions extends AppOptions {
  /** Milliseconds to receive the request headers (default 10 s). */
  readonly headersTimeout?: number;
  /** Milliseconds to receive the whole request (default 30 s). */
  readonly requestTimeout?: number;
  /** Milliseconds an idle keep-alive connection stays open (default 5 s). */
  readonly keepAliveTimeout?: number;
  /** How often node checks the two timeouts above (default 1 s). */
  readonly timeoutCheckInterval?: number;
  /** Milliseconds between SSE heartbeat comments (default 15 s). */
  readonly heartbeatMs?: number;
  /** Bytes an SSE client may leave unread before the stream pauses for it (default 1 MiB). */
  readonly sseMaxBufferedBytes?: number;
  /** Milliseconds a paused SSE client has to drain before it is cut off (default 30 s). */
  readonly sseDrainTimeoutMs?: number;
  /**
   * Change streams open at once (default 100); beyond it `/changes` answers 503 with
   * Retry-After. Each stream holds a socket, a subscription and its buffer (1,000 idle streams
   * took 1,000 descriptors and 386 MB).
   */
  readonly maxStreams?: number;
  /** Milliseconds `close()` waits for in-flight requests before dropping connections (default 10 s). */
  readonly shutdownGraceMs?: number;
}

export interface HttpService {
  readonly app: App;
  readonly server: Server;
  /** Starts listening; resolves with the base URL, showing the real port (`--port 0`). */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting, ends change streams, lets in-flight requests finish. Does not close the engine. */
  close(): Promise<void>;
}

/**
 * @example
 * const service = createHttpService({ engine, secrets: ['s'], logger });
 * const url = await service.listen(0, '127.0.0.1'); // 'http://127.0.0.1:41234'
 * await service.close();
 */
export function createHttpService(options: HttpServiceOptions): HttpService {
  const app = createApp(options);
  const { logger, metrics } = app;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
  const sseMaxBuffered = options.sseMaxBufferedBytes ?? 1024 * 1024;
  const drainTimeoutMs = options.sseDrainTimeoutMs ?? 30_000;
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const streams = new Set<() => void>();
  let closing = false;

  const server = createServer({
    headersTimeout: options.headersTimeout ?? 10_000,
    requestTimeout: options.requestTimeout ?? 30_000,
    keepAliveTimeout: options.keepAliveTimeout ?? 5_000,
    connectionsCheckingInterval: options.timeoutCheckInterval ?? 1_000,
  });

  const observe = (method: string, route: string, status: number, started: number): void => {
    const seconds = (performance.now() - started) / 1000;
    metrics.httpDuration.observe({ method, route, status: String(status) }, seconds);
    logger.debug({ method, route, status, ms: Math.round(seconds * 1e4) / 10 }, 'request');
  };

  const sendBuffered = (res: ServerResponse, response: BufferedResponse, close: boolean): void => {
    const headers: Record<string, string | number> = { ...response.headers };
    const body = response.body ?? '';
    headers['content-length'] = Buffer.byteLength(body);
    // While shutting down, the connection closes after this response instead of staying open
    // for another request.
    if (close || closing) headers.connection = 'close';
    res.writeHead(response.status, headers);
    res.end(body);
  };

  const sendStream = (res: ServerResponse, response: StreamResponse): void => {
    res.writeHead(response.status, { ...response.headers });
    res.flushHeaders();
    metrics.sseClients.inc();
    let ended = false;
    let paused = false;
    let lastId: string | undefined;
    let subscription: Subscription | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      clearTimeout(drainTimer);
      subscription?.unsubscribe();
      streams.delete(end);
      metrics.sseClients.dec();
      if (!res.writableEnded) res.end();
    };
    const cutOff = (): void => {
      metrics.sseCutOff.inc();
      logger.warn(
        { buffered: res.writableLength, lastId },
        'change-stream client not keeping up: cut off',
      );
      end();
      res.destroy();
    };
    // Past the bound, stop taking messages and resume from the last id once the client drained.
    const pause = (): void => {
      if (lastId === undefined) return cutOff();
      paused = true;
      subscription?.unsubscribe();
      drainTimer = setTimeout(cutOff, drainTimeoutMs);
      res.once('drain', () => {
        clearTimeout(drainTimer);
        if (ended) return;
        paused = false;
        open(lastId);
      });
    };
    const write = (text: string, id?: string): void => {
      if (ended || paused) return;
      res.write(text);
      if (id !== undefined) lastId = id;
      if (res.writableLength > sseMaxBuffered) pause();
    };
    const open = (after: string | undefined): void => {
      const next = response.open(after).subscribe({
        next: (message) => write(message.text, message.id),
        error: (error: unknown) => {
          logger.warn({ err: error }, 'change stream ended with an error');
          write(
            `event: error\ndata: ${JSON.stringify({ error: 'stream_failed', message: (error as Error).message })}\n\n`,
          );
          end();
        },
        complete: end,
      });
      // It may have ended or paused synchronously, before `next` was returned.
      if (ended || paused) next.unsubscribe();
      else subscription = next;
    };
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    heartbeat.unref();
    streams.add(end);
    res.on('close', end);
    open(undefined);
  };

  /**
   * After answering a request whose body is still arriving and is large or of unknown size (413,
   * or a refusal sent before reading it): stop reading it (memory stays flat), answer with
   * `Connection: close`, end our side of the connection, and destroy the socket once the sender
   * closes or after `LINGER_MS`. Destroying at once would reset the connection while the sender
   * is still writing, and a reset discards our answer from the sender's receive buffer.
   */
  const linger = (req: IncomingMessage): void => {
    const socket = req.socket;
    // Paused: node reads the socket only until the request's small buffer is full.
    req.pause();
    // After a `Connection: close` answer node calls destroySoon(): end, then destroy at once.
    // Only end our side here; the socket goes when the sender closes, or by the timer.
    socket.destroySoon = () => {
      socket.end();
    };
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };

  /** Whether what is left of a request body is small enough to read and drop for keep-alive. */
  const smallRest = (req: IncomingMessage): boolean => {
    if (req.complete) return true;
    const declared = Number(req.headers['content-length']);
    return (
      req.headers['transfer-encoding'] === undefined &&
      Number.isFinite(declared) &&
      declared <= maxBody
    );
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const request = toRequest(req);
    const prepared = app.prepare(request);
    let response;
    if (prepared.kind === 'body') {
      const result = await readBody(req, prepared.limit);
      if (!result.ok && result.reason === 'aborted') {
        // The client went away mid-body: nobody to answer.
        observe(method, prepared.route, 499, started);
        res.destroy();
        return;
      }
      response = result.ok ? await prepared.respond(result.body) : prepared.tooLarge();
    } else {
      response = await prepared.respond();
    }
    if (res.destroyed) return;
    if (isStreamResponse(response) && streams.size >= maxStreams) {
      response = errorResponse(
        'too_many_streams',
        `${maxStreams} change streams are open, the most this service keeps; retry later`,
      );
    }
    if (isStreamResponse(response)) {
      observe(method, prepared.route, response.status, started);
      sendStream(res, response);
      return;
    }
    // A small unread rest is read and dropped by node (keep-alive as usual); a large one is not.
    const stopReading = !smallRest(req);
    if (stopReading) linger(req);
    sendBuffered(res, response, stopReading);
    observe(method, prepared.route, response.status, started);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent)
        sendBuffered(
          res,
          { status: 500, body: '{"error":"internal","message":"internal error"}' },
          true,
        );
      else res.destroy();
    });
  });

  return {
    app,
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${shown}:${address.port}`);
        });
      }),
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const end of [...streams]) end();
      server.closeIdleConnections();
      const grace = setTimeout(
        () => server.closeAllConnections(),
        options.shutdownGraceMs ?? 10_000,
      );
      grace.unref();
      await closed;
      clearTimeout(grace);
    },
  };
}

function toRequest(req: IncomingMessage): HttpRequest {
  const raw = req.url ?? '/';
  let path: string;
  let search: string;
  if (raw.startsWith('/')) {
    const q = raw.indexOf('?');
    path = q < 0 ? raw : raw.slice(0, q);
    search = q < 0 ? '' : raw.slice(q + 1);
  } else {
    // Absolute-form request target (proxies): keep only path and query.
    try {
      const url = new URL(raw);
      path = url.pathname;
      search = url.search.slice(1);
    } catch {
      path = raw;
      search = '';
    }
  }
  return {
    method: req.method ?? 'GET',
    path,
    query: new URLSearchParams(search),
    headers: req.headers,
  };
}
