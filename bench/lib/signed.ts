/**
 * Signed deliveries for the HTTP benchmarks, and how many a server answers before it is measured.
 */
import { signBody } from '../../src/http/signature.js';
import { generateDeliveries } from '../../src/workload/generator.js';
import type { BodyProfile } from './bodies.js';
import type { SignedBody } from './http-client.js';

/**
 * Deliveries each server (a floor, or every `serve` instance) answers, with other ids, before it
 * is measured. A fresh process runs its first few thousand requests at a fraction of its steady
 * rate while V8 compiles the hot paths (`serve`: 4.1-4.6k req/s over its first 5,000, 6.4-6.9k
 * after). Unwarmed, a small server like the floor warms sooner than the service, and a
 * 3-instance case measures mostly cold processes, each compiling the same code.
 */
export const WARM_UP_DELIVERIES = 5_000;

/** `events` generated deliveries (seeded), each body signed with `secret`. */
export function signedDeliveries(
  events: number,
  seed: number,
  secret: string,
  bodies?: BodyProfile,
): SignedBody[] {
  const items: SignedBody[] = [];
  const generated = generateDeliveries({
    events,
    seed,
    ...(bodies ? { maxRecordsPerPage: bodies.maxRecordsPerPage } : {}),
  });
  for (const d of generated) {
    const body = Buffer.from(d.body);
    items.push({ id: d.id, body, signature: signBody(body, secret) });
  }
  return items;
}
