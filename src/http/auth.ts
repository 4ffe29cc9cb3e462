/**
 * Bearer-token access to the read API and the change stream. The comparison is constant-time:
 * both sides are hashed first, so `timingSafeEqual` always sees equal lengths and the token's
 * length does not leak either.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { header, type HttpRequest } from './types.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * A checker for `Authorization: Bearer <token>`; with no token configured every request passes.
 *
 * @example
 * const allowed = createTokenCheck('s3cret');
 * allowed(request); // true only with `Authorization: Bearer s3cret`
 */
export function createTokenCheck(token: string | undefined): (request: HttpRequest) => boolean {
  if (token === undefined || token === '') return () => true;
  const expected = digest(token);
  return (request) => {
    const value = header(request, 'authorization');
    const match = value === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
    if (!match?.[1]) return false;
    return timingSafeEqual(digest(match[1]), expected);
  };
}

/** Whether a host name or address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    h === '::ffff:127.0.0.1'
  );
}
