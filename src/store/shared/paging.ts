/**
 * Keyset paging shared by `readAll` and `readStream`: each batch is fetched by "position after
 * the last one seen", so a reader never holds the whole log, nor a cursor across its own awaits.
 */
import type { ReadOptions, StoredEvent } from '../port.js';

export const DEFAULT_BATCH_SIZE = 1000;

/** Fetches at most `limit` events with `after < position <= upTo`, in position order. */
export type PageFetcher = (
  after: number,
  upTo: number,
  limit: number,
) => Promise<StoredEvent[]> | StoredEvent[];

export async function* pageThrough(
  after: number,
  options: ReadOptions | undefined,
  fetch: PageFetcher,
): AsyncGenerator<StoredEvent[]> {
  const limit = Math.max(1, Math.floor(options?.batchSize ?? DEFAULT_BATCH_SIZE));
  const upTo = options?.upTo ?? Number.MAX_SAFE_INTEGER;
  let cursor = after;
  while (cursor < upTo) {
    const page = await fetch(cursor, upTo, limit);
    const last = page.at(-1);
    if (last === undefined) return;
    yield page;
    if (page.length < limit) return;
    cursor = last.position;
  }
}
