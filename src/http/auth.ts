/**
 * Access to the read API and the change stream: a bearer token when one is set, otherwise
 * direct loopback requests only (see `createAccessCheck`). The token comparison is
 * constant-time: both sides are hashed first, so `timingSafeEqual` always sees equal lengths and
 * the token's length does not leak either.
 *
 * The dashboard's session cookie (see `cookies.ts`) stands for the token on reads only (GET and
 * HEAD): whatever a cross-site page makes a browser send, the cookie never authorises a write.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readCookie, SESSION_COOKIE, sessionValue } from './cookies.js';
import { header, type HttpRequest } from './types.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Why a request may not read, or `undefined` when it may. */
export interface AccessRefusal {
  readonly code: 'unauthorized' | 'forbidden';
  readonly message: string;
}

/** Headers a proxy adds: their presence means the request did not come straight from loopback. */
const FORWARDED = /^(forwarded|x-forwarded-.+|x-real-ip)$/;

/**
 * Access to the read API, `/changes` and `/metrics`.
 *
 * With a token: `Authorization: Bearer <token>` is required, from anywhere (behind a proxy too).
 *
 * Without one, access control is only the loopback bind, which is not enough on its own: a
 * browser page on any site can reach 127.0.0.1 through DNS rebinding (its requests then carry
 * `Host: evil.example`), and a reverse proxy on the same host relays the world's requests from
 * loopback. So without a token a request must name a loopback host in `Host` (or send none, as
 * HTTP/1.0 may) and carry no `Forwarded`, `X-Forwarded-*` or `X-Real-IP` header. Running behind
 * a proxy needs a token.
 *
 * @example
 * const refusal = createAccessCheck('s3cret');
 * refusal(request); // undefined only with `Authorization: Bearer s3cret`
 */
export function createAccessCheck(
  token: string | undefined,
): (request: HttpRequest) => AccessRefusal | undefined {
  if (token === undefined || token === '') {
    return (request) => {
      const forwarded = Object.keys(request.headers).find((name) => FORWARDED.test(name));
      if (forwarded !== undefined) {
        return {
          code: 'forbidden',
          message: `request forwarded by a proxy (${forwarded}): without an API token only direct loopback requests may read; configure --api-token to serve behind a proxy`,
        };
      }
      const host = header(request, 'host');
      if (
        request.headers.host !== undefined &&
        (host === undefined || !isLoopbackHost(hostOf(host)))
      ) {
        return {
          code: 'forbidden',
          message:
            'Host is not a loopback name: without an API token only requests to localhost, 127.0.0.1 or [::1] may read',
        };
      }
      return undefined;
    };
  }
  const allowed = createTokenCheck(token);
  return (request) =>
    allowed(request)
      ? undefined
      : { code: 'unauthorized', message: 'this endpoint needs Authorization: Bearer <token>' };
}

/** The host name of a `Host` header value (`[::1]:8080` → `::1`, `localhost:80` → `localhost`). */
function hostOf(value: string): string {
  const text = value.trim();
  if (text.startsWith('['))
    return text.slice(1, text.indexOf(']') === -1 ? undefined : text.indexOf(']'));
  const colon = text.lastIndexOf(':');
  return colon === -1 ? text : text.slice(0, colon);
}

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
