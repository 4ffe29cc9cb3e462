/**
 * The workload generator: deterministic from a seed, Truto-shaped (every body parses, projected
 * families yield facts), duplicates and late deliveries exactly as asked, streamed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../../src/truto/parse.js';
import type { RunFacts } from '../../src/truto/facts.js';
import { createMemoryEventStore } from '../../src/store/memory/index.js';
import { createTrutoEngine } from '../../src/truto/engine.js';
import {
  generateDeliveries,
  generateHistory,
  generateWorkload,
  type Delivery,
  type SourceEvent,
} from '../../src/workload/generator.js';

function take(n: number, seed = 1): SourceEvent[] {
  const out: SourceEvent[] = [];
  for (const event of generateHistory({ seed })) {
    if (out.length === n) break;
    out.push(event);
  }
  return out;
}

function envelope(body: string): Record<string, any> {
  return JSON.parse(body) as Record<string, any>;
}

describe('generateDeliveries', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = generateWorkload({ events: 3000, seed: 42 });
    const b = generateWorkload({ events: 3000, seed: 42 });
    const c = generateWorkload({ events: 3000, seed: 43 });
    expect(b).toEqual(a);
    expect(c.map((d) => d.body)).not.toEqual(a.map((d) => d.body));
  });

  it('delivers exactly the number of events asked, every original once, re-deliveries after their original with the same bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 600 }),
        fc.integer(),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        (events, seed, duplicateRate, lateRate, lateWindow) => {
          const deliveries = generateWorkload({
            events,
            seed,
            duplicateRate,
            lateRate,
            lateWindow,
          });
          expect(deliveries).toHaveLength(events);
          const originals = new Map<string, Delivery>();
          deliveries.forEach((d, i) => {
            expect(d.delivery).toBe(i);
            if (d.duplicate) {
              const original = originals.get(d.id);
              expect(original, 'a re-delivery follows its original').toBeDefined();
              expect(d.body).toBe(original!.body);
            } else {
              expect(originals.has(d.id), `id ${d.id} delivered twice as an original`).toBe(false);
              originals.set(d.id, d);
            }
          });
          // The originals are exactly source events 0..k-1: nothing skipped, nothing invented.
          const indexes = [...originals.values()].map((d) => d.index).sort((x, y) => x - y);
          expect(indexes).toEqual(indexes.map((_, i) => i));
          // Without lateness, originals arrive in source order.
          if (lateRate === 0) {
            const inOrder = deliveries.filter((d) => !d.duplicate).map((d) => d.index);
            expect(inOrder).toEqual(indexes);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps ids unique except the intended re-deliveries', () => {
    const deliveries = generateWorkload({ events: 20_000, seed: 5, duplicateRate: 0.05 });
    const ids = new Map<string, number>();
    for (const d of deliveries) ids.set(d.id, (ids.get(d.id) ?? 0) + 1);
    const repeated = deliveries.filter((d) => d.duplicate).length;
    expect(repeated).toBeGreaterThan(0);
    expect(ids.size).toBe(deliveries.length - repeated);
    for (const d of deliveries) if (!d.duplicate) expect(ids.get(d.id)).toBeLessThanOrEqual(2);
  });

  it('delivers in an order that really differs from source order when late deliveries are on', () => {
    const deliveries = generateWorkload({
      events: 5000,
      seed: 9,
      lateRate: 0.05,
      duplicateRate: 0,
    });
    const late = deliveries.filter((d) => d.late);
    expect(late.length).toBeGreaterThan(100);
    let inversions = 0;
    let maxIndex = -1;
    let maxTime = -Infinity;
    let timeInversions = 0;
    for (const d of deliveries) {
      if (d.index < maxIndex) inversions++;
      if (d.sourceTime < maxTime) timeInversions++;
      maxIndex = Math.max(maxIndex, d.index);
      maxTime = Math.max(maxTime, d.sourceTime);
    }
    expect(inversions).toBeGreaterThan(100);
    expect(timeInversions).toBeGreaterThan(50);

    const ordered = generateWorkload({ events: 5000, seed: 9, lateRate: 0, duplicateRate: 0 });
    expect(ordered.map((d) => d.index)).toEqual(ordered.map((_, i) => i));
  });

  it('streams: the first deliveries of a million-event workload come without generating it all', () => {
    const iterator = generateDeliveries({ events: 1_000_000, seed: 3 });
    const first: Delivery[] = [];
    for (const d of iterator) {
      first.push(d);
      if (first.length === 100) break;
    }
    expect(first).toHaveLength(100);
  });

  it('rejects nonsense options', () => {
    expect(() => generateWorkload({ events: -1 })).toThrow(RangeError);
    expect(() => generateWorkload({ events: 10, duplicateRate: 1 })).toThrow(RangeError);
    expect(() => generateWorkload({ events: 10, lateRate: -0.1 })).toThrow(RangeError);
  });
});

describe('generateHistory', () => {
  const history = take(20_000, 11);
  // Parsed once: parsing is most of this suite's time.
  const parsed = history.map((event) => parseWebhook(event.body));

  it('is in source-time order, and each body parses to the source time it claims', () => {
    for (let i = 1; i < history.length; i++) {
      expect(history[i]!.sourceTime).toBeGreaterThanOrEqual(history[i - 1]!.sourceTime);
      expect(history[i]!.index).toBe(i);
    }
    history.forEach((event, i) => {
      const result = parsed[i]!;
      expect(result.ok, event.body.slice(0, 200)).toBe(true);
      if (!result.ok) return;
      expect(result.event.id).toBe(event.id);
      expect(result.event.type).toBe(event.type);
      expect(result.event.sourceTime).toBe(event.sourceTime);
      if (event.projected) {
        expect(result.event.data, `${event.type} should yield facts`).not.toBeNull();
        expect(result.event.skipped).toBeNull();
      } else {
        expect(result.event.data).toBeNull();
      }
    });
  });

  it('gives each entity strictly increasing source times (no ties to break by id)', () => {
    const last = new Map<string, number>();
    history.forEach((event, i) => {
      const result = parsed[i]!;
      if (!result.ok || result.event.stream === null) return;
      const previous = last.get(result.event.stream);
      if (previous !== undefined) expect(event.sourceTime).toBeGreaterThan(previous);
      last.set(result.event.stream, event.sourceTime);
    });
  });

  it('uses both envelope keys, both time formats, and a few unprojected and unknown events', () => {
    const bodies = history.map((e) => envelope(e.body));
    expect(bodies.some((b) => 'event' in b)).toBe(true);
    expect(bodies.some((b) => 'event_type' in b && !('event' in b))).toBe(true);
    expect(bodies.some((b) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(b.created_at))).toBe(true);
    expect(bodies.some((b) => /Z$/.test(b.created_at))).toBe(true);
    const types = new Set(history.map((e) => e.type));
    expect(types.has('test')).toBe(true);
    const unknown = parsed.filter((result) => result.ok && !result.event.known);
    expect(unknown.length).toBeGreaterThan(0);
    const unprojected = history.filter((e) => !e.projected).length;
    expect(unprojected / history.length).toBeLessThan(0.02);
    for (const type of [
      'integrated_account:created',
      'integrated_account:active',
      'integrated_account:updated',
      'integrated_account:post_install_error',
      'integrated_account:authentication_error',
      'integrated_account:reactivated',
      'integrated_account:forbidden_error',
      'integrated_account:deleted',
      'sync_job_run:created',
      'sync_job_run:started',
      'sync_job_run:record',
      'sync_job_run:record_error',
      'sync_job_run:rate_limited',
      'sync_job_run:updated',
      'sync_job_run:completed',
      'sync_job_run:failed',
      'sync_job_run:deleted',
      'record:created',
      'record:updated',
      'record:deleted',
    ]) {
      expect(types.has(type), type).toBe(true);
    }
  });

  it('puts the run id of record events in all three places, and record batches carry 1 to 50 records', () => {
    const places = new Set<string>();
    const sizes = new Set<number>();
    let withErrorsArray = 0;
    let withError = 0;
    for (const event of history) {
      if (event.type !== 'sync_job_run:record' && event.type !== 'sync_job_run:record_error')
        continue;
      const p = envelope(event.body).payload;
      if (p.sync_job_run_id) places.add('top');
      else if (p.meta?.sync_job_run_id) places.add('meta');
      else if (p.sync_job_run?.id) places.add('nested');
      if (event.type === 'sync_job_run:record') {
        expect(p.records.length).toBeGreaterThanOrEqual(1);
        expect(p.records.length).toBeLessThanOrEqual(50);
        sizes.add(p.records.length);
      } else if (Array.isArray(p.errors)) withErrorsArray++;
      else if (typeof p.error === 'string') withError++;
    }
    expect([...places].sort()).toEqual(['meta', 'nested', 'top']);
    expect(sizes.has(1) || sizes.has(2)).toBe(true);
    expect(sizes.has(50) || sizes.has(49)).toBe(true);
    expect(withErrorsArray).toBeGreaterThan(0);
    expect(withError).toBeGreaterThan(0);
  });

  it('has realistic sizes: accounts about 1 KB, record batches bigger', () => {
    const mean = (prefix: string): number => {
      const sizes = history.filter(
        (e) => e.type.startsWith(prefix) && e.type !== 'integrated_account:deleted',
      );
      return sizes.reduce((sum, e) => sum + Buffer.byteLength(e.body), 0) / sizes.length;
    };
    expect(mean('integrated_account:')).toBeGreaterThan(800);
    expect(mean('integrated_account:')).toBeLessThan(1600);
    expect(mean('sync_job_run:record')).toBeGreaterThan(3 * mean('integrated_account:'));
  });

  it('maxRecordsPerPage bounds record pages and moves the average body: about 5 KB by default, about 1 KB at 3', () => {
    const average = (maxRecordsPerPage?: number): number => {
      let bytes = 0;
      let most = 0;
      const events = generateWorkload({
        events: 20_000,
        seed: 11,
        ...(maxRecordsPerPage === undefined ? {} : { maxRecordsPerPage }),
      });
      for (const e of events) {
        bytes += Buffer.byteLength(e.body);
        if (e.type === 'sync_job_run:record')
          most = Math.max(most, envelope(e.body).payload.records.length);
      }
      if (maxRecordsPerPage !== undefined) expect(most).toBe(maxRecordsPerPage);
      return bytes / events.length;
    };
    const byDefault = average();
    expect(average(50)).toBe(byDefault); // the default is 50, same history byte for byte
    expect(byDefault).toBeGreaterThan(4000);
    expect(byDefault).toBeLessThan(6000);
    const small = average(3);
    expect(small).toBeGreaterThan(800);
    expect(small).toBeLessThan(1300);
  });

  it('walks accounts through their lifecycles: failed installs reconnect, auth errors recover, deletions get stray events', () => {
    const byAccount = new Map<string, { type: string; status?: string }[]>();
    const runsOf = new Map<string, string[]>();
    history.forEach((event, i) => {
      const result = parsed[i]!;
      if (!result.ok || result.event.data === null) return;
      const data = result.event.data;
      if (data.kind === 'account') {
        const list = byAccount.get(data.accountId) ?? [];
        list.push({
          type: event.type.slice('integrated_account:'.length),
          ...(data.status ? { status: data.status } : {}),
        });
        byAccount.set(data.accountId, list);
      } else if (data.kind === 'run' && !(data as RunFacts).resource) {
        const list = runsOf.get(data.runId) ?? [];
        list.push(event.type.slice('sync_job_run:'.length));
        runsOf.set(data.runId, list);
      }
    });
    const sequences = [...byAccount.values()].map((l) => l.map((e) => e.type).join(' '));
    expect(sequences.every((s) => s.startsWith('created'))).toBe(true);
    expect(sequences.some((s) => /post_install_error updated active/.test(s))).toBe(true);
    expect(sequences.some((s) => /authentication_error reactivated/.test(s))).toBe(true);
    expect(sequences.some((s) => /authentication_error updated active/.test(s))).toBe(true);
    expect(sequences.some((s) => /deleted (updated|forbidden_error)$/.test(s))).toBe(true);
    const runSequences = [...runsOf.values()].map((l) => l.join(' '));
    expect(runSequences.every((s) => s.startsWith('created'))).toBe(true);
    expect(runSequences.some((s) => /rate_limited updated/.test(s))).toBe(true);
    for (const ending of ['completed', 'failed', 'deleted']) {
      expect(
        runSequences.some((s) => s.endsWith(ending)),
        ending,
      ).toBe(true);
    }
    expect(
      runSequences.some((s) => / updated$/.test(s)),
      'stopped via updated',
    ).toBe(true);
  });
});

describe('the showcase (the demo history)', () => {
  /** The state after folding a workload, through the real engine on the in-memory store. */
  async function fold(deliveries: Iterable<Delivery>) {
    const engine = await createTrutoEngine({ store: createMemoryEventStore() });
    try {
      for (const d of deliveries) expect((await engine.ingest(d.body)).status).not.toBe('rejected');
      await engine.catchUp();
      const accounts = (await engine.list('accounts', { limit: 10_000 })).items;
      const runs = (await engine.list('runs', { limit: 10_000 })).items;
      return { accounts, runs };
    } finally {
      await engine.close();
    }
  }

  it.each([1, 2, 3])(
    'with seed %i, 300 deliveries end with accounts in every state and runs failing, rate-limited, long and running',
    async (seed) => {
      const { accounts, runs } = await fold(
        generateDeliveries({ events: 300, seed, showcase: true }),
      );
      const statuses = new Set<string>(accounts.map((a) => a.status));
      for (const status of [
        'connecting',
        'active',
        'reactivated',
        'needs_reauth',
        'post_install_error',
        'validation_error',
        'deleted',
      ]) {
        expect(statuses.has(status), status).toBe(true);
      }
      const outcomes = new Set<string>(runs.map((r) => r.status));
      for (const status of ['completed', 'failed', 'stopped', 'running', 'rate_limited'])
        expect(outcomes.has(status), status).toBe(true);
      expect(runs.some((r) => r.status === 'failed' && r.errors > 0)).toBe(true);
      expect(runs.some((r) => r.rateLimited > 0 && r.status === 'completed')).toBe(true);
      // Long: an hour or more, where the simulated world's runs take minutes.
      expect(runs.some((r) => (r.durationMs ?? 0) >= 60 * 60 * 1000)).toBe(true);
    },
  );

  it('comes first in source time and leaves the history without it as it was', () => {
    const plain = take(500, 4);
    const again: SourceEvent[] = [];
    for (const event of generateHistory({ seed: 4, showcase: false })) {
      if (again.length === 500) break;
      again.push(event);
    }
    expect(again).toEqual(plain);
    const showcase: SourceEvent[] = [];
    for (const event of generateHistory({ seed: 4, showcase: true, startTime: 0 })) {
      if (showcase.length === 500) break;
      showcase.push(event);
    }
    // The first events are the showcase's scripted accounts (tenants named `*-showcase`).
    const firstAccount = showcase.find((e) => e.type === 'integrated_account:created')!;
    expect(envelope(firstAccount.body).payload.tenant_id).toMatch(/-showcase$/);
    expect(showcase.map((e) => e.sourceTime)).toEqual(
      [...showcase.map((e) => e.sourceTime)].sort((a, b) => a - b),
    );
  });
});
