import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSignatureHeader, signBody, verifySignature } from '../../src/http/signature.js';

const secret = '6a1f3c1e-2b4d-4c1a-9a57-0e2d5f7b8c90';
const body = Buffer.from(
  '{"id":"e1","event":"integrated_account:active","created_at":"2024-09-10T12:00:00.000Z"}',
);
const digest = (data: Uint8Array | string, key = secret) =>
  createHmac('sha256', Buffer.from(key, 'utf8')).update(data).digest();

describe('verifySignature', () => {
  it('accepts hex and base64 digests, with or without format=sha256', () => {
    const d = digest(body);
    for (const header of [
      `format=sha256,v=${d.toString('hex')}`,
      `format=sha256,v=${d.toString('hex').toUpperCase()}`,
      `v=${d.toString('hex')}`,
      `format=sha256,v=${d.toString('base64')}`,
      `v=${d.toString('base64')}`,
      `v=${d.toString('base64').replace(/=$/, '')}`,
      `v=${d.toString('base64url')}`,
      ` format=sha256 , v=${d.toString('hex')} `,
    ]) {
      expect(verifySignature(body, header, [secret]), header).toBe(true);
    }
  });

  it('rejects missing, empty, truncated and malformed headers without throwing', () => {
    const hex = digest(body).toString('hex');
    const b64 = digest(body).toString('base64');
    for (const header of [
      undefined,
      '',
      'v=',
      'format=sha256',
      'format=sha256,v=',
      `format=sha256,v=${hex.slice(0, 63)}`,
      `format=sha256,v=${hex.slice(0, 62)}`,
      `format=sha256,v=${b64.slice(0, 40)}`,
      `format=sha256,v=${hex}00`,
      `format=sha1,v=${hex}`,
      `format=sha256,v=${hex},v=${hex}`,
      `sha256=${hex}`,
      hex,
      `v=${'z'.repeat(64)}`,
      `v=${'!'.repeat(44)}`,
      ['format=sha256,v=' + hex, 'format=sha256,v=' + hex],
    ]) {
      expect(() => verifySignature(body, header, [secret])).not.toThrow();
      expect(verifySignature(body, header, [secret]), String(header)).toBe(false);
    }
  });

  it('rejects when no secret is configured or only an empty one', () => {
    expect(verifySignature(body, signBody(body, secret), [])).toBe(false);
    expect(verifySignature(Buffer.from('x'), signBody('x', ''), [''])).toBe(false);
  });

  it('verifies the raw bytes: the same JSON re-serialised does not match', () => {
    const header = signBody(body, secret);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(verifySignature(body, header, [secret])).toBe(true);
    expect(verifySignature(reserialised, header, [secret])).toBe(false);
  });

  it('property: any flipped byte in the body fails', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, flip) => {
          const original = Buffer.from(bytes);
          const header = signBody(original, secret);
          const tampered = Buffer.from(original);
          const i = at % tampered.length;
          tampered[i] = (tampered[i] as number) ^ flip;
          return (
            verifySignature(original, header, [secret]) &&
            !verifySignature(tampered, header, [secret])
          );
        },
      ),
    );
  });

  it('property: any changed byte in the signature fails (hex and base64)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom<'hex' | 'base64'>('hex', 'base64'),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (bytes, encoding, at, replacement) => {
          const header = signBody(bytes, secret, encoding);
          const i = at % header.length;
          const char = String.fromCharCode(replacement);
          fc.pre(char !== header[i]);
          const tampered = header.slice(0, i) + char + header.slice(i + 1);
          // Case in hex digits and the format name carry no meaning; everything else must fail.
          const sameMeaning =
            tampered.toLowerCase() === header.toLowerCase() &&
            (encoding === 'hex' || i < 'format=sha256,v='.length);
          // A trailing base64 '=' dropped or changed to padding-neutral is still the same digest.
          fc.pre(!sameMeaning);
          const decoded = decodeSignatureHeader(tampered);
          fc.pre(!(decoded && decoded.equals(digest(bytes))));
          return !verifySignature(bytes, tampered, [secret]);
        },
      ),
    );
  });

  it('property: rotation: any one of the configured secrets matches, others do not', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 100 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        (secrets, pick, bytes, outsider) => {
          fc.pre(!secrets.includes(outsider));
          const signer = secrets[pick % secrets.length] as string;
          return (
            verifySignature(bytes, signBody(bytes, signer), secrets) &&
            verifySignature(bytes, signBody(bytes, signer, 'base64'), secrets) &&
            !verifySignature(bytes, signBody(bytes, outsider), secrets)
          );
        },
      ),
    );
  });

  it('property: arbitrary header strings never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (header) => {
        verifySignature(body, header, [secret]);
        verifySignature(body, `format=sha256,v=${header}`, [secret]);
      }),
    );
  });
});
