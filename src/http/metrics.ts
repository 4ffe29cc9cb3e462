/**
 * Prometheus metrics through prom-client, one registry per service (so several services in one
 * process, as in tests, never share counters). Counters are bumped by the handlers; the
 * projection gauges are refreshed from `engine.stats()` on each scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats } from '../engine/types.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Webhook deliveries by outcome: stored, duplicate, conflict, or the refusal's code. */
  readonly webhooks: Counter<'status'>;
  readonly duplicates: Counter;
  /** Refused deliveries by reason (`invalid_signature`, `payload_too_large`, `missing_id`, …). */
  readonly rejected: Counter<'reason'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** SSE clients cut off for not keeping up. */
  readonly sseCutOff: Counter;
  readonly sseClients: Gauge;
  /** Refreshes the store and projection gauges; called before each scrape. */
  update(stats: EngineStats): void;
}

/**
 * @example
 * const metrics = createServiceMetrics();
 * metrics.update(await engine.stats());
 * const text = await metrics.registry.metrics();
 */
export function createServiceMetrics(options: { processMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  // Process metrics (process_resident_memory_bytes, event loop lag, GC…) for this registry. Their
  // event-loop and GC monitors stay for the life of the process, so a service that is not the
  // process's own (the warm-up's copy) goes without.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const projectionPosition = new Gauge({
    name: 'truto_state_projection_position',
    help: 'Log position each projection has folded up to',
    labelNames: ['projection'],
    registers,
  });
  const projectionLag = new Gauge({
    name: 'truto_state_projection_lag',
    help: 'Events between the log head and each projection position',
    labelNames: ['projection'],
    registers,
  });
  const deadLetters = new Gauge({
    name: 'truto_state_dead_letters',
    help: 'Dead letters (events a reducer threw on) per projection',
    labelNames: ['projection'],
    registers,
  });
  const stalled = new Gauge({
    name: 'truto_state_stalled_entities',
    help: 'Entities stalled on a dead letter, per projection',
    labelNames: ['projection'],
    registers,
  });
  const head = new Gauge({ name: 'truto_state_log_head', help: 'Highest log position', registers });
  const events = new Gauge({
    name: 'truto_state_events_stored',
    help: 'Distinct events in the log',
    registers,
  });
  const storeDuplicates = new Gauge({
    name: 'truto_state_store_duplicates',
    help: 'Duplicate appends the store has seen (persisted across restarts)',
    registers,
  });
  const storeConflicts = new Gauge({
    name: 'truto_state_store_conflicts',
    help: 'Same id, different bytes: kept aside (persisted across restarts)',
    registers,
  });
  const storeRejects = new Gauge({
    name: 'truto_state_store_rejects',
    help: 'Refused bodies kept aside (persisted across restarts)',
    registers,
  });
  return {
    registry,
    webhooks: new Counter({
      name: 'truto_state_webhooks_total',
      help: 'Webhook deliveries by outcome (stored, duplicate, conflict, or the refusal code)',
      labelNames: ['status'],
      registers,
    }),
    duplicates: new Counter({
      name: 'truto_state_webhook_duplicates_total',
      help: 'Webhook deliveries acknowledged as duplicates since start',
      registers,
    }),
    rejected: new Counter({
      name: 'truto_state_webhooks_rejected_total',
      help: 'Webhook deliveries refused, by reason',
      labelNames: ['reason'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'truto_state_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    sseCutOff: new Counter({
      name: 'truto_state_sse_clients_cut_off_total',
      help: 'Change-stream clients disconnected for not keeping up',
      registers,
    }),
    sseClients: new Gauge({
      name: 'truto_state_sse_clients',
      help: 'Open change-stream clients',
      registers,
    }),
    update(stats) {
      head.set(stats.head);
      events.set(stats.store.events);
      storeDuplicates.set(stats.store.duplicates);
      storeConflicts.set(stats.store.conflicts);
      storeRejects.set(stats.store.rejects);
      for (const p of stats.projections) {
        projectionPosition.set({ projection: p.name }, p.position);
        projectionLag.set({ projection: p.name }, p.lag);
        deadLetters.set({ projection: p.name }, p.deadLetters);
        stalled.set({ projection: p.name }, p.stalledEntities);
      }
    },
  };
}
