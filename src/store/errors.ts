/**
 * Faults of a store, as a small hierarchy with a literal `code`. Each adapter translates its
 * driver's errors into these once, inside the adapter; callers match on `code`, never on text.
 */

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
    return this.code !== 'store_failed' && this.code !== 'store_closed';
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}
