/**
 * Rejects are kept once per (source, reason, body): re-importing a file with a bad line, or a
 * sender retrying the same unusable request, keeps one copy rather than one per attempt.
 */
import { createHash } from 'node:crypto';
import type { RejectToRecord } from '../port.js';

export function rejectDigest(reject: RejectToRecord): string {
  return createHash('sha256').update(reject.body).digest('hex');
}
