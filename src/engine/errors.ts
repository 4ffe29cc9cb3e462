/**
 * The engine's faults: a small hierarchy with literal codes, never matched by message text.
 * Expected outcomes (a duplicate, a moved checkpoint, a lost lease) are result unions instead.
 */
import type { DeadLetter } from '../store/port.js';

export type EngineErrorCode =
  /** A projection name the engine does not have, or an invalid registry. */
  | 'unknown_projection'
  /** A time-travel point that is not a time. */
  | 'invalid_time'
  | 'rebuild_in_progress'
  /** The engine cannot do this with the store or projection it has. */
  | 'not_supported'
  | 'catch_up_timeout'
  /** A call after `close()`. */
  | 'closed'
  /** A reducer read `event.payload` in a projection declared `reads: 'facts'`. */
  | 'payload_not_loaded';

/** A fault in how the engine was asked to do something. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A reducer threw during a rebuild: the same diagnostic a dead letter carries. */
export class PoisonEventError extends Error {
  override readonly name = 'PoisonEventError';
  readonly code = 'poison_event';
  constructor(readonly deadLetter: DeadLetter) {
    super(
      `projection "${deadLetter.projection}" failed on event ${deadLetter.eventId} ` +
        `(position ${deadLetter.position}, entity ${deadLetter.key}): ${deadLetter.error}`,
    );
  }
}

/**
 * A resume point the change journal no longer covers (older than its retention, or ahead of its
 * newest entry after a restore): the subscriber must reload state instead of resuming.
 */
export class JournalGapError extends Error {
  override readonly name = 'JournalGapError';
  readonly code = 'journal_gap';
  constructor(
    /** The seq asked to resume after. */
    readonly requestedSeq: number,
    /** The oldest seq the journal still holds (0 when empty). */
    readonly oldestSeq: number,
    /** The newest seq the journal holds. */
    readonly latestSeq: number,
  ) {
    super(
      requestedSeq > latestSeq
        ? `cannot resume after seq ${requestedSeq}: the journal ends at ${latestSeq} (restored from an older copy?); reload state`
        : `cannot resume after seq ${requestedSeq}: the journal keeps seqs from ${oldestSeq}; reload state`,
    );
  }
}

/** `Error: message` for logs and dead letters. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
