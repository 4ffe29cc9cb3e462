/**
 * The live pump: follows the log's head and runs the live runners to it, one batch run at a time
 * (single flight: appends announced during a run cause one more run, not many). A failed run is
 * retried with backoff on the engine's scheduler; the checkpoint did not move.
 *
 * Batching: each projection commit has a fixed cost (the states, journal and index pages it
 * dirties are written whole, whatever the number of events), so under a steady stream of large
 * append groups (a loaded receiver) a run waits up to COALESCE_MS for the lag to reach
 * COALESCE_EVENTS, folding several append groups into one commit. Small groups (a quiet or
 * moderately busy log, where publication latency matters) are projected at once.
 */
import { describeError } from './errors.js';
import type { Logger } from './logger.js';
import { singleFlight } from './single-flight.js';
import type { Timers } from './timers.js';

const COALESCE_FROM_EVENTS = 32;
const COALESCE_EVENTS = 256;
const COALESCE_MS = 20;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export interface PumpContext {
  /** The head as the store reports it now. */
  head(): Promise<number>;
  /** Runs the live runners to `head` (under the engine's lock). */
  project(head: number): Promise<void>;
  /** The lowest position every live runner has applied. */
  position(): number;
  /** Whether there is a live runner (a shared-store instance may hold no partition). */
  active(): boolean;
  readonly timers: Timers;
  readonly logger: Logger;
}

export class LivePump {
  /** The highest head the store announced. */
  private knownHead = 0;
  private closed = false;
  private retryDelay = RETRY_MIN_MS;
  private cancelRetry: (() => void) | undefined;
  private waiting: (() => void) | undefined;
  private readonly flight = singleFlight(() => this.runOnce());

  constructor(private readonly context: PumpContext) {}

  /** Asks for a run (after an append announced `head`, or to retry). */
  schedule(head = 0): void {
    if (this.closed) return;
    if (head > this.knownHead) this.knownHead = head;
    if (this.flight.current) {
      if (this.lag() >= COALESCE_EVENTS) this.waiting?.();
      void this.flight.run();
      return;
    }
    this.flight.run().then(
      () => {
        this.retryDelay = RETRY_MIN_MS;
      },
      (error: unknown) => {
        if (this.closed) return;
        this.context.logger.warn(
          { err: error, detail: describeError(error), retryInMs: this.retryDelay },
          'projection failed; retrying',
        );
        this.cancelRetry = this.context.timers.after(this.retryDelay, () => this.schedule());
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      },
    );
  }

  /** The run under way (if any) has finished. */
  async idle(): Promise<void> {
    await this.flight.current?.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelRetry?.();
    this.waiting?.();
    await this.idle();
  }

  private lag(): number {
    return Math.max(0, this.knownHead - this.context.position());
  }

  private async runOnce(): Promise<void> {
    await this.settle();
    if (this.closed || !this.context.active()) return;
    // A head the store announced past where the runners stand is read already (on a shared
    // store, one read per wake-up instead of two); otherwise (start-up, a retry) ask the store.
    const head =
      this.knownHead > this.context.position() ? this.knownHead : await this.context.head();
    await this.context.project(head);
  }

  /**
   * Before a live batch: first let the current turn finish (the append that announced itself is
   * answered and its response written before the projection takes the thread), then, when the
   * appends come in large groups, wait a little for more of them.
   */
  private async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const lag = this.lag();
    if (lag < COALESCE_FROM_EVENTS || lag >= COALESCE_EVENTS || this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        cancel();
        this.waiting = undefined;
        resolve();
      };
      const cancel = this.context.timers.after(COALESCE_MS, done);
      this.waiting = done;
    });
  }
}
