/**
 * Append sizes. KurrentDB refuses an append request whose events add up to more than its
 * `MaxAppendSize` (default 1 MiB), counting each event as its data bytes plus its metadata bytes
 * plus twice the length of its type (`Event.SizeOnDisk` on the server). The receiver accepts
 * webhook bodies up to 1 MiB, so a record that carried such a body in its JSON (base64, a third
 * larger) could never be appended: bodies that do not fit are written raw, in chunks, to a
 * stream of their own, and the records point at it (see codec.ts).
 */

/** KurrentDB's default `MaxAppendSize`, in bytes. */
export const DEFAULT_MAX_APPEND_SIZE = 1024 * 1024;

/** What the server counts for one event: data + metadata + 2 × type length. */
export function eventSize(type: string, data: Uint8Array | string, metadata?: Uint8Array): number {
  const dataBytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  return dataBytes + (metadata?.byteLength ?? 0) + type.length * 2;
}

/** The size of a JSON event whose data is `value` (serialised as the client does). */
export function jsonEventSize(type: string, value: unknown): number {
  return eventSize(type, JSON.stringify(value));
}

/**
 * Splits `items` into consecutive groups whose sizes add up to at most `budget` each, keeping
 * their order. An item larger than the budget on its own gets a group of its own (the server will
 * refuse it; callers make sure it cannot happen).
 *
 * @example
 * packBySize([400, 400, 400], (n) => n, 1000); // [[400, 400], [400]]
 */
export function packBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  budget: number,
): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (group.length > 0 && used + size > budget) {
      groups.push(group);
      group = [];
      used = 0;
    }
    group.push(item);
    used += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Cuts `bytes` into chunks of at most `chunkBytes` (at least one chunk, even for no bytes).
 *
 * @example
 * splitBytes(Buffer.alloc(5), 2).map((c) => c.length); // [2, 2, 1]
 */
export function splitBytes(bytes: Uint8Array, chunkBytes: number): Uint8Array[] {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1)
    throw new RangeError(`chunk size must be a positive integer, not ${chunkBytes}`);
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < bytes.byteLength; start += chunkBytes)
    chunks.push(bytes.subarray(start, start + chunkBytes));
  return chunks.length > 0 ? chunks : [bytes.subarray(0, 0)];
}
