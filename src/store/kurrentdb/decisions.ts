/**
 * The append protocol's decisions, as pure functions from "what the server answered" to "what we
 * do next". They encode the server's idempotency rules for appends at an expected revision
 * (KurrentDB compares event ids only for the events after the expected revision, and not at all
 * when the expected revision is the current one): see the rule table in
 * `test/store/kurrentdb-rules.unit.test.ts`, which cites each rule's source.
 */
import { StoreError } from '../errors.js';
import type { AppendAnswer, Revision } from './io.js';

/**
 * The client's append result as an answer. With `throwOnAppendFailure=false` in the connection
 * string the client resolves a wrong expected version as `{ success: false }` instead of
 * throwing; that is a refusal, never a success. (Its `nextExpectedRevision` is then unreliable:
 * the client's batch-append path, `streams/appendToStream/batchAppend.js` in version 1.3, sets
 * it from a boolean. Nothing here uses it.)
 */
export function appendAnswerOf(result: {
  readonly success: boolean;
  readonly nextExpectedRevision: bigint;
  readonly position?: { readonly commit: bigint; readonly prepare: bigint } | undefined;
}): AppendAnswer {
  if (!result.success) return { kind: 'wrong_expected_version' };
  return result.position
    ? { kind: 'ok', revision: result.nextExpectedRevision, position: result.position }
    : { kind: 'ok', revision: result.nextExpectedRevision };
}

/**
 * Whose claim it is after appending a claim event (a fresh id per attempt) expecting no stream.
 * `ok` can only mean ours: the stream did not exist, or its event 0 already carries this
 * attempt's own id. A repeated delivery never reuses an attempt id, so the server compares ids
 * and refuses it (a wrong expected version), whatever the body.
 */
export function claimResult(answer: AppendAnswer): 'owned' | 'taken' {
  return answer.kind === 'ok' ? 'owned' : 'taken';
}

/** Who answers for an id: the process whose claim stood, or one that met an existing claim. */
export type Role = 'owner' | 'latecomer';

/**
 * What to answer. Only the owner of the claim answers `stored`; whoever met a claim, even one it
 * then finished landing for a crashed or slow owner, answers `duplicate` or `conflict` (so two
 * processes can never both answer `stored` for one id).
 */
export function outcomeStatus(
  role: Role,
  claimedSha256: string,
  ownSha256: string,
): 'stored' | 'duplicate' | 'conflict' {
  if (role === 'owner') {
    if (claimedSha256 !== ownSha256)
      throw new StoreError('store_failed', 'kurrentdb: an owned claim holds another body');
    return 'stored';
  }
  return claimedSha256 === ownSha256 ? 'duplicate' : 'conflict';
}

/** The next step after appending a log event at `expected`. */
export type LandStep =
  | { readonly kind: 'landed'; readonly revision: bigint }
  /** The stream moved: look for our event from `from` on before trying again. */
  | { readonly kind: 'scan'; readonly from: bigint };

/**
 * After an append of event `U` at an exact revision. `ok` means `U` now sits right after
 * `expected`: written now, or already there (a rival finished our claim first; the server then
 * answers `ok` without writing). A refusal means something else follows `expected`: our event
 * may still be further on, so scan before any retry, since an append at the stream's current
 * revision is never checked against ids and would write a second copy.
 */
export function afterLandAppend(expected: Revision, answer: AppendAnswer): LandStep {
  if (answer.kind === 'ok') return { kind: 'landed', revision: answer.revision };
  return { kind: 'scan', from: expected === 'no_stream' ? 0n : expected + 1n };
}

/**
 * Where an owner may append, starting from the revision it observed before claiming. Revisions
 * this batch has already filled (with other ids, at known places) can be skipped, saving a refused
 * append and a scan per event when one batch holds several events of one entity. Anything not
 * known to hold another id must be checked by the server (or a scan), never skipped.
 */
export function landingRevision(before: Revision, filled: ReadonlySet<bigint>): Revision {
  let revision = before;
  for (;;) {
    const next = revision === 'no_stream' ? 0n : revision + 1n;
    if (!filled.has(next)) return revision;
    revision = next;
  }
}
