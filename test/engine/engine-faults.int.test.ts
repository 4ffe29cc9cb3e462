/**
 * Faults around projection: a second projector on the same file, a store read or a derivation
 * failing mid-batch, a rebuild on start that dies, a long catch-up with subscribers, and a bad
 * event sharing a group commit. Each must leave every event folded exactly once.
 */
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Observable } from 'rxjs';
import { createEngine } from '../../src/engine/engine.js';
import type { AnyProjection } from '../../src/engine/projection.js';
import type { Change, Engine, EngineOptions } from '../../src/engine/types.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { defineTrutoProjection } from '../../src/truto/events.js';
import { trutoProjections } from '../../src/truto/projections/index.js';
import type { EventStore, ProjectionStore } from '../../src/store/port.js';
import { StoreError } from '../../src/store/errors.js';
import { engineTestResources } from '../support/engine.js';

const at = (seconds: number) => new Date(Date.UTC(2024, 8, 10, 12, 0, seconds)).toISOString();
const account = (
  id: string,
  event: string,
  seconds: number,
  accountId = 'acc-1',
  status?: string,
) =>
  JSON.stringify({
    id,
    event: `integrated_account:${event}`,
    created_at: at(seconds),
    payload: { id: accountId, ...(status ? { status } : {}) },
  });
const record = (id: string, seconds: number, records: number) =>
  JSON.stringify({
    id,
    event: 'sync_job_run:record',
    created_at: at(seconds),
    payload: {
      sync_job_run_id: 'run-1',
      integrated_account_id: 'acc-1',
      resource: 'crm/contacts',
      records: Array.from({ length: records }, () => ({})),
    },
  });

const { cleanups, sqlite } = engineTestResources();

type AnyEngine = Engine<readonly AnyProjection[]>;

async function open(
  options: Partial<EngineOptions> & Pick<EngineOptions, 'store'>,
): Promise<AnyEngine> {
  const engine = (await createEngine({
    live: false,
    codec: trutoCodec,
    projections: trutoProjections as readonly AnyProjection[],
    ...options,
  })) as unknown as AnyEngine;
  cleanups.push(() => engine.close());
  return engine;
}

/** A projection store whose named method fails once, the next time it is called. */
function failingOnce<K extends keyof ProjectionStore>(
  real: ProjectionStore,
  method: K,
): ProjectionStore {
  let armed = true;
  return Object.create(real, {
    [method]: {
      value: (...args: unknown[]) => {
        if (armed) {
          armed = false;
          return Promise.reject(new Error(`injected ${String(method)} failure`));
        }
        return (real[method] as (...a: unknown[]) => unknown).apply(real, args);
      },
    },
  }) as ProjectionStore;
}

/** A projection store whose swap is refused as busy (a deadlock's victim) `times` times. */
function busySwaps(
  real: ProjectionStore,
  times: number,
): { store: ProjectionStore; calls: () => number } {
  let calls = 0;
  const store = Object.create(real, {
    swapProjections: {
      value: (...args: unknown[]) => {
        calls += 1;
        if (calls <= times) {
          return Promise.reject(
            new StoreError('store_busy', 'swapping projections: deadlock detected (40P01)'),
          );
        }
        return (real.swapProjections as (...a: unknown[]) => unknown).apply(real, args);
      },
    },
  }) as ProjectionStore;
  return { store, calls: () => calls };
}

describe('a rebuild whose swap the store refuses as busy', () => {
  it('swaps again (the refused swap rolled back whole) and ends with the rebuilt state', async () => {
    const handle = sqlite();
    const busy = busySwaps(handle.store.projections, 2);
    const engine = await open({ store: handle.store, projectionStore: busy.store });
    await engine.ingest(account('e1', 'created', 1, 'acc-1', 'connecting'));
    await engine.ingest(account('e2', 'active', 2));
    await engine.catchUp();
    await engine.rebuild(['accounts']);
    expect(busy.calls()).toBe(3);
    expect(await engine.get('accounts', 'acc-1')).toMatchObject({
      status: 'active',
      eventCount: 2,
    });
  });

  it('gives up with the store error after five refusals, the live state untouched', async () => {
    const handle = sqlite();
    const busy = busySwaps(handle.store.projections, 100);
    const engine = await open({ store: handle.store, projectionStore: busy.store });
    await engine.ingest(account('e1', 'created', 1, 'acc-1', 'connecting'));
    await engine.catchUp();
    await expect(engine.rebuild(['accounts'])).rejects.toMatchObject({ code: 'store_busy' });
    expect(busy.calls()).toBe(5);
    expect(await engine.get('accounts', 'acc-1')).toMatchObject({ status: 'connecting' });
  });
});

describe('a second projector on the same SQLite file', () => {
  it('never folds an event twice: the later commit finds the checkpoint moved and re-reads', async () => {
    const handle = sqlite();
    const other = handle.reopen?.();
    if (!other) throw new Error('sqlite reopens');
    const serve = await open({ store: handle.store });
    const cli = await open({ store: other });
    await serve.ingest(account('e1', 'created', 1, 'acc-1', 'connecting'));
    await serve.catchUp();
    await cli.catchUp();
    await cli.ingest(account('e2', 'active', 2));
    await serve.catchUp();
    await cli.catchUp();
    await serve.ingest(account('e3', 'authentication_error', 3));
    await cli.catchUp();
    await serve.catchUp();
    for (const engine of [serve, cli]) {
      const state = await (engine.get('accounts', 'acc-1') as Promise<
        { eventCount: number; status: string } | undefined
      >);
      expect(state).toMatchObject({ eventCount: 3, status: 'needs_reauth' });
    }
  });
});

describe('failures inside a batch', () => {
  // The derived projections' reads happen inside the commit (ProjectionCommit.derived).
  it('a failing commit (derived reads included) fails the batch, and the retry folds each event once', async () => {
    const handle = sqlite();
    const engine = await open({
      store: handle.store,
      projectionStore: failingOnce(handle.store.projections, 'commit'),
    });
    await engine.ingest(record('e1', 1, 3));
    await expect(engine.catchUp()).rejects.toThrow('injected commit failure');
    await engine.catchUp();
    expect(await engine.get('runs', 'run-1')).toMatchObject({
      recordsReceived: 3,
      recordBatches: 1,
    });
    expect(await engine.deadLetters()).toEqual([]);
  });

  it('a failing store read for a late event fails the batch instead of poisoning the entity', async () => {
    const handle = sqlite();
    let armed = false;
    const store: EventStore = Object.create(handle.store, {
      readStream: {
        value: (...args: Parameters<EventStore['readStream']>) => {
          if (armed) {
            armed = false;
            throw new Error('connection reset');
          }
          return handle.store.readStream(...args);
        },
      },
    }) as EventStore;
    const engine = await open({ store, projectionStore: handle.store.projections });
    await engine.ingest(account('e2', 'active', 2));
    await engine.catchUp();
    armed = true;
    await engine.ingest(account('e1', 'created', 1, 'acc-1', 'connecting')); // late
    await expect(engine.catchUp()).rejects.toThrow('connection reset');
    await engine.ingest(account('e3', 'authentication_error', 3));
    await engine.catchUp();
    expect(await engine.deadLetters()).toEqual([]);
    expect(await engine.get('accounts', 'acc-1')).toMatchObject({
      eventCount: 3,
      status: 'needs_reauth',
    });
  });
});

describe('a rebuild on start that dies', () => {
  it('leaves the old version stamped, so the next start rebuilds again', async () => {
    const handle = sqlite();
    const counting = (version: number, poison: boolean) =>
      defineTrutoProjection({
        name: 'counting',
        version,
        eventTypes: ['integrated_account:created', 'integrated_account:active'],
        reads: 'facts',
        keyOf: (event) => event.facts.accountId,
        initialState: () => ({ n: 0, version }),
        evolve: (state, event) => {
          if (poison && event.id === 'e1') throw new Error('version 2 cannot fold e1 yet');
          return { n: state.n + 1, version };
        },
      });
    const first = await open({ store: handle.store, projections: [counting(1, false)] });
    await first.ingest(account('e1', 'created', 1, 'acc-1', 'connecting'));
    await first.catchUp();
    await first.close();
    // Version 2 fails on e1: the rebuild on start fails, live projection goes on meanwhile.
    await expect(
      open({ store: handle.store, projections: [counting(2, true)] }),
    ).rejects.toMatchObject({ code: 'poison_event' });
    expect((await handle.store.projections.readCheckpoint('counting'))?.version).toBe(1);
    const fixed = await open({ store: handle.store, projections: [counting(2, false)] });
    expect(await fixed.get('counting', 'acc-1')).toEqual({ n: 1, version: 2 });
    expect((await handle.store.projections.readCheckpoint('counting'))?.version).toBe(2);
  });
});

describe('a long catch-up', () => {
  it('lets subscribers drain between batches instead of cutting them off', async () => {
    const handle = sqlite();
    const engine = await open({ store: handle.store, subscriberBuffer: 1_000, batchSize: 500 });
    for (let i = 0; i < 3_000; i++)
      await engine.ingest(account(`e${i}`, 'created', i % 60, `acc-${i}`, 'connecting'));
    const received = firstValueFrom(
      (engine.changesOf('accounts') as Observable<Change>).pipe(take(3_000), toArray()),
    );
    await engine.catchUp();
    expect(new Set((await received).map((c) => c.key)).size).toBe(3_000);
  });
});

describe('a bad event in a group commit', () => {
  it('fails its own caller only', async () => {
    const handle = sqlite();
    const good = account('g1', 'created', 1, 'acc-1', 'connecting');
    const [stored, refused] = await Promise.allSettled([
      handle.store.append([
        {
          id: 'g1',
          type: 'integrated_account:created',
          stream: 'integrated_account:acc-1',
          sourceTime: 1,
          data: null,
          body: Buffer.from(good),
        },
      ]),
      handle.store.append([
        {
          id: 'b1',
          type: undefined as unknown as string,
          stream: null,
          sourceTime: 1,
          data: null,
          body: Buffer.from('{}'),
        },
      ]),
    ]);
    expect(stored.status).toBe('fulfilled');
    expect(refused.status).toBe('rejected');
    expect(await handle.store.head()).toBe(1);
  });
});
