/**
 * `POST /webhooks/truto`: the receiver. In order: media type (415), declared size (413),
 * signature header present (401), body read up to the limit (413, by the bridge), signature over
 * the raw bytes (401), then parse and append (400 for an unusable envelope, 200 once durably
 * committed, 503 when the store cannot take the write now).
 *
 * The body is never parsed before its signature is verified. An authentic delivery is answered
 * 200 whenever it was durably stored or already was (duplicate), and also for a conflict (same
 * id, other bytes: the first stays, this one is kept aside by the store) so Truto does not retry
 * something retrying cannot fix.
 */
import type { Logger } from 'pino';
import type { TrutoEngine as Engine } from '../truto/engine.js';
import type { EnvelopeErrorCode } from '../truto/parse.js';
import { isStoreError } from '../store/errors.js';
import { errorResponse } from './errors.js';
import type { ServiceMetrics } from './metrics.js';
import { SIGNATURE_HEADER, verifySignature } from './signature.js';
import { header, json, type BufferedResponse, type HttpRequest } from './types.js';

export interface WebhookOptions {
  readonly engine: Engine;
  /** Any of them may sign a delivery (rotation). */
  readonly secrets: readonly string[];
  /** Bytes; larger bodies are answered 413. */
  readonly maxBody: number;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
}

export interface WebhookHandler {
  /** The checks that need no body: a refusal to send before reading it, or `undefined`. */
  precheck(request: HttpRequest): BufferedResponse | undefined;
  /** The whole exchange, given the body. */
  handle(request: HttpRequest): Promise<BufferedResponse>;
  /** Counts and logs a refusal made outside `handle` (the bridge's 413 on a running total). */
  refused(code: 'payload_too_large', message: string): BufferedResponse;
}

/**
 * @example
 * const webhook = createWebhookHandler({ engine, secrets: ['s'], maxBody: 1 << 20, logger, metrics });
 * const response = await webhook.handle({ method: 'POST', path: '/webhooks/truto', query, headers, body });
 */
export function createWebhookHandler(options: WebhookOptions): WebhookHandler {
  const { engine, secrets, maxBody, logger, metrics } = options;

  const refuse = (
    code: Parameters<typeof errorResponse>[0],
    message: string,
    warn = true,
  ): BufferedResponse => {
    metrics.webhooks.inc({ status: code });
    metrics.rejected.inc({ reason: code });
    if (warn) logger.warn({ reason: code }, `webhook refused: ${message}`);
    return errorResponse(code, message);
  };

  const precheck = (request: HttpRequest): BufferedResponse | undefined => {
    const type = header(request, 'content-type');
    const media = type?.split(';')[0]?.trim().toLowerCase();
    if (media !== 'application/json') {
      return refuse(
        'unsupported_media_type',
        `Content-Type must be application/json, got ${type ?? 'none'}`,
      );
    }
    const declared = header(request, 'content-length');
    if (declared !== undefined && Number(declared) > maxBody) {
      return refuse(
        'payload_too_large',
        `body of ${declared} bytes is over the ${maxBody}-byte limit`,
      );
    }
    const signature = request.headers[SIGNATURE_HEADER];
    if (signature === undefined || signature === '') {
      return refuse('missing_signature', `no ${SIGNATURE_HEADER} header`);
    }
    return undefined;
  };

  const handle = async (request: HttpRequest): Promise<BufferedResponse> => {
    const early = precheck(request);
    if (early) return early;
    const body = request.body ?? new Uint8Array(0);
    if (body.length > maxBody) {
      return refuse('payload_too_large', `body is over the ${maxBody}-byte limit`);
    }
    if (!verifySignature(body, request.headers[SIGNATURE_HEADER], secrets)) {
      return refuse(
        'invalid_signature',
        `${SIGNATURE_HEADER} does not match the body under any configured secret`,
      );
    }
    try {
      // Authentic but unusable: the engine keeps it aside (never silently dropped); say why.
      const result = await engine.ingest(body, { rejectSource: 'http' });
      if (result.status === 'rejected') {
        return refuse(result.code as EnvelopeErrorCode, result.message);
      }
      metrics.webhooks.inc({ status: result.status });
      if (result.status === 'duplicate') metrics.duplicates.inc();
      if (result.status === 'conflict') {
        logger.warn(
          { id: result.id, position: result.position },
          'webhook conflict: same id, different body; the first stays, this one is kept aside',
        );
      }
      const skipped = result.event.skipped;
      return json(200, {
        status: result.status,
        id: result.id,
        position: result.position,
        projected: skipped === null,
        ...(skipped === null ? {} : { reason: skipped.reason }),
      });
    } catch (error) {
      if (isStoreError(error)) {
        if (error.code === 'store_rejected') {
          // Deterministic: the same bytes would fail the same way. Kept aside, then refused.
          await engine.store
            .recordReject({ source: 'http', reason: error.code, message: error.message, body })
            .catch((failure: unknown) =>
              logger.warn({ err: failure }, 'could not keep a refused webhook aside'),
            );
          return refuse(error.code, error.message);
        }
        if (error.retryable || error.code === 'store_closed') {
          return refuse(
            error.code,
            `the store cannot take the write now (${error.message}); retry later`,
          );
        }
        logger.error({ err: error }, 'store failure on webhook append');
        return refuse(error.code, 'the store failed to take the write');
      }
      logger.error({ err: error }, 'unexpected failure on webhook append');
      return refuse('internal', 'internal error');
    }
  };

  return { precheck, handle, refused: (code, message) => refuse(code, message) };
}
