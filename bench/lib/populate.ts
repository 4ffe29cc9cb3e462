/** Fills a store with a workload (not measured): the generated deliveries, parsed and appended. */
import { parseWebhook, type WebhookEvent } from '../../src/truto/parse.js';
import type { EventStore } from '../../src/store/port.js';
import { generateDeliveries } from '../../src/workload/generator.js';
import { BODY_PROFILES, type BodyProfile } from './bodies.js';

export async function populate(
  store: EventStore,
  events: number,
  seed: number,
  bodies: BodyProfile = BODY_PROFILES[1]!,
): Promise<{ stored: number; bytes: number }> {
  let batch: WebhookEvent[] = [];
  let stored = 0;
  let bytes = 0;
  const flush = async () => {
    for (const outcome of await store.append(batch)) if (outcome.status === 'stored') stored++;
    batch = [];
  };
  for (const d of generateDeliveries({
    events,
    seed,
    maxRecordsPerPage: bodies.maxRecordsPerPage,
  })) {
    const parsed = parseWebhook(d.body);
    if (!parsed.ok) throw new Error(`generated body rejected: ${parsed.code}`);
    bytes += parsed.event.body.byteLength;
    batch.push(parsed.event);
    if (batch.length >= 1000) await flush();
  }
  if (batch.length > 0) await flush();
  return { stored, bytes };
}
