/**
 * One table maps every error code the service answers with to its HTTP status. Handlers return
 * codes, never statuses; `errorResponse` is the only place a code becomes a status.
 *
 * Statuses a sender can cause are 4xx, or 503 where retrying later can help. The only other 5xx
 * is 500 for a fault of our own (`internal`, `store_failed`), never for anything a sender did.
 */
import type { EnvelopeErrorCode } from '../truto/parse.js';
import type { StoreErrorCode } from '../store/errors.js';
import { json, type BufferedResponse } from './types.js';

export type HttpErrorCode =
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'missing_signature'
  | 'invalid_signature'
  | 'unauthorized'
  | 'forbidden'
  | 'bad_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'internal'
  | 'too_many_streams'
  | EnvelopeErrorCode
  | StoreErrorCode;

export const STATUS_OF: Readonly<Record<HttpErrorCode, number>> = {
  // The sender's request is unusable as it is.
  invalid_json: 400,
  not_an_object: 400,
  missing_id: 400,
  invalid_id: 400,
  invalid_event: 400,
  missing_event: 400,
  missing_created_at: 400,
  invalid_created_at: 400,
  bad_request: 400,
  // Not from Truto (webhook) or not from someone holding the token (read API).
  missing_signature: 401,
  invalid_signature: 401,
  unauthorized: 401,
  // A request that may not read without a token (a foreign Host, a proxy's headers).
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  // Authentic, but holding a value the store cannot keep: retrying cannot help.
  store_rejected: 422,
  // The store cannot take the write now: retrying later can succeed.
  store_busy: 503,
  store_full: 503,
  store_unavailable: 503,
  store_overloaded: 503,
  // The change-stream cap is reached (server.ts).
  too_many_streams: 503,
  // Only while shutting down: another instance, or this one restarted, will take it.
  store_closed: 503,
  // Projection only (never an append); listed for completeness of the store's codes.
  checkpoint_moved: 503,
  // Our own faults, or a deployment without its store's driver.
  store_failed: 500,
  driver_missing: 500,
  internal: 500,
};

/** Seconds a sender should wait before retrying, for the 503 codes. */
const RETRY_AFTER: Partial<Record<HttpErrorCode, number>> = {
  store_busy: 1,
  store_overloaded: 1,
  too_many_streams: 5,
  store_closed: 5,
  store_full: 30,
  store_unavailable: 5,
};

/**
 * The JSON error response for a code: `{ error: code, message }`.
 *
 * @example
 * errorResponse('invalid_signature', 'x-truto-signature does not match the body'); // 401
 */
export function errorResponse(
  code: HttpErrorCode,
  message: string,
  extra: Record<string, string> = {},
): BufferedResponse {
  const retryAfter = RETRY_AFTER[code];
  const headers =
    retryAfter === undefined ? extra : { 'retry-after': String(retryAfter), ...extra };
  return json(STATUS_OF[code], { error: code, message }, headers);
}
