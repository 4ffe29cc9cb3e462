/**
 * The dashboard's session cookie. It never holds the API token itself: its value is an HMAC of a
 * fixed label keyed by the token, so a leaked cookie does not reveal the token (and stops working
 * when the token is rotated). The server sets it (`POST /session`), the browser keeps it
 * `HttpOnly` (no script reads it) and `SameSite=Strict` (never sent on cross-site requests).
 */
import { createHmac } from 'node:crypto';
import { header, type HttpRequest } from './types.js';

export const SESSION_COOKIE = 'truto_state_session';

/** The cookie value that stands for `token`. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('truto-state dashboard session v1').digest('base64url');
}

/** One cookie's value from the request's `Cookie` header, or `undefined`. */
export function readCookie(request: HttpRequest, name: string): string | undefined {
  const value = header(request, 'cookie');
  if (value === undefined) return undefined;
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` header value for a session (or, with `undefined`, for removing it). */
export function sessionCookie(value: string | undefined, secure: boolean): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  return value === undefined
    ? [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attributes].join('; ')
    : [`${SESSION_COOKIE}=${value}`, ...attributes].join('; ');
}
