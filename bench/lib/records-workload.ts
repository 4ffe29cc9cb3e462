/**
 * The `records` benchmark's workload: `n` `record:created` deliveries for one integrated account
 * and one resource (distinct record ids, one second apart), the shape that made the `records`
 * summary quadratic when it kept every live id. Appended in batches (not measured).
 */
import type { EventStore } from '../../src/store/port.js';
import { parseWebhook, type WebhookEvent } from '../../src/truto/parse.js';

export const BENCH_ACCOUNT = 'acc-bench';
export const BENCH_RESOURCE = 'crm/contacts';

const ORIGIN = Date.UTC(2024, 8, 10);

/** The webhook body of the `i`-th record's creation. */
export function recordCreatedBody(i: number): string {
  return JSON.stringify({
    id: `evt-${String(i).padStart(8, '0')}`,
    event: 'record:created',
    environment_id: 'env-bench',
    created_at: new Date(ORIGIN + i * 1000).toISOString(),
    payload: {
      id: `contact-${i}`,
      integrated_account_id: BENCH_ACCOUNT,
      resource: BENCH_RESOURCE,
      method: 'list',
      record: { id: `contact-${i}`, name: `Contact ${i}`, email: `c${i}@example.com` },
    },
  });
}

export async function populateRecords(store: EventStore, n: number): Promise<number> {
  let batch: WebhookEvent[] = [];
  let stored = 0;
  const flush = async () => {
    for (const outcome of await store.append(batch)) if (outcome.status === 'stored') stored++;
    batch = [];
  };
  for (let i = 0; i < n; i++) {
    const parsed = parseWebhook(recordCreatedBody(i));
    if (!parsed.ok) throw new Error(`benchmark body rejected: ${parsed.code}: ${parsed.message}`);
    batch.push(parsed.event);
    if (batch.length >= 5000) await flush();
  }
  if (batch.length > 0) await flush();
  return stored;
}
