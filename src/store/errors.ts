/**
 * Faults of a store, as a small hierarchy with a literal `code`. Each adapter translates its
 * driver's errors into these once, inside the adapter; callers match on `code`, never on text.
 */
import type { ChangeRecord, CommitResult } from './port.js';

export type StoreErrorCode =
  /** The database is locked or busy past the busy timeout: retry later (HTTP 503). */
  | 'store_busy'
  /** The disk or quota is full: retry later once space is freed (HTTP 503). */
  | 'store_full'
  /** The store cannot be reached (connection refused, server down): retry later (HTTP 503). */
  | 'store_unavailable'
  /** Too many appends are waiting: back-pressure (HTTP 503). */
  | 'store_overloaded'
  /** The store was closed. */
  | 'store_closed'
  /** A projection commit found its checkpoint moved by another projector: re-read and retry. */
  | 'checkpoint_moved'
  /** The store's driver package is not installed (`npm install <package>` fixes it). */
  | 'driver_missing'
  /** Anything else from the driver. */
  | 'store_failed';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether retrying later could succeed (answers 503 with Retry-After). */
  get retryable(): boolean {
    return (
      this.code !== 'store_failed' && this.code !== 'store_closed' && this.code !== 'driver_missing'
    );
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}

/** The compare-and-set of a projection commit failed: names the checkpoints that moved. */
export function checkpointMoved(
  moved: readonly { name: string; expected: number; actual: number }[],
): StoreError {
  const detail = moved.map((m) => `${m.name} is at ${m.actual}, not ${m.expected}`).join('; ');
  return new StoreError('checkpoint_moved', `another projector committed first: ${detail}`);
}

/**
 * The port's commit result from a commit that throws its refusals inside the transaction (the
 * throw is what rolls it back): a moved checkpoint or a lost lease become `{ ok: false }`.
 */
export async function commitResult(commit: () => Promise<ChangeRecord[]>): Promise<CommitResult> {
  try {
    return { ok: true, changes: await commit() };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if ((isStoreError(error) && code === 'checkpoint_moved') || code === 'lease_lost') {
      return {
        ok: false,
        reason: code as 'checkpoint_moved' | 'lease_lost',
        message: (error as Error).message,
      };
    }
    throw error;
  }
}
