/**
 * Change publication: every committed change goes to every subscriber, each through its own
 * bounded queue drained on a later tick.
 *
 * Buffering policy: publishing never waits for subscribers. Each subscriber has a queue of at
 * most `bufferLimit` changes; a subscriber that falls further behind is cut off with a
 * `SlowSubscriberError` (it can resume from its last `seq` with `changesSince`). A subscriber that
 * throws is reported (RxJS `onUnhandledError`) and keeps receiving; others are unaffected.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { ChangeRecord, ProjectionStore } from '../store/port.js';
import type { Change } from './types.js';

export class SlowSubscriberError extends Error {
  override readonly name = 'SlowSubscriberError';
  readonly code = 'slow_subscriber';
  constructor(
    readonly lastSeq: number,
    limit: number,
  ) {
    super(
      `subscriber fell more than ${limit} changes behind; resume with changesSince(${lastSeq})`,
    );
  }
}

/** Journal rows carry `null` for "no state before"; the API says `undefined`. */
export function toChange(record: ChangeRecord): Change {
  return {
    projection: record.projection,
    key: record.key,
    before: record.before ?? undefined,
    after: record.after,
    eventId: record.eventId,
    position: record.position,
    seq: record.seq,
  };
}

class Delivery {
  private queue: Change[] = [];
  private head = 0;
  private scheduled = false;
  private lastSeq = 0;

  constructor(
    private readonly subscriber: Subscriber<Change>,
    private readonly limit: number,
    private readonly onCutOff: (delivery: Delivery) => void,
  ) {}

  push(change: Change): void {
    if (this.queue.length - this.head >= this.limit) {
      this.onCutOff(this);
      this.subscriber.error(new SlowSubscriberError(this.lastSeq, this.limit));
      return;
    }
    this.queue.push(change);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Completes after whatever is queued has been delivered (setImmediate runs in order). */
  complete(): void {
    setImmediate(() => this.subscriber.complete());
  }

  private drain(): void {
    this.scheduled = false;
    // Deliver at most one queue's worth per tick so a busy stream does not starve the event loop.
    const end = this.queue.length;
    while (this.head < end && !this.subscriber.closed) {
      const change = this.queue[this.head++] as Change;
      this.lastSeq = change.seq;
      this.subscriber.next(change);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (!this.scheduled && !this.subscriber.closed) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }
}

export class ChangeHub {
  private readonly deliveries = new Set<Delivery>();
  private completed = false;
  /** The highest seq handed to subscribers. */
  publishedSeq = 0;

  constructor(private readonly bufferLimit: number) {}

  publish(changes: readonly Change[]): void {
    for (const change of changes) {
      if (change.seq > this.publishedSeq) this.publishedSeq = change.seq;
      for (const delivery of this.deliveries) delivery.push(change);
    }
  }

  readonly all$: Observable<Change> = new Observable<Change>((subscriber) => {
    if (this.completed) {
      subscriber.complete();
      return undefined;
    }
    const delivery = new Delivery(subscriber, this.bufferLimit, (d) => this.deliveries.delete(d));
    this.deliveries.add(delivery);
    return () => {
      this.deliveries.delete(delivery);
    };
  });

  /**
   * Journalled changes after `seq`, then live ones: subscribes live first and buffers, replays
   * the journal, then lets live changes through, skipping any seq already delivered.
   */
  since(seq: number, store: ProjectionStore, pageSize = 1000): Observable<Change> {
    return new Observable<Change>((subscriber) => {
      let last = seq;
      let replaying = true;
      const buffered: Change[] = [];
      const emit = (change: Change) => {
        if (change.seq <= last) return;
        last = change.seq;
        subscriber.next(change);
      };
      const live = this.all$.subscribe({
        next: (change) => (replaying ? buffered.push(change) : emit(change)),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      void (async () => {
        for (;;) {
          const page = await store.readChanges(last, pageSize);
          for (const record of page) emit(toChange(record));
          if (page.length < pageSize || subscriber.closed) break;
        }
        replaying = false;
        for (const change of buffered) emit(change);
        buffered.length = 0;
      })().catch((error: unknown) => subscriber.error(error));
      return () => live.unsubscribe();
    });
  }

  complete(): void {
    this.completed = true;
    for (const delivery of this.deliveries) delivery.complete();
    this.deliveries.clear();
  }
}
