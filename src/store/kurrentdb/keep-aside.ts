/** A batch's conflicts and duplicates, kept in the `_conflicts` and `_duplicates` streams. */
import { randomUUID } from 'node:crypto';
import { EVENT_TYPES } from './codec.js';
import type { ProtocolContext, RowResult } from './protocol.js';
import { jsonEventSize, packBySize } from './size.js';

/**
 * Keeps a batch's conflicts aside and counts its duplicates, like the other adapters' conflicts
 * table and counters. Appends are split so none exceeds the append budget.
 */
export async function keepAside(
  ctx: ProtocolContext,
  results: readonly RowResult[],
): Promise<void> {
  const conflicts = results.flatMap((r) =>
    r.ok && r.conflict ? [{ ...r.conflict, originalPosition: r.outcome.position }] : [],
  );
  for (const group of packBySize(
    conflicts,
    (data) => jsonEventSize(EVENT_TYPES.conflict, data),
    ctx.maxAppendSize,
  )) {
    await ctx.io.append(
      ctx.names.conflicts,
      group.map((json) => ({ id: randomUUID(), type: EVENT_TYPES.conflict, json })),
      'any',
    );
  }
  const duplicates = results.flatMap((r) =>
    r.ok && r.outcome.status === 'duplicate' ? [r.outcome.id] : [],
  );
  // One counter event per group of ids that fits an append (ids are short; batches can be long).
  const room =
    ctx.maxAppendSize - jsonEventSize(EVENT_TYPES.duplicates, { count: 0, ids: [] }) - 32;
  for (const ids of packBySize(duplicates, (id) => JSON.stringify(id).length * 3 + 1, room)) {
    await ctx.io.append(
      ctx.names.duplicates,
      [{ id: randomUUID(), type: EVENT_TYPES.duplicates, json: { count: ids.length, ids } }],
      'any',
    );
  }
}
