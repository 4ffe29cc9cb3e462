/**
 * Change publication. The durable journal is the one source of what is published: every
 * committed journal row reaches every live subscriber, in seq order, whoever committed it (this
 * engine, a CLI command beside it, another instance). Rows this engine just committed are
 * published at once when they follow what was published; anything else is read from the journal.
 *
 * Buffering policy: publishing never waits for subscribers. Each subscriber has a queue of at
 * most `bufferLimit` changes; a subscriber that falls further behind is cut off with a
 * `SlowSubscriberError` (it can resume from its last `seq` with `changesSince`).
 */
import type { Subscriber } from 'rxjs';
import { Observable } from './rx.js';
import type { ChangeRecord, ProjectionStore } from '../store/port.js';
import { describeError } from './errors.js';
import type { Logger } from './logger.js';
import { singleFlight } from './single-flight.js';
import type { Change, ProjectionReset } from './types.js';

/** What the hub publishes: a change, or a projection's reset. */
export type EngineChange = Change | ProjectionReset;

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

/**
 * A reset is journalled as a row without an event (no change ever lacks one): the journal keeps
 * one shape, and a client resuming across a rebuild meets the reset in order.
 */
export function resetRecord(projection: string, position: number): Omit<ChangeRecord, 'seq'> {
  return { projection, key: '', before: null, after: null, eventId: '', position };
}

/** A journal row as the API shows it (rows carry `null` for "no state before"). */
export function toEngineChange(record: ChangeRecord): EngineChange {
  if (record.eventId === '') {
    return { kind: 'reset', projection: record.projection, reason: 'rebuilt', seq: record.seq };
  }
  return {
    kind: 'change',
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
  private queue: EngineChange[] = [];
  private head = 0;
  private scheduled = false;
  private lastSeq = 0;

  constructor(
    private readonly subscriber: Subscriber<EngineChange>,
    private readonly limit: number,
    private readonly onCutOff: (delivery: Delivery) => void,
  ) {}

  push(change: EngineChange): void {
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
    // Deliver at most one queue's worth per turn so a busy stream does not starve the event loop.
    const end = this.queue.length;
    while (this.head < end && !this.subscriber.closed) {
      const change = this.queue[this.head++] as EngineChange;
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
  private readonly puller = singleFlight(() => this.pullOnce());

  constructor(
    private readonly journal: Pick<ProjectionStore, 'readChanges' | 'lastChangeSeq'>,
    private readonly bufferLimit: number,
    private readonly logger: Logger,
  ) {}

  /** Whether anyone is subscribed now. */
  get watched(): boolean {
    return this.deliveries.size > 0;
  }

  /**
   * Rows this engine committed. Published at once when they directly follow what was published
   * (the common case); otherwise someone else committed in between and the journal is read.
   */
  offer(records: readonly ChangeRecord[]): void {
    const first = records[0];
    if (first === undefined) return;
    if (!this.watched && this.puller.current === undefined) {
      // Nobody to publish to: what came before these rows (other committers') would be read
      // only to be dropped. A subscriber from now on gets what is committed after it came.
      this.publishedSeq = Math.max(this.publishedSeq, (records.at(-1) as ChangeRecord).seq);
      return;
    }
    if (first.seq === this.publishedSeq + 1 && this.puller.current === undefined) {
      this.publish(records);
    } else {
      void this.pull();
    }
  }

  /** Publishes every journal row after `publishedSeq` (single flight; errors are logged). */
  pull(): Promise<void> {
    return this.puller.run().catch((error: unknown) => {
      if (!this.completed) {
        this.logger.error(
          { err: error, detail: describeError(error) },
          'reading the change journal failed',
        );
      }
    });
  }

  private async pullOnce(): Promise<void> {
    if (!this.watched) {
      // Nobody to publish to (a catch-up, `dump`, an instance nobody watches): the rows would be
      // read and decoded only to be dropped. As in offer(), a subscriber from now on gets what
      // is committed after it came.
      this.publishedSeq = Math.max(this.publishedSeq, await this.journal.lastChangeSeq());
      return;
    }
    for (;;) {
      const page = await this.journal.readChanges(this.publishedSeq, 1_000);
      this.publish(page);
      if (page.length < 1_000 || this.completed) return;
    }
  }

  private publish(records: readonly ChangeRecord[]): void {
    for (const record of records) {
      if (record.seq <= this.publishedSeq) continue;
      this.publishedSeq = record.seq;
      const change = toEngineChange(record);
      for (const delivery of this.deliveries) delivery.push(change);
    }
  }

  readonly all$: Observable<EngineChange> = new Observable<EngineChange>((subscriber) => {
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

  complete(): void {
    this.completed = true;
    for (const delivery of this.deliveries) delivery.complete();
    this.deliveries.clear();
  }
}
