/**
 * Reads a request body up to a limit. The running total is checked on every chunk, so a body
 * over the limit (chunked or not) is given up as soon as it passes the limit: what was read so
 * far is dropped and reading stops, keeping memory flat however much the sender sends.
 */
import type { Readable } from 'node:stream';

export type ReadBodyResult =
  | { readonly ok: true; readonly body: Buffer }
  | { readonly ok: false; readonly reason: 'too_large' | 'aborted' };

/**
 * @example
 * const result = await readBody(request, 1024 * 1024);
 * if (!result.ok && result.reason === 'too_large') answer413();
 */
export function readBody(stream: Readable, limit: number): Promise<ReadBodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (result: ReadBodyResult): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onAbort);
      stream.off('close', onClose);
      chunks.length = 0;
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        // Stop keeping anything and stop reading: with the stream paused, node stops reading the
        // socket once a small buffer is full. The caller answers 413 and closes the connection.
        stream.pause();
        finish({ ok: false, reason: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
      finish({ ok: true, body });
    };
    const onAbort = (): void => finish({ ok: false, reason: 'aborted' });
    const onClose = (): void => {
      if (!stream.readableEnded) onAbort();
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onAbort);
    stream.once('close', onClose);
  });
}

/**
 * Parses a size: bytes (`1048576`), or with a unit (`512kb`, `1mb`, `1MiB`; k/m/g are powers of
 * 1024). Returns `null` when it is not one.
 *
 * @example
 * parseSize('1mb');   // 1048576
 * parseSize('512kb'); // 524288
 */
export function parseSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) return null;
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const bytes = Math.floor(Number(match[1]) * factor);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}
