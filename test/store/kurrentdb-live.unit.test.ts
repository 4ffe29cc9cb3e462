/**
 * Live notifications on KurrentDB (src/store/kurrentdb/live.ts): where a subscription starts,
 * what happens when it ends, and the feed that applies those decisions, on a scripted
 * subscription source and virtual time. The client's error classes are the real ones.
 */
import { EventEmitter } from 'node:events';
import { AccessDeniedError, UnavailableError } from '@kurrent/kurrentdb-client';
import { describe, expect, it } from 'vitest';
import type { StoreError } from '../../src/store/errors.js';
import { createKurrentStoreOnIo } from '../../src/store/kurrentdb/store.js';
import { makeEvent } from '../support/events.js';
import { createServerModel } from '../support/kurrentdb-model.js';
import {
  afterEnd,
  createLiveFeed,
  startPlan,
  watchSubscription,
  type LiveSource,
  type SubscriptionEvents,
} from '../../src/store/kurrentdb/live.js';

const retry = { firstDelayMs: 1000, maxDelayMs: 8000 };

/** Lets pending promise callbacks run (no time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('where a live subscription starts', () => {
  it('from the head read before subscribing, never from wherever the server is (END)', () => {
    expect(startPlan('fresh', 0, 40)).toEqual({ from: 40 });
    // Its own appends may be ahead of a head read a moment earlier.
    expect(startPlan('fresh', 50, 40)).toEqual({ from: 50 });
  });

  it('after a drop, from the head now, announcing it when events came in meanwhile', () => {
    expect(startPlan('resume', 40, 55)).toEqual({ from: 55, announce: 55 });
    expect(startPlan('resume', 40, 40)).toEqual({ from: 40 });
  });
});

describe('when a live subscription ends', () => {
  it('reports access denied (and bad credentials) instead of retrying it forever', () => {
    const next = afterEnd({ error: new AccessDeniedError(), wanted: true, failures: 0, retry });
    expect(next.action).toBe('report');
    expect(next.action === 'report' && next.error.code).toBe('store_failed');
  });

  it('re-subscribes after a quiet close or a transient error, backing off up to a cap', () => {
    expect(afterEnd({ wanted: true, failures: 0, retry })).toEqual({
      action: 'resubscribe',
      delayMs: 1000,
    });
    const delays = [0, 1, 2, 3, 4, 40].map((failures) => {
      const next = afterEnd({ error: new UnavailableError(), wanted: true, failures, retry });
      return next.action === 'resubscribe' ? next.delayMs : next.action;
    });
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('stops when nobody listens any more', () => {
    expect(afterEnd({ error: new UnavailableError(), wanted: false, failures: 0, retry })).toEqual({
      action: 'stop',
    });
  });
});

describe('the live feed', () => {
  interface Opened {
    readonly from: number;
    readonly on: Parameters<LiveSource['open']>[1];
    closed: boolean;
  }

  function harness(heads: number[]) {
    const opened: Opened[] = [];
    const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
    const positions: number[] = [];
    const errors: StoreError[] = [];
    const source: LiveSource = {
      head: async () => heads.shift() ?? 0,
      open(from, on) {
        const entry: Opened = { from, on, closed: false };
        opened.push(entry);
        return { close: () => (entry.closed = true) };
      },
    };
    const feed = createLiveFeed({
      source,
      onPosition: (p) => positions.push(p),
      onError: (e) => errors.push(e),
      retry,
      schedule(fn, ms) {
        const timer = { fn, ms, cancelled: false };
        timers.push(timer);
        return () => (timer.cancelled = true);
      },
    });
    /** Fires the pending timers (virtual time). */
    const fire = async () => {
      for (const timer of timers.splice(0)) if (!timer.cancelled) timer.fn();
      await settle();
    };
    return { feed, opened, timers, positions, errors, fire };
  }

  it('starts after the head, is live once the server confirms, and passes new positions on', async () => {
    const h = harness([40]);
    h.feed.start();
    await settle();
    expect(h.opened.map((o) => o.from)).toEqual([40]);
    let live = false;
    void h.feed.ready().then(() => (live = true));
    await settle();
    expect(live).toBe(false);
    h.opened[0]!.on.confirmed();
    await settle();
    expect(live).toBe(true);
    h.opened[0]!.on.position(40); // at the start position: not new
    h.opened[0]!.on.position(47);
    expect(h.positions).toEqual([47]);
  });

  it('re-subscribes after a quiet close, from the head, announcing what it missed', async () => {
    const h = harness([40, 55]);
    h.feed.start();
    await settle();
    h.opened[0]!.on.confirmed();
    h.opened[0]!.on.ended();
    expect(h.opened[0]!.closed).toBe(true);
    expect(h.timers.map((t) => t.ms)).toEqual([1000]);
    await h.fire();
    expect(h.opened.map((o) => o.from)).toEqual([40, 55]);
    expect(h.positions).toEqual([55]);
    // Events of the old subscription no longer count.
    h.opened[0]!.on.position(99);
    expect(h.positions).toEqual([55]);
  });

  it('reports access denied once, stops, and fails `ready()`; nothing is retried', async () => {
    const h = harness([40]);
    h.feed.start();
    await settle();
    const ready = h.feed.ready();
    h.opened[0]!.on.ended(new AccessDeniedError());
    await expect(ready).rejects.toMatchObject({ code: 'store_failed' });
    expect(h.errors.map((e) => e.code)).toEqual(['store_failed']);
    expect(h.timers).toEqual([]);
  });

  it('a head that cannot be read is retried like a dropped subscription', async () => {
    const h = harness([]);
    const failing: LiveSource['head'] = async () => {
      throw new UnavailableError();
    };
    const feed = createLiveFeed({
      source: { head: failing, open: () => ({ close: () => undefined }) },
      onPosition: () => undefined,
      onError: (e) => h.errors.push(e),
      retry,
      schedule: (fn, ms) => {
        h.timers.push({ fn, ms, cancelled: false });
        return () => undefined;
      },
    });
    feed.start();
    await settle();
    expect(h.timers.map((t) => t.ms)).toEqual([1000]);
    expect(h.errors).toEqual([]);
  });

  it('a subscription that cannot be opened is an end too, not an unhandled rejection', async () => {
    const errors: StoreError[] = [];
    const feed = createLiveFeed({
      source: {
        head: async () => 0,
        open: () => {
          throw new AccessDeniedError();
        },
      },
      onPosition: () => undefined,
      onError: (e) => errors.push(e),
      retry,
      schedule: () => () => undefined,
    });
    feed.start();
    await expect(feed.ready()).rejects.toMatchObject({ code: 'store_failed' });
    expect(errors).toHaveLength(1);
  });

  it('stops cleanly: the subscription is closed and a pending retry cancelled', async () => {
    const h = harness([40]);
    h.feed.start();
    await settle();
    const ready = h.feed.ready();
    h.opened[0]!.on.ended(new UnavailableError());
    expect(h.timers).toHaveLength(1);
    h.feed.stop();
    await h.fire();
    expect(h.opened).toHaveLength(1);
    await expect(ready).rejects.toMatchObject({ code: 'store_closed' });
  });
});

describe('a client subscription, as the feed sees it', () => {
  /** A stand-in with the client subscription's event names (it is a Node stream). */
  function subscription() {
    const emitter = new EventEmitter();
    let unsubscribed = 0;
    const sub = Object.assign(emitter, {
      unsubscribe: async () => {
        unsubscribed += 1;
      },
    }) as EventEmitter & SubscriptionEvents<{ position?: number }>;
    return { sub, unsubscribed: () => unsubscribed };
  }

  function watch(sub: SubscriptionEvents<{ position?: number }>) {
    const seen: string[] = [];
    const handle = watchSubscription(sub, (e) => e.position, {
      confirmed: () => seen.push('confirmed'),
      position: (p) => seen.push(`at ${p}`),
      ended: (error) => seen.push(error ? `ended: ${(error as Error).message}` : 'ended quietly'),
    });
    return { seen, handle };
  }

  it('counts a quiet end (`end` or `close`) as an end, once', () => {
    for (const events of [['end'], ['close'], ['end', 'close']]) {
      const { sub } = subscription();
      const { seen } = watch(sub);
      sub.emit('confirmation');
      sub.emit('data', { position: 12 });
      sub.emit('data', {});
      for (const event of events) sub.emit(event);
      expect(seen, events.join('+')).toEqual(['confirmed', 'at 12', 'ended quietly']);
    }
  });

  it('passes an error on as the end, and closing it ourselves is not an end', () => {
    const first = subscription();
    const a = watch(first.sub);
    first.sub.emit('error', new Error('denied'));
    first.sub.emit('close');
    expect(a.seen).toEqual(['ended: denied']);

    const second = subscription();
    const b = watch(second.sub);
    b.handle.close();
    second.sub.emit('error', new Error('cancelled'));
    expect(b.seen).toEqual([]);
    expect(second.unsubscribed()).toBe(1);
  });
});

describe('live notifications through the store (two processes on a model of the server)', () => {
  it("tells one store of another's appends once its subscription is confirmed", async () => {
    const model = createServerModel();
    const open = () => createKurrentStoreOnIo(model, {}, async () => undefined);
    const watcher = open();
    const writer = open();
    try {
      await writer.append([makeEvent('before')]);
      const heard: number[] = [];
      const next = new Promise<number>((resolve) =>
        watcher.onAppend((head) => {
          heard.push(head);
          resolve(head);
        }),
      );
      await watcher.whenLive();
      const [outcome] = await writer.append([makeEvent('remote')]);
      expect(await next).toBe(outcome?.position);
      expect(heard).toEqual([outcome?.position]);
    } finally {
      await Promise.all([watcher.close(), writer.close()]);
    }
  });

  it('reports a refused subscription through onLiveError', async () => {
    const model = createServerModel();
    const errors: StoreError[] = [];
    const store = createKurrentStoreOnIo(
      {
        ...model,
        subscribeAll(_from, _prefixes, on) {
          queueMicrotask(() => on.ended(new AccessDeniedError()));
          return { close: () => undefined };
        },
      },
      { onLiveError: (error) => errors.push(error) },
      async () => undefined,
    );
    try {
      store.onAppend(() => undefined);
      await expect(store.whenLive()).rejects.toMatchObject({ code: 'store_failed' });
      expect(errors.map((e) => e.code)).toEqual(['store_failed']);
    } finally {
      await store.close();
    }
  });
});
