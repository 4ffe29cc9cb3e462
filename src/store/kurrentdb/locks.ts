/**
 * In-process ordering for appends. `run(keys, fn)` queues `fn` behind every earlier call sharing a
 * key. Queues are joined synchronously, at call time, so calls made in input order run in input
 * order per key, and waits always point to earlier calls: no cycle, no deadlock, whatever the
 * overlap of keys.
 */
export interface KeyedQueue {
  run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T>;
}

export function createKeyedQueue(): KeyedQueue {
  const tails = new Map<string, Promise<void>>();
  return {
    async run(keys, fn) {
      const unique = [...new Set(keys)];
      const before = unique.map((key) => tails.get(key));
      let release!: () => void;
      const done = new Promise<void>((resolve) => (release = resolve));
      for (const key of unique) tails.set(key, done);
      try {
        await Promise.all(before);
        return await fn();
      } finally {
        release();
        for (const key of unique) if (tails.get(key) === done) tails.delete(key);
      }
    },
  };
}

/** At most `limit` calls of `fn` at once (bounds the gRPC calls one large batch opens). */
export function createLimiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    // A finishing call hands its slot straight to the next waiter, so `active` never overshoots.
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active += 1;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
