/**
 * Truto webhook signatures: `x-truto-signature: format=sha256,v=<digest>` (or a bare
 * `v=<digest>`), the digest being HMAC-SHA256 of the raw request bytes keyed with the webhook
 * secret's UTF-8 bytes. Sources disagree on the digest's encoding, so both are accepted: 64 hex
 * characters is hex, otherwise base64 (43 or 44 characters). Several secrets may be configured at
 * once (rotation): a delivery is authentic when any of them matches.
 *
 * Verification never throws: a missing, empty, truncated or malformed header is simply invalid.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header Truto signs with (node lower-cases incoming header names). */
export const SIGNATURE_HEADER = 'x-truto-signature';

const DIGEST_BYTES = 32;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
// Standard or URL-safe alphabet; 43 characters unpadded or 44 with one `=`.
const BASE64_DIGEST = /^[A-Za-z0-9+/_-]{43}=?$/;

/**
 * Decodes the digest a signature header carries, or `null` when the header is unusable.
 *
 * @example
 * decodeSignatureHeader('format=sha256,v=' + 'ab'.repeat(32)); // a 32-byte Buffer
 * decodeSignatureHeader('v=short');                            // null
 */
export function decodeSignatureHeader(
  header: string | readonly string[] | undefined,
): Buffer | null {
  // A repeated header is ambiguous: refuse it rather than guess which one counts.
  if (typeof header !== 'string') return null;
  let format: string | undefined;
  let digest: string | undefined;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (name === 'format') {
      if (format !== undefined) return null;
      format = value.toLowerCase();
    } else if (name === 'v') {
      if (digest !== undefined) return null;
      digest = value;
    } else {
      return null;
    }
  }
  if (digest === undefined || (format !== undefined && format !== 'sha256')) return null;
  let bytes: Buffer;
  if (HEX_DIGEST.test(digest)) bytes = Buffer.from(digest, 'hex');
  else if (BASE64_DIGEST.test(digest))
    bytes = Buffer.from(
      digest,
      digest.includes('-') || digest.includes('_') ? 'base64url' : 'base64',
    );
  else return null;
  // Node's base64 decoder is lenient; insist on exactly one digest's worth of bytes.
  return bytes.length === DIGEST_BYTES ? bytes : null;
}

/**
 * Whether `header` is a valid signature of `body` under any of `secrets`. Constant-time per
 * secret (every secret is tried, so timing does not tell which one matched either).
 *
 * @example
 * const body = Buffer.from('{"id":"e1"}');
 * verifySignature(body, signBody(body, 'secret'), ['old', 'secret']); // true
 */
export function verifySignature(
  body: Uint8Array,
  header: string | readonly string[] | undefined,
  secrets: readonly string[],
): boolean {
  const claimed = decodeSignatureHeader(header);
  if (claimed === null) return false;
  let ok = false;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest();
    // Both are DIGEST_BYTES long here, so timingSafeEqual cannot throw on a length mismatch.
    if (expected.length === claimed.length && timingSafeEqual(expected, claimed)) ok = true;
  }
  return ok;
}

/**
 * The header value Truto would send for `body` (used by `demo`, tests and benchmarks).
 *
 * @example
 * signBody(Buffer.from('{}'), 'secret');           // 'format=sha256,v=<64 hex>'
 * signBody(Buffer.from('{}'), 'secret', 'base64'); // 'format=sha256,v=<44 base64>'
 */
export function signBody(
  body: Uint8Array | string,
  secret: string,
  encoding: 'hex' | 'base64' = 'hex',
): string {
  const digest = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest(encoding);
  return `format=sha256,v=${digest}`;
}
