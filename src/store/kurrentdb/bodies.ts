/**
 * Bodies too large to sit in their record (see codec.ts): raw chunks in a stream of their own,
 * each chunk its own append, since one append could not hold them.
 */
import { StoreError } from '../errors.js';
import { EVENT_TYPES, type BodyRef } from './codec.js';
import { ID_NAMESPACE, uuidV5 } from './ids.js';
import type { KurrentIo } from './io.js';

/**
 * Writes `chunks` to `stream`, each its own append (one append could not hold them) at an exact
 * revision under an id fixed by its place, so writing them again is idempotent.
 */
export async function writeChunks(
  ctx: { readonly io: KurrentIo },
  stream: string,
  chunks: readonly Uint8Array[],
): Promise<void> {
  for (const [i, chunk] of chunks.entries()) {
    const answer = await ctx.io.append(
      stream,
      [{ id: uuidV5(`${stream}:${i}`, ID_NAMESPACE), type: EVENT_TYPES.body, bytes: chunk }],
      i === 0 ? 'no_stream' : BigInt(i - 1),
    );
    if (answer.kind !== 'ok')
      throw new StoreError('store_failed', `kurrentdb: ${stream} holds other chunks at ${i}`);
  }
}

/** A body stream's chunks, in order. */
export async function readBodyChunks(
  ctx: { readonly io: KurrentIo },
  ref: BodyRef,
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const event of ctx.io.read(ref.stream, 0n, ref.chunks))
    chunks.push(event.bytes ?? new Uint8Array());
  return chunks;
}
