/**
 * Group commit: `append` calls that arrive while a commit runs, or in the same tick, share the
 * next transaction. Each caller's promise settles only after the transaction holding its events
 * committed (or failed). The queue is bounded in events: past the bound, callers are refused
 * with `store_overloaded` at once (back-pressure) rather than queued without limit.
 */
import { StoreError, isStoreError } from '../errors.js';

/**
 * A commit has a fixed cost (the fsync, the index and counter pages written whole), so under load
 * a group waits one timer turn (about 1 ms) for more appends when the previous group held at least
 * this many events and fewer are queued yet: with many concurrent senders (64 connections), the
 * answers of one group come back as the next one, and committing them as one group instead of
 * several cut the receiver's CPU per request by about 7% (bench `http`). Small groups (a quiet
 * log) never wait.
 */
const GATHER_FROM = 16;

export interface GroupCommitOptions<In, Out> {
  /** Most events waiting for a transaction before new appends are refused. */
  readonly maxPending: number;
  /**
   * Commits every queued request in one transaction; returns each request's result in order.
   * When the transaction fails deterministically (see `isolates`), each request of the group is
   * committed again on its own, so only the requests that fail alone get the error.
   */
  readonly commit: (requests: readonly In[]) => Promise<Out[]> | Out[];
  /** Events a request carries (for the bound). */
  readonly sizeOf: (request: In) => number;
  /**
   * Most events in one transaction (default: no limit); the rest wait for the next one. Keeps
   * each group one transaction, all or nothing, which the per-request retry relies on.
   */
  readonly maxBatch?: number;
  /**
   * For a store whose commits reach the disk later, in syncs shared by several commits
   * (SQLite): resolves once everything committed so far is on disk. A group's callers are
   * answered after it; the next group may commit meanwhile, and the same sync then covers it.
   */
  readonly durable?: () => Promise<void>;
}

export interface GroupCommit<In, Out> {
  submit(request: In): Promise<Out>;
  /** Resolves once everything queued so far has been committed or failed. */
  drain(): Promise<void>;
  /** Events waiting for a transaction. */
  readonly pending: number;
}

interface Waiter<In, Out> {
  readonly request: In;
  readonly resolve: (value: Out) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Whether a failed group is retried request by request: deterministic failures (the store
 * refused a value, or an unexpected fault), not conditions that fail every request alike (busy,
 * full, unreachable, overloaded, closed), which retrying alone would only prolong.
 */
export function isolates(error: unknown): boolean {
  return !isStoreError(error) || error.code === 'store_rejected' || error.code === 'store_failed';
}

export function createGroupCommit<In, Out>(
  options: GroupCommitOptions<In, Out>,
): GroupCommit<In, Out> {
  let queue: Waiter<In, Out>[] = [];
  let pending = 0;
  let scheduled = false;
  let running: Promise<void> | undefined;
  let lastGroup = 0;
  let waited = false;
  /** Committed groups waiting for the disk (`durable`) before their callers are answered. */
  const syncing = new Set<Promise<void>>();

  // setImmediate (not a microtask) so appends issued in the same tick, including those
  // resolved from one Promise.all, land in one transaction.
  function schedule(): void {
    if (scheduled || running) return;
    scheduled = true;
    setImmediate(() => {
      // Under load, once: let the appends on their way join this group (see GATHER_FROM).
      if (lastGroup >= GATHER_FROM && pending < lastGroup && !waited) {
        waited = true;
        setTimeout(() => {
          scheduled = false;
          schedule();
        }, 0);
        return;
      }
      waited = false;
      scheduled = false;
      lastGroup = pending;
      running = flush().finally(() => {
        running = undefined;
        if (queue.length > 0) schedule();
      });
    });
  }

  async function flush(): Promise<void> {
    const maxBatch = options.maxBatch ?? Number.POSITIVE_INFINITY;
    let taken = 0;
    let size = 0;
    while (taken < queue.length) {
      const next = options.sizeOf((queue[taken] as Waiter<In, Out>).request);
      if (taken > 0 && size + next > maxBatch) break;
      size += next;
      taken += 1;
    }
    const group = queue.slice(0, taken);
    queue = queue.slice(taken);
    pending -= size;
    if (group.length === 0) return;
    try {
      const results = await options.commit(group.map((w) => w.request));
      if (!options.durable) {
        group.forEach((w, i) => w.resolve(results[i] as Out));
        return;
      }
      const synced = options.durable().then(
        () => group.forEach((w, i) => w.resolve(results[i] as Out)),
        (error: unknown) => group.forEach((w) => w.reject(error)),
      );
      syncing.add(synced);
      void synced.finally(() => syncing.delete(synced));
    } catch (error) {
      if (group.length === 1 || !isolates(error)) {
        for (const w of group) w.reject(error);
        return;
      }
      // The transaction rolled back as a whole: each request alone, in order, so one caller's
      // unstorable event fails that caller, and every other caller gets its own outcome.
      for (const w of group) {
        try {
          const [result] = await options.commit([w.request]);
          await options.durable?.();
          w.resolve(result as Out);
        } catch (alone) {
          w.reject(alone);
        }
      }
    }
  }

  return {
    submit(request) {
      const size = options.sizeOf(request);
      // An oversized request is still admitted into an empty queue, or it could never commit.
      if (pending > 0 && pending + size > options.maxPending) {
        return Promise.reject(
          new StoreError(
            'store_overloaded',
            `too many appends waiting (${pending} events queued, limit ${options.maxPending})`,
          ),
        );
      }
      pending += size;
      return new Promise<Out>((resolve, reject) => {
        queue.push({ request, resolve, reject });
        schedule();
      });
    },
    async drain() {
      while (running || scheduled || queue.length > 0 || syncing.size > 0) {
        if (running) await running;
        else if (syncing.size > 0) await Promise.all(syncing);
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
    get pending() {
      return pending;
    },
  };
}
