/** Test helpers: Truto-shaped webhook bodies and signed requests. */
import { signBody } from '../../../src/http/signature.js';
import type { HttpRequest } from '../../../src/http/types.js';

export const SECRET = 'b6d2a2f4-8e7c-4c1d-9f00-5c3e2a1b0d9e';

let counter = 0;

/** An `integrated_account:*` envelope as a JSON string. */
export function accountEvent(
  accountId: string,
  event = 'integrated_account:created',
  overrides: { id?: string; createdAt?: string; payload?: Record<string, unknown> } = {},
): string {
  counter += 1;
  return JSON.stringify({
    id: overrides.id ?? `evt-${accountId}-${counter}`,
    event,
    created_at:
      overrides.createdAt ?? `2024-09-10T12:00:${String(counter % 60).padStart(2, '0')}.000Z`,
    environment_id: 'env-1',
    webhook_id: 'wh-1',
    payload: {
      id: accountId,
      tenant_id: 'tenant-1',
      status: 'connecting',
      integration: { id: 'int-1', name: 'salesforce', category: 'crm' },
      ...overrides.payload,
    },
  });
}

/** A POST to the webhook as the framework-free app sees it. */
export function webhookRequest(
  body: string | Uint8Array,
  options: { secret?: string; signature?: string | null; contentType?: string | null } = {},
): HttpRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const headers: Record<string, string> = {};
  if (options.contentType !== null)
    headers['content-type'] = options.contentType ?? 'application/json';
  if (options.signature !== null)
    headers['x-truto-signature'] = options.signature ?? signBody(bytes, options.secret ?? SECRET);
  return {
    method: 'POST',
    path: '/webhooks/truto',
    query: new URLSearchParams(),
    headers,
    body: bytes,
  };
}

/** A GET as the framework-free app sees it. */
export function getRequest(
  pathAndQuery: string,
  headers: Record<string, string> = {},
): HttpRequest {
  const [path, search] = pathAndQuery.split('?');
  return { method: 'GET', path: path ?? '/', query: new URLSearchParams(search ?? ''), headers };
}
