/** Events for store tests: synthetic ones, and real ones parsed from Truto-shaped bodies. */
import { parseWebhook } from '../../src/truto/parse.js';
import type { EventToAppend } from '../../src/store/port.js';

const encoder = new TextEncoder();

/**
 * A synthetic event whose body encodes its id and a `variant`: the same (id, variant) gives the
 * same bytes (a duplicate), another variant different bytes (a conflict).
 */
export function makeEvent(
  id: string,
  options: {
    variant?: number;
    type?: string;
    stream?: string | null;
    sourceTime?: number;
    skipped?: string;
  } = {},
): EventToAppend {
  const type = options.type ?? 'integrated_account:active';
  const stream = options.stream === undefined ? `integrated_account:${id}` : options.stream;
  const sourceTime = options.sourceTime ?? 1_700_000_000_000;
  const body = encoder.encode(JSON.stringify({ id, event: type, variant: options.variant ?? 0 }));
  return {
    id,
    type,
    stream,
    sourceTime,
    data: { kind: 'test', id, variant: options.variant ?? 0 },
    body,
    ...(options.skipped ? { skipped: { reason: options.skipped } } : {}),
  };
}

/** Parses a raw body the way the receiver and `import` do; throws on an unusable one. */
export function eventFromBody(body: string | Uint8Array): EventToAppend {
  const result = parseWebhook(typeof body === 'string' ? encoder.encode(body) : body);
  if (!result.ok) throw new Error(`not a usable webhook body: ${result.code} ${result.message}`);
  return result.event;
}

/** Collects every event of an async iterable of batches (tests only: loads everything). */
export async function collect<T>(
  batches: AsyncIterable<T[]>,
): Promise<{ events: T[]; sizes: number[] }> {
  const events: T[] = [];
  const sizes: number[] = [];
  for await (const batch of batches) {
    sizes.push(batch.length);
    events.push(...batch);
  }
  return { events, sizes };
}
