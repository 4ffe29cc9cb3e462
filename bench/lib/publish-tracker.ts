/**
 * Append-to-published latency by log position. The engine projects in position order and may
 * publish one change per entity per batch (the change names the batch's last event of that
 * entity), so matching changes to events by id would miss the events folded in with others.
 * Instead: an event at position p is published when the first change with a position >= p is,
 * since its batch (or an earlier one) has then committed. Events whose batch ends in events that
 * change nothing wait for the next change: a slight overstatement, never an understatement.
 */
export class PublishTracker {
  /** (max position published so far, when it was reached), increasing. */
  private readonly marks: { position: number; at: number }[] = [];
  private waiting: { position: number; sentAt: number }[] = [];
  readonly latencies: number[] = [];

  /** A change with this position was published at `at`. */
  published(position: number, at: number): void {
    const last = this.marks[this.marks.length - 1];
    if (last !== undefined && position <= last.position) return;
    this.marks.push({ position, at });
    if (this.waiting.length === 0) return;
    const still: { position: number; sentAt: number }[] = [];
    for (const w of this.waiting) {
      if (w.position <= position) this.latencies.push(at - w.sentAt);
      else still.push(w);
    }
    this.waiting = still;
  }

  /** The event sent at `sentAt` was stored at `position` (known once its append is acknowledged). */
  stored(position: number, sentAt: number): void {
    const last = this.marks[this.marks.length - 1];
    if (last === undefined || position > last.position) {
      this.waiting.push({ position, sentAt });
      return;
    }
    // Already published before the acknowledgement was seen: find when.
    let lo = 0;
    let hi = this.marks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.marks[mid]!.position >= position) hi = mid;
      else lo = mid + 1;
    }
    this.latencies.push(this.marks[lo]!.at - sentAt);
  }

  /** Stored events not yet seen published. */
  get unpublished(): number {
    return this.waiting.length;
  }
}
