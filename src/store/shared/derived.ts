/**
 * Derived changes computed inside a projection commit (`ProjectionCommit.derived`), the same on
 * every store: groups are visited in one fixed order (source, then group, by code unit), so two
 * commits that lock several groups each always lock them in the same order and cannot deadlock.
 */
import type { ChangeRecord, DerivedRead, StateRow } from '../port.js';

export function inLockOrder(reads: readonly DerivedRead[]): DerivedRead[] {
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...reads].sort((a, b) => order(a.source, b.source) || order(a.group, b.group));
}

/** Each read's change from its group's committed members (`members` reads them). */
export function derivedChanges(
  reads: readonly DerivedRead[],
  members: (read: DerivedRead) => readonly StateRow[],
): Omit<ChangeRecord, 'seq'>[] {
  return inLockOrder(reads).flatMap((read) => {
    const change = read.change(members(read));
    return change ? [change] : [];
  });
}
