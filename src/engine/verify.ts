/**
 * Verification: rebuild every stream projection (and the aggregates over them) from the log into
 * scratch memory and compare it with the live state, entity by entity. The live state is expected
 * to be caught up to `upTo`.
 */
import { createMemoryProjectionStore } from '../store/memory/projection-store.js';
import type { EventStore, ProjectionStore, StateRow } from '../store/port.js';
import { jsonEqual } from './json-equal.js';
import { plainJsonCodec, type EventCodec } from './codec.js';
import { silentLogger } from './logger.js';
import type { AnyAggregateProjection, AnyProjection, AnyStreamProjection } from './projection.js';
import { ProjectionRunner } from './runner.js';

export interface StateDifference {
  readonly projection: string;
  readonly key: string;
  /** `missing`: only the rebuild has it; `unexpected`: only the live state has it. */
  readonly kind: 'missing' | 'unexpected' | 'different';
  readonly live?: unknown;
  readonly rebuilt?: unknown;
  /** Top-level fields that differ (for `different`). */
  readonly fields?: readonly string[];
}

export interface VerifyReport {
  readonly position: number;
  readonly entities: number;
  readonly differences: readonly StateDifference[];
}

export interface VerifyOptions {
  readonly store: EventStore;
  readonly projectionStore: ProjectionStore;
  readonly projections: readonly AnyProjection[];
  /** The codec the projections' events were stored with (default: plain JSON). */
  readonly codec?: EventCodec;
  /** Log position both sides are compared at. */
  readonly upTo: number;
  /** Stop collecting after this many differences (default 1000). */
  readonly maxDifferences?: number;
}

export async function verifyProjections(options: VerifyOptions): Promise<VerifyReport> {
  const streams = options.projections.filter((p): p is AnyStreamProjection => p.kind === 'stream');
  const aggregates = options.projections.filter(
    (p): p is AnyAggregateProjection => p.kind === 'aggregate',
  );
  const scratch = createMemoryProjectionStore();
  const runner = new ProjectionRunner({
    store: options.store,
    projectionStore: scratch,
    codec: options.codec ?? plainJsonCodec,
    logger: silentLogger,
    projections: streams,
    aggregates,
    journal: false,
    failFast: true,
    batchSize: 5_000,
    cacheLimit: 1_000_000,
  });
  await runner.init();
  await runner.runTo(options.upTo, () => undefined);
  const limit = options.maxDifferences ?? 1_000;
  const differences: StateDifference[] = [];
  let entities = 0;
  for (const projection of [...streams, ...aggregates]) {
    // An aggregate's emptied groups keep a row without state: as absent as a group never made.
    const stateless = projection.kind === 'aggregate';
    const live = pages(options.projectionStore, projection.name, stateless);
    const rebuilt = pages(scratch, projection.name, stateless);
    let a = await live.next();
    let b = await rebuilt.next();
    while ((!a.done || !b.done) && differences.length < limit) {
      entities++;
      const liveRow = a.done ? undefined : a.value;
      const rebuiltRow = b.done ? undefined : b.value;
      if (liveRow && (!rebuiltRow || liveRow.key < rebuiltRow.key)) {
        differences.push({
          projection: projection.name,
          key: liveRow.key,
          kind: 'unexpected',
          live: liveRow.state,
        });
        a = await live.next();
      } else if (rebuiltRow && (!liveRow || rebuiltRow.key < liveRow.key)) {
        differences.push({
          projection: projection.name,
          key: rebuiltRow.key,
          kind: 'missing',
          rebuilt: rebuiltRow.state,
        });
        b = await rebuilt.next();
      } else if (liveRow && rebuiltRow) {
        if (!jsonEqual(liveRow.state, rebuiltRow.state)) {
          differences.push({
            projection: projection.name,
            key: liveRow.key,
            kind: 'different',
            live: liveRow.state,
            rebuilt: rebuiltRow.state,
            fields: differingFields(liveRow.state, rebuiltRow.state),
          });
        }
        a = await live.next();
        b = await rebuilt.next();
      }
    }
  }
  return { position: options.upTo, entities, differences };
}

async function* pages(
  store: ProjectionStore,
  projection: string,
  skipStateless: boolean,
): AsyncGenerator<StateRow> {
  let afterKey: string | undefined;
  for (;;) {
    const rows = await store.listStates(projection, {
      limit: 1_000,
      ...(afterKey === undefined ? {} : { afterKey }),
    });
    for (const row of rows) {
      if (!skipStateless || (row.state !== null && row.state !== undefined)) yield row;
    }
    if (rows.length < 1_000) return;
    afterKey = rows[rows.length - 1]?.key;
  }
}

function differingFields(a: unknown, b: unknown): string[] {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return [];
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  return [...keys].filter((key) => !jsonEqual(left[key], right[key])).sort();
}
