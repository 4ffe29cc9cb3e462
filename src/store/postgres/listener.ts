/**
 * The live tail across processes: one dedicated connection LISTENs on the schema's channels
 * (change-journal commits NOTIFY inside their transaction, appends right after theirs, so a
 * notification means "committed"). Notifications can be lost (while that connection is down, or
 * with a process that died between an append and its NOTIFY), so a poll runs beside
 * it and a reconnect triggers an immediate poll; listeners only ever see heads move forward.
 */
import pg from 'pg';
import { clientConfig, type ConnectionSettings } from './sql.js';

export interface PgListenerOptions {
  readonly settings: ConnectionSettings;
  readonly channels: readonly string[];
  /** A NOTIFY arrived: a wake-up only (the payload is not to be trusted; anyone may NOTIFY). */
  readonly onNotify: (channel: string, payload: string | undefined, sender: number) => void;
  /** Time to look for missed commits: after (re)connecting and on every poll tick. */
  readonly onPoll: () => void;
  readonly pollIntervalMs: number;
}

export interface PgListener {
  /** Starts listening and polling (idempotent). */
  start(): void;
  /** Stops both and closes the connection. */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 5_000;

export function createPgListener(options: PgListenerOptions): PgListener {
  let running = false;
  let client: pg.Client | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoff = 100;

  async function connect(): Promise<void> {
    if (!running) return;
    const next = new pg.Client(clientConfig(options.settings));
    client = next;
    // Any error or end on this connection: drop it and reconnect later.
    const lost = (): void => {
      if (client !== next) return;
      client = undefined;
      next.removeAllListeners('notification');
      void next.end().catch(() => undefined);
      scheduleReconnect();
    };
    next.on('error', lost);
    next.on('end', lost);
    next.on('notification', (msg) => options.onNotify(msg.channel, msg.payload, msg.processId));
    try {
      await next.connect();
      for (const channel of options.channels) await next.query(`LISTEN "${channel}"`);
      if (client !== next || !running) {
        await next.end().catch(() => undefined);
        return;
      }
      backoff = 100;
      // Commits may have happened while we were not listening.
      options.onPoll();
    } catch {
      lost();
    }
  }

  function scheduleReconnect(): void {
    if (!running || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, backoff);
    retryTimer.unref();
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  return {
    start() {
      if (running) return;
      running = true;
      void connect();
      pollTimer = setInterval(options.onPoll, options.pollIntervalMs);
      pollTimer.unref();
    },
    async stop() {
      running = false;
      if (pollTimer) clearInterval(pollTimer);
      if (retryTimer) clearTimeout(retryTimer);
      pollTimer = undefined;
      retryTimer = undefined;
      const current = client;
      client = undefined;
      if (current) {
        current.removeAllListeners('notification');
        await current.end().catch(() => undefined);
      }
    },
  };
}
