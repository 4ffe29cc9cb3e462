/**
 * Live notifications of appends made by other processes: one filtered `$all` subscription while
 * anyone listens. The decisions are pure (`startPlan`, `afterEnd`); `createLiveFeed` applies them
 * to a subscription source and a scheduler, both injected, so the restart logic is tested on
 * virtual time without a server.
 *
 * - Start from the head read just before subscribing, never from `END`: `END` is wherever the
 *   server is when the request arrives, so an append racing the start would be missed.
 * - A subscription counts as live once the server confirms it (`ready()`).
 * - An ended subscription, with an error or quietly (a leader change, a server restart), is
 *   restarted with a capped backoff, and listeners are told the head they missed meanwhile.
 * - A refusal that retrying cannot fix (access denied, bad credentials) stops the feed and is
 *   reported, not retried every second forever.
 */
import { StoreError } from '../errors.js';
import { translateKurrentError } from './errors.js';
import type { LiveHandlers } from './io.js';

/** Where to start: after the known head; on a resume, also the head to announce, if newer. */
export function startPlan(
  kind: 'fresh' | 'resume',
  lastSeen: number,
  head: number,
): { readonly from: number; readonly announce?: number } {
  const from = Math.max(lastSeen, head);
  return kind === 'resume' && head > lastSeen ? { from, announce: head } : { from };
}

export type AfterEnd =
  | { readonly action: 'resubscribe'; readonly delayMs: number }
  | { readonly action: 'report'; readonly error: StoreError }
  | { readonly action: 'stop' };

export interface RetryPolicy {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * What to do when a subscription ended. `failures` counts the ends since the last confirmed
 * subscription (0 for the first), so a server that keeps dropping is retried ever more slowly.
 */
export function afterEnd(input: {
  readonly error?: unknown;
  readonly wanted: boolean;
  readonly failures: number;
  readonly retry: RetryPolicy;
}): AfterEnd {
  if (!input.wanted) return { action: 'stop' };
  if (input.error !== undefined) {
    const error = translateKurrentError(input.error, 'subscribing to $all');
    if (!error.retryable) return { action: 'report', error };
  }
  const delayMs = Math.min(
    input.retry.maxDelayMs,
    input.retry.firstDelayMs * 2 ** Math.min(input.failures, 30),
  );
  return { action: 'resubscribe', delayMs };
}

/** How the feed reaches the server (store.ts wires it to `subscribeToAll`). */
export interface LiveSource {
  /** The log's head now (0 when empty). */
  head(): Promise<number>;
  /** Subscribes to log events after position `from`; returns how to close it. */
  open(from: number, on: LiveHandlers): { close(): void };
}

/** The parts of the client's subscription (a Node stream) the feed listens to. */
export interface SubscriptionEvents<E> {
  on(event: 'confirmation', listener: () => void): unknown;
  on(event: 'data', listener: (resolved: E) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  unsubscribe(): Promise<void>;
}

/**
 * Connects a client subscription to a feed's handlers. Every way it can end counts, once: an
 * error, and also a quiet `end` or `close` (the server ended the call, as on a leader change),
 * after which notifications from other processes would otherwise stop for good.
 */
export function watchSubscription<E>(
  sub: SubscriptionEvents<E>,
  positionOf: (resolved: E) => number | undefined,
  on: LiveHandlers,
): { close(): void } {
  let ended = false;
  const end = (error?: unknown): void => {
    if (ended) return;
    ended = true;
    on.ended(error);
  };
  sub.on('confirmation', () => on.confirmed());
  sub.on('data', (resolved) => {
    const position = positionOf(resolved);
    if (position !== undefined) on.position(position);
  });
  sub.on('error', (error) => end(error));
  sub.on('end', () => end());
  sub.on('close', () => end());
  return {
    close() {
      ended = true;
      void sub.unsubscribe().catch(() => undefined);
    },
  };
}

export interface LiveFeedOptions {
  readonly source: LiveSource;
  /** A log position beyond the last one seen (notify listeners). */
  readonly onPosition: (position: number) => void;
  /** A failure retrying cannot fix: the feed has stopped. */
  readonly onError: (error: StoreError) => void;
  readonly retry: RetryPolicy;
  /** Runs `fn` after `ms`; returns a cancel function. */
  readonly schedule: (fn: () => void, ms: number) => () => void;
}

export interface LiveFeed {
  /** Starts (first listener); a no-op while running. */
  start(): void;
  /** Stops (last listener gone, or the store closed). */
  stop(): void;
  /** A position this process saw by itself (its own appends). */
  seen(position: number): void;
  /** Resolves once the server has confirmed the current subscription; rejects if it stops. */
  ready(): Promise<void>;
}

export function createLiveFeed(options: LiveFeedOptions): LiveFeed {
  let wanted = false;
  let lastSeen = 0;
  let failures = 0;
  /** Identifies the current subscription: events of older ones are ignored. */
  let generation = 0;
  let current: { close(): void } | undefined;
  let cancelTimer: (() => void) | undefined;
  let waiting = deferred();

  function see(position: number): void {
    if (position <= lastSeen) return;
    lastSeen = position;
    options.onPosition(position);
  }

  async function open(kind: 'fresh' | 'resume'): Promise<void> {
    const mine = ++generation;
    let head: number;
    try {
      head = await options.source.head();
    } catch (error) {
      if (mine === generation) ended(mine, error);
      return;
    }
    if (mine !== generation || !wanted) return;
    const plan = startPlan(kind, lastSeen, head);
    if (plan.announce !== undefined) see(plan.announce);
    lastSeen = Math.max(lastSeen, plan.from);
    try {
      current = options.source.open(plan.from, {
        confirmed: () => {
          if (mine !== generation) return;
          failures = 0;
          waiting.resolve();
        },
        position: (position) => {
          if (mine === generation) see(position);
        },
        ended: (error) => ended(mine, error),
      });
    } catch (error) {
      ended(mine, error);
    }
  }

  function ended(mine: number, error?: unknown): void {
    if (mine !== generation) return;
    generation += 1;
    current?.close();
    current = undefined;
    const next = afterEnd({ error, wanted, failures, retry: options.retry });
    failures += 1;
    switch (next.action) {
      case 'stop':
        return;
      case 'report':
        wanted = false;
        waiting.reject(next.error);
        options.onError(next.error);
        return;
      case 'resubscribe':
        // Not live again until the next subscription is confirmed.
        if (waiting.settled) waiting = deferred();
        cancelTimer = options.schedule(() => {
          cancelTimer = undefined;
          if (wanted) void open('resume');
        }, next.delayMs);
    }
  }

  return {
    start() {
      if (wanted) return;
      wanted = true;
      failures = 0;
      if (waiting.settled) waiting = deferred();
      void open('fresh');
    },
    stop() {
      wanted = false;
      generation += 1;
      cancelTimer?.();
      cancelTimer = undefined;
      current?.close();
      current = undefined;
      waiting.reject(new StoreError('store_closed', 'kurrentdb: live notifications stopped'));
      waiting = deferred();
    },
    seen(position) {
      lastSeen = Math.max(lastSeen, position);
    },
    ready: () => waiting.promise,
  };
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly settled: boolean;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  let settled = false;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting: an unobserved rejection must not crash the process.
  promise.catch(() => undefined);
  return {
    promise,
    get settled() {
      return settled;
    },
    resolve() {
      settled = true;
      resolve();
    },
    reject(error) {
      settled = true;
      reject(error);
    },
  };
}
