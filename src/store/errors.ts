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
  /**
   * The store cannot hold a value of this write (a NUL in a key, a constraint, a size limit, a
   * value JSON cannot write): deterministic, so retrying the same write fails the same way.
   * Appends fail only the caller whose events hold it (group commits retry the others alone);
   * a projection commit failing so should dead-letter the entity instead of retrying for ever.
   */
  | 'store_rejected'
  /** Anything else from the driver. */
  | 'store_failed';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  /**
   * For `store_rejected` raised before a projection commit starts: the entity whose state or key
   * the store cannot hold, so the engine can dead-letter that entity and commit the rest. Absent
   * when only the database refused (a constraint): the entity is then found by committing alone.
   */
  readonly subject?: { readonly projection: string; readonly key: string };

  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      subject?: { readonly projection: string; readonly key: string };
    },
  ) {
    super(message, options);
    if (options?.subject) this.subject = options.subject;
  }

  /** Whether retrying later could succeed (answers 503 with Retry-After). */
  get retryable(): boolean {
    return (
      this.code !== 'store_failed' &&
      this.code !== 'store_closed' &&
      this.code !== 'driver_missing' &&
      this.code !== 'store_rejected'
    );
  }

  /**
   * What failed, without where: no file paths, host names or driver text. For answers to
   * unauthenticated callers (`/health`); the full message goes to the log.
   */
  get summary(): string {
    return this.publicReason ?? SUMMARY[this.code];
  }

  /** Set by adapters that know a more precise, still path-free, reason. */
  publicReason?: string;
}

const SUMMARY: Readonly<Record<StoreErrorCode, string>> = {
  store_busy: 'the database is busy (locked by another writer)',
  store_full: 'the disk or quota is full',
  store_unavailable: 'the database cannot be reached',
  store_overloaded: 'too many writes are waiting',
  store_closed: 'the store is closed',
  checkpoint_moved: 'another projector committed first',
  driver_missing: "the store's driver package is not installed",
  store_rejected: 'the store cannot hold a value of the write',
  store_failed: 'the database failed',
};

/** A StoreError with a path-free reason for unauthenticated answers. */
export function storeErrorWithReason(
  code: StoreErrorCode,
  message: string,
  publicReason: string,
): StoreError {
  const error = new StoreError(code, message);
  error.publicReason = publicReason;
  return error;
}

/**
 * Refuses text no store can keep as a column value: PostgreSQL `text` cannot hold a NUL
 * (U+0000). Checked on every store, so a key that works on SQLite works on PostgreSQL too.
 */
export function checkStorableText(
  value: string,
  /** What the value is, for the refusal: made only then (this runs for every row written). */
  what: () => string,
  subject?: { readonly projection: string; readonly key: string },
): void {
  if (value.includes('\u0000')) {
    throw new StoreError(
      'store_rejected',
      `${what()} holds a NUL character (U+0000), which no store keeps`,
      subject ? { subject } : {},
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
