import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSize, readBody } from '../../src/http/body.js';

describe('readBody', () => {
  it('returns the bytes of a body within the limit, however it is chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }),
        async (chunks) => {
          const stream = new PassThrough();
          const reading = readBody(stream, 1000);
          for (const chunk of chunks) stream.write(Buffer.from(chunk));
          stream.end();
          const result = await reading;
          expect(result.ok).toBe(true);
          if (result.ok)
            expect(result.body.equals(Buffer.concat(chunks.map((c) => Buffer.from(c))))).toBe(true);
        },
      ),
    );
  });

  it('gives up as soon as the running total passes the limit, without waiting for the end', async () => {
    const stream = new PassThrough();
    const reading = readBody(stream, 100);
    stream.write(Buffer.alloc(60));
    stream.write(Buffer.alloc(60));
    // The stream never ends: the answer must not depend on it.
    expect(await reading).toEqual({ ok: false, reason: 'too_large' });
    expect(stream.listenerCount('data')).toBe(0);
  });

  it('accepts a body of exactly the limit', async () => {
    const stream = new PassThrough();
    const reading = readBody(stream, 100);
    stream.end(Buffer.alloc(100));
    const result = await reading;
    expect(result.ok && result.body.length).toBe(100);
  });

  it('reports a sender that went away mid-body', async () => {
    const stream = new PassThrough();
    const reading = readBody(stream, 100);
    stream.write(Buffer.alloc(10));
    stream.destroy();
    expect(await reading).toEqual({ ok: false, reason: 'aborted' });
  });
});

describe('parseSize', () => {
  it('reads bytes and k/m/g units', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('1mb')).toBe(1048576);
    expect(parseSize('1MiB')).toBe(1048576);
    expect(parseSize('512kb')).toBe(524288);
    expect(parseSize('512k')).toBe(524288);
    expect(parseSize('2g')).toBe(2 * 1024 ** 3);
    expect(parseSize('100b')).toBe(100);
  });
  it('refuses what is not a size', () => {
    for (const bad of ['', 'mb', '-1', '0', '1tb', 'ten', '1 2'])
      expect(parseSize(bad), bad).toBeNull();
  });
});
