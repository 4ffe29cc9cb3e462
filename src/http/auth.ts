/**
 * Bearer-token access to the read API and the change stream. The comparison is constant-time:
 * both sides are hashed first, so `timingSafeEqual` always sees equal lengths and the token's
 * length does not leak either.
 *
 * The dashboard's session cookie (see `cookies.ts`) stands for the token on reads only (GET and
 * HEAD): whatever a cross-site page makes a browser send, the cookie never authorises a write.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readCookie, SESSION_COOKIE, sessionValue } from './cookies.js';
import { header, type HttpRequest } from './types.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * A checker for `Authorization: Bearer <token>` (or, on GET and HEAD, the dashboard's session
 * cookie); with no token configured every request passes.
 *
 * @example
 * const allowed = createTokenCheck('s3cret');
 * allowed(request); // true only with `Authorization: Bearer s3cret`
 */
export function createTokenCheck(token: string | undefined): (request: HttpRequest) => boolean {
  if (token === undefined || token === '') return () => true;
  const expected = digest(token);
  const session = digest(sessionValue(token));
  return (request) => {
    const value = header(request, 'authorization');
    if (value === undefined && (request.method === 'GET' || request.method === 'HEAD')) {
      const cookie = readCookie(request, SESSION_COOKIE);
      return cookie !== undefined && timingSafeEqual(digest(cookie), session);
    }
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
