/**
 * Which partition an entity belongs to: a stable hash of its stream modulo the partition count.
 * Pure and store-neutral: the port's `ReadOptions.partition` is defined by it, and any adapter
 * may filter on it; every instance must use the same count.
 */

/** FNV-1a, 32 bits, over UTF-8: stable across processes, releases and platforms. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The partition (0…partitions-1) that owns `stream`.
 *
 * @example
 * partitionOf('integrated_account:abc', 8); // always the same number in 0..7
 */
export function partitionOf(stream: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return fnv1a32(stream) % partitions;
}
