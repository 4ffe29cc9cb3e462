/**
 * Far behind, a live runner folds several pages of the log into one commit (runner.ts,
 * `catchUpCommitSize`). With pages and commits cut small, late and duplicate deliveries fall
 * within a page, across pages of one commit and across commits; whatever the cut:
 * - every state, aggregate and derived group is the sorted fold of the distinct events;
 * - the commits are as many as the commit size says, not one per page;
 * - the journal is one unbroken chain per entity: each change starts where the previous one of
 *   its entity ended (the first from nothing), and the last ends at the stored state; so a
 *   subscriber that applies the changes holds what a read answers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import type {
  AnyAggregateProjection,
  AnyDerivedProjection,
  AnyProjection,
  AnyStreamProjection,
} from '../../src/engine/projection.js';
import { ProjectionRunner, type RunnerOptions } from '../../src/engine/runner.js';
import type { ChangeRecord, EventStore, ProjectionStore } from '../../src/store/port.js';
import {
  createMemoryEventStore,
  createMemoryProjectionStore,
} from '../../src/store/memory/index.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { parseWebhook } from '../../src/truto/parse.js';
import { trutoProjections } from '../../src/truto/projections/index.js';
import { appendDelivered, expectedStates } from '../support/engine.js';
import { deliveredHistoryArbitrary } from '../support/histories.js';

const all = trutoProjections as readonly AnyProjection[];
const streams = all.filter((p): p is AnyStreamProjection => p.kind === 'stream');
const aggregates = all.filter((p): p is AnyAggregateProjection => p.kind === 'aggregate');
const derived = all.filter((p): p is AnyDerivedProjection => p.kind === 'derived');

/** A live runner (journalling) over the Truto stream projections; every run is far behind. */
function runnerOver(
  store: EventStore,
  projectionStore: ProjectionStore,
  options: Partial<RunnerOptions>,
): ProjectionRunner {
  return new ProjectionRunner({
    store,
    projectionStore,
    codec: trutoCodec,
    logger: silentLogger,
    projections: streams,
    journal: true,
    // Live batches of one event: any run of two or more is far behind.
    batchSize: 1,
    cacheLimit: 50_000,
    ...options,
  });
}

describe('a far-behind run folding several pages into one commit', () => {
  it('commits as the commit size says, with the sorted fold and an unbroken journal', async () => {
    await fc.assert(
      fc.asyncProperty(
        deliveredHistoryArbitrary,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async ({ bodies, order }, page, pagesPerCommit) => {
          const store = createMemoryEventStore();
          const projectionStore = createMemoryProjectionStore();
          try {
            await appendDelivered(store, order);
            const head = await store.head();
            const runner = runnerOver(store, projectionStore, {
              aggregates,
              derived,
              groupOf: new Map(derived.map((d) => [d.from, (state: unknown) => d.groupOf(state)])),
              catchUpBatchSize: () => page,
              catchUpCommitSize: () => page * pagesPerCommit,
            });
            await runner.init();
            const commits: number[] = [];
            const changes: ChangeRecord[] = [];
            const result = await runner.runTo(head, (batch) => {
              commits.push(batch.events);
              changes.push(...batch.changes);
            });
            expect(result).toEqual({ ok: true, events: head });

            // One commit per `pagesPerCommit` pages (the last one may hold fewer).
            if (head > 1) {
              const pages = Math.ceil(head / page);
              expect(commits).toHaveLength(Math.ceil(pages / pagesPerCommit));
              for (const events of commits.slice(0, -1)) expect(events).toBe(page * pagesPerCommit);
            }

            const expected = expectedStates(bodies);
            const stored = new Map<string, unknown>();
            for (const projection of [...streams, ...aggregates]) {
              const rows = await projectionStore.listStates(projection.name);
              expect(
                rows.map((row) => row.state),
                projection.name,
              ).toEqual(expected[projection.name]);
              for (const row of rows) stored.set(`${projection.name}/${row.key}`, row.state);
            }

            const chains = new Map<string, unknown>();
            for (const change of changes) {
              if (derived.some((d) => d.name === change.projection)) continue;
              const id = `${change.projection}/${change.key}`;
              expect(change.before, `${id} at ${change.eventId}`).toEqual(chains.get(id) ?? null);
              chains.set(id, change.after);
            }
            const published = streams.filter((s) => s.publish !== false).map((s) => `${s.name}/`);
            for (const [id, state] of stored) {
              // An aggregate's change is journalled only when it moved; `record-states`
              // journals nothing (publish: false).
              if (chains.has(id) || published.some((prefix) => id.startsWith(prefix))) {
                expect(chains.get(id), id).toEqual(state);
              }
            }
            // Derived groups: the last change of each is the group derived from the stored
            // members.
            const lastDerived = new Map<string, unknown>();
            for (const change of changes) {
              if (derived.some((d) => d.name === change.projection)) {
                lastDerived.set(change.key, change.after);
              }
            }
            for (const projection of derived) {
              expect([...lastDerived.values()].length).toBe(expected[projection.name]?.length);
              expect(
                [...lastDerived.keys()].sort().map((key) => lastDerived.get(key)),
                projection.name,
              ).toEqual(expected[projection.name]);
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('commits the pending pages at once when a subscriber comes, then a page at a time', async () => {
    const store = createMemoryEventStore();
    const projectionStore = createMemoryProjectionStore();
    try {
      for (let i = 0; i < 20; i++) {
        const parsed = parseWebhook(
          JSON.stringify({
            id: `evt-${i}`,
            event: 'integrated_account:created',
            created_at: new Date(Date.UTC(2024, 8, 10, 12, 0, i)).toISOString(),
            payload: { id: `acc-${i}`, tenant_id: 't', environment_id: 'e' },
          }),
        );
        if (!parsed.ok) throw new Error(parsed.code);
        await store.append([parsed.event]);
      }
      // Asked after each page: nobody watches after the first three, someone does after the
      // fourth (which is committed with them), and from then on.
      let asked = 0;
      const runner = runnerOver(store, projectionStore, {
        catchUpBatchSize: () => 2,
        catchUpCommitSize: () => (++asked <= 3 ? 10 : 2),
      });
      await runner.init();
      const commits: number[] = [];
      await runner.runTo(await store.head(), (batch) => commits.push(batch.events));
      expect(commits).toEqual([8, 2, 2, 2, 2, 2, 2]);
      expect(await projectionStore.listStates('accounts')).toHaveLength(20);
    } finally {
      await store.close();
    }
  });
});
