/**
 * Fencing for partitioned projection work: a commit made on behalf of partition `p` carries the
 * lease it believes it holds, and the commit transaction checks (and share-locks) that lease row
 * before writing anything. A holder that lost the partition (expired while stalled, or taken over)
 * fails with `LeaseLostError` and its batch is rolled back, so two instances never both commit
 * state for the same partition.
 */

/** The lease a commit is made under: the `leases` row must still say this owner and epoch. */
export interface LeaseFence {
  readonly partition: number;
  readonly owner: string;
  readonly epoch: number;
}

/** The commit was refused because this instance no longer holds the partition. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  readonly code = 'lease_lost' as const;
  constructor(readonly fence: LeaseFence) {
    super(
      `partition ${fence.partition} is no longer held by ${fence.owner} at epoch ${fence.epoch}`,
    );
  }
}

export function isLeaseLost(error: unknown): error is LeaseLostError {
  return error instanceof LeaseLostError;
}

/**
 * The check run first inside a fenced commit (the first part of the commit's claim statement). `FOR SHARE` holds the row until COMMIT, so a
 * takeover (an UPDATE of the row) waits for this commit to finish, and the new owner reads the
 * checkpoint only after it, never before. `expires_at > now()`: a holder that stalled past its
 * lease is refused even if nobody has taken the partition yet.
 */
export function fenceSql(s: string): string {
  return `SELECT 1 FROM ${s}.leases WHERE partition = $1 AND owner = $2 AND epoch = $3 AND expires_at > clock_timestamp() FOR SHARE`;
}
