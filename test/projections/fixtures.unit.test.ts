/**
 * The hand-written fixtures: every body is a valid Truto envelope that `parseWebhook` accepts,
 * they exercise what they claim (both envelope keys, both time formats, all run-id placements),
 * and `test/fixtures/ndjson/` holds exactly the same bodies as NDJSON for `truto-state import`
 * and other tests, and `test/fixtures/expected/<projection>.ndjson` the states `truto-state dump
 * <projection>` should print after importing `all.ndjson` (regenerate with `npx vitest run test/projections/fixtures.unit.test.ts -u`).
 */
import { describe, expect, it } from 'vitest';
import type { AnyProjection } from '../../src/engine/projection.js';
import { trutoProjections } from '../../src/truto/projections/index.js';
import { parseWebhook } from '../../src/truto/parse.js';
import { aggregateAll, deriveAll, foldAll, toProjectionEvent } from '../../src/testing/index.js';
import { allBodies, scenarios, toNdjson } from '../fixtures/index.js';

const parsed = allBodies.map((body) => {
  const result = parseWebhook(JSON.stringify(body));
  if (!result.ok)
    throw new Error(`fixture ${JSON.stringify(body).slice(0, 80)} refused: ${result.message}`);
  return { body: body as Record<string, unknown>, event: result.event };
});

describe('fixtures', () => {
  it('every body parses; only the deliberately unprojected ones are skipped', () => {
    const skipped = parsed
      .filter((p) => p.event.skipped !== null)
      .map((p) => [p.event.type, p.event.skipped?.reason]);
    expect(skipped).toEqual([
      ['sync_job_run:record', 'no_run_id'],
      ['test', 'not_projected'],
      ['sync_job_cron_trigger:failed', 'not_projected'],
      ['integrated_account:archived', 'unknown_type'],
    ]);
  });

  it('use both envelope keys and both time formats', () => {
    expect(parsed.some((p) => 'event' in p.body)).toBe(true);
    expect(parsed.some((p) => 'event_type' in p.body && !('event' in p.body))).toBe(true);
    const times = parsed.map((p) => String(p.body['created_at']));
    expect(times.some((t) => /^\d{4}-\d{2}-\d{2}T.*Z$/.test(t))).toBe(true);
    expect(times.some((t) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(t))).toBe(true);
  });

  it('record events carry the run id at the top, under meta and under sync_job_run', () => {
    const records = parsed
      .filter((p) => p.event.type.startsWith('sync_job_run:record'))
      .map((p) => p.body['payload'] as Record<string, any>);
    expect(records.some((p) => p['sync_job_run_id'] !== undefined)).toBe(true);
    expect(
      records.some(
        (p) => p['sync_job_run_id'] === undefined && p['meta']?.sync_job_run_id !== undefined,
      ),
    ).toBe(true);
    expect(
      records.some(
        (p) =>
          p['sync_job_run_id'] === undefined &&
          p['meta']?.sync_job_run_id === undefined &&
          p['sync_job_run']?.id !== undefined,
      ),
    ).toBe(true);
    expect(records.some((p) => Array.isArray(p['errors']))).toBe(true);
  });

  it('duplicates are byte-identical re-deliveries (same id, same body)', () => {
    const byId = new Map<string, string>();
    for (const body of allBodies) {
      const id = String((body as { id: string }).id);
      const text = JSON.stringify(body);
      if (byId.has(id)) expect(text).toBe(byId.get(id));
      byId.set(id, text);
    }
    expect(byId.size).toBeLessThan(allBodies.length);
  });

  it.each(Object.keys(scenarios))('ndjson/%s.ndjson holds the scenario', async (name) => {
    await expect(toNdjson(scenarios[name] ?? [])).toMatchFileSnapshot(
      `../fixtures/ndjson/${name}.ndjson`,
    );
  });

  it('ndjson/all.ndjson holds every scenario', async () => {
    await expect(toNdjson(allBodies)).toMatchFileSnapshot('../fixtures/ndjson/all.ndjson');
  });
});

describe('expected dumps of ndjson/all.ndjson', () => {
  const events = parsed
    .filter((p) => p.event.data !== null)
    .map((p, i) => toProjectionEvent(JSON.stringify(p.body), i + 1));
  const states = new Map<string, ReadonlyMap<string, unknown>>();
  // One loop over projections of different state types: the list as the engine's untyped form.
  for (const projection of trutoProjections as readonly AnyProjection[]) {
    states.set(
      projection.name,
      projection.kind === 'stream'
        ? foldAll(projection, events)
        : projection.kind === 'derived'
          ? deriveAll(projection, states.get(projection.from) ?? new Map())
          : aggregateAll(projection, states.get(projection.from) ?? new Map()),
    );
  }

  it.each(trutoProjections.map((p) => p.name))(
    'expected/%s.ndjson: one state per line, sorted by key',
    async (name) => {
      const byKey = states.get(name) ?? new Map();
      const keys = [...byKey.keys()];
      expect(keys).toEqual([...keys].sort());
      await expect(toNdjson([...byKey.values()] as object[])).toMatchFileSnapshot(
        `../fixtures/expected/${name}.ndjson`,
      );
    },
  );
});

describe('streamOf', () => {
  it('names the stream parseWebhook files each entity under (time travel reads it)', () => {
    const streams = parsed
      .filter((p) => p.event.data !== null)
      .map((p) => toProjectionEvent(JSON.stringify(p.body), 0));
    let checked = 0;
    for (const projection of trutoProjections as readonly AnyProjection[]) {
      if (projection.kind !== 'stream') continue;
      for (const event of streams) {
        if (!projection.eventTypes.includes(event.type)) continue;
        const key = projection.keyOf(event);
        if (key === null) continue;
        expect(projection.streamOf?.(key)).toBe(event.stream);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});
