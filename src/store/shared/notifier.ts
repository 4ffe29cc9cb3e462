/**
 * `onAppend` listeners, shared by adapters: notified with the new head after a commit. A listener
 * that throws must not break the append that triggered it nor the other listeners, so each call
 * is isolated.
 */
export interface AppendNotifier {
  subscribe(listener: (head: number) => void): () => void;
  /** Notifies when `head` is beyond the last head announced. */
  notify(head: number): void;
  readonly size: number;
}

export function createAppendNotifier(
  options: { onFirst?: () => void; onLast?: () => void } = {},
): AppendNotifier {
  const listeners = new Set<(head: number) => void>();
  let announced = 0;
  return {
    subscribe(listener) {
      // Wrapped so the same function subscribed twice gets two independent subscriptions.
      const entry = (head: number): void => listener(head);
      listeners.add(entry);
      if (listeners.size === 1) options.onFirst?.();
      return () => {
        if (listeners.delete(entry) && listeners.size === 0) options.onLast?.();
      };
    },
    notify(head) {
      if (head <= announced) return;
      announced = head;
      for (const listener of [...listeners]) {
        try {
          listener(head);
        } catch {
          // A throwing listener is its own problem: the commit already happened.
        }
      }
    },
    get size() {
      return listeners.size;
    },
  };
}
