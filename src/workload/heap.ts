/**
 * A binary min-heap ordered by (key, seq): the generator's scheduler (actors by next source time)
 * and its delivery delayer (deliveries by release index). `seq` makes ties deterministic (FIFO).
 */

interface Entry<T> {
  readonly key: number;
  readonly seq: number;
  readonly value: T;
}

export class MinHeap<T> {
  private readonly items: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  /** The smallest key, or `undefined` when empty. */
  peekKey(): number | undefined {
    return this.items[0]?.key;
  }

  push(key: number, value: T): void {
    const items = this.items;
    items.push({ key, seq: this.seq++, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  /** Removes and returns the smallest entry. */
  pop(): { key: number; value: T } | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && less(items[l]!, items[m]!)) m = l;
        if (r < items.length && less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return { key: top.key, value: top.value };
  }
}

function less<T>(x: Entry<T>, y: Entry<T>): boolean {
  return x.key < y.key || (x.key === y.key && x.seq < y.seq);
}
