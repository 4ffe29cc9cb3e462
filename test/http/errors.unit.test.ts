import { describe, expect, it } from 'vitest';
import { errorResponse, STATUS_OF, type HttpErrorCode } from '../../src/http/errors.js';
import { StoreError, type StoreErrorCode } from '../../src/store/errors.js';

describe('the error table', () => {
  it('answers what a sender did with a 4xx, never a 5xx', () => {
    const senderCodes: HttpErrorCode[] = [
      'invalid_json',
      'not_an_object',
      'missing_id',
      'missing_event',
      'missing_created_at',
      'invalid_created_at',
      'bad_request',
      'missing_signature',
      'invalid_signature',
      'unauthorized',
      'not_found',
      'method_not_allowed',
      'payload_too_large',
      'unsupported_media_type',
    ];
    for (const code of senderCodes) {
      expect(STATUS_OF[code], code).toBeGreaterThanOrEqual(400);
      expect(STATUS_OF[code], code).toBeLessThan(500);
    }
  });

  it('answers 503 with Retry-After for every store fault a retry can fix', () => {
    const codes: StoreErrorCode[] = [
      'store_busy',
      'store_full',
      'store_unavailable',
      'store_overloaded',
      'store_closed',
      'store_failed',
      'driver_missing',
    ];
    for (const code of codes) {
      const response = errorResponse(code, 'x');
      if (new StoreError(code, 'x').retryable) {
        expect(response.status, code).toBe(503);
        expect(Number(response.headers?.['retry-after']), code).toBeGreaterThan(0);
      }
    }
    // The only 5xx other than 503 are our own faults (a missing driver is the deployment's).
    const others = Object.entries(STATUS_OF)
      .filter(([, status]) => status >= 500 && status !== 503)
      .map(([code]) => code);
    expect(others.sort()).toEqual(['driver_missing', 'internal', 'store_failed']);
  });

  it('names the problem in a JSON body', () => {
    const response = errorResponse('missing_id', 'envelope has no id');
    expect(response.headers?.['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(String(response.body))).toEqual({
      error: 'missing_id',
      message: 'envelope has no id',
    });
  });
});
