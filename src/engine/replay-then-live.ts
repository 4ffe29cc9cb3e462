/**
 * Replay, then live, without gap or repeat: the one operator behind `changesSince` (journal rows,
 * then live changes) and `watch` (the current state, then the changes after it).
 *
 * It subscribes to the live stream first and buffers it, runs the replay (which emits into the
 * subscriber), then lets the buffered and later live values through, each only when `isNew`
 * says the replay did not already cover it. Subscribing first is what closes the gap: a value
 * committed while the replay reads is in the buffer.
 */
import type { Subscriber } from 'rxjs';
import { Observable } from './rx.js';

export interface ReplayThenLive<T, R> {
  readonly live$: Observable<T>;
  /** Emits the replayed values; resolves when done. Called once per subscription. */
  replay(subscriber: Subscriber<R>): Promise<void>;
  /** Maps a live value to what is emitted, or `undefined` to drop it (already covered). */
  pass(value: T, subscriber: Subscriber<R>): void;
}

/**
 * @example
 * replayThenLive({
 *   live$: hub.all$,
 *   replay: async (out) => { for (const c of await journal.after(seq)) { last = c.seq; out.next(c); } },
 *   pass: (c, out) => { if (c.seq > last) { last = c.seq; out.next(c); } },
 * });
 */
export function replayThenLive<T, R>(options: ReplayThenLive<T, R>): Observable<R> {
  return new Observable<R>((subscriber) => {
    let replaying = true;
    const buffered: T[] = [];
    const live = options.live$.subscribe({
      next: (value) => (replaying ? buffered.push(value) : options.pass(value, subscriber)),
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    options.replay(subscriber).then(
      () => {
        replaying = false;
        for (const value of buffered) {
          if (subscriber.closed) break;
          options.pass(value, subscriber);
        }
        buffered.length = 0;
      },
      (error: unknown) => subscriber.error(error),
    );
    return () => live.unsubscribe();
  });
}
