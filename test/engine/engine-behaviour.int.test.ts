/**
 * The engine's guarantees one by one: publication only after commit, isolation of throwing and
 * slow subscribers, poison events, unknown types, time travel, watch, resume, version rebuilds,
 * restarts and online rebuilds.
 */
import { config as rxConfig, firstValueFrom, take, toArray, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { SlowSubscriberError } from '../../src/engine/change-hub.js';
import { createEngine } from '../../src/engine/engine.js';
import { PoisonEventError } from '../../src/engine/errors.js';
import { shadowName } from '../../src/engine/rebuild.js';
import type { AnyProjection } from '../../src/engine/projection.js';
import type { Change, Engine, EngineOptions, ListResult } from '../../src/engine/types.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { defineTrutoProjection } from '../../src/truto/events.js';
import { trutoProjections } from '../../src/truto/projections/index.js';
import type { ProjectionStore } from '../../src/store/port.js';
import { engineTestResources, type StoreHandle } from '../support/engine.js';

const T0 = Date.UTC(2024, 8, 10, 12);
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function accountBody(
  id: string,
  event: string,
  seconds: number,
  payload: Record<string, unknown> = {},
) {
  return JSON.stringify({
    id,
    event: `integrated_account:${event}`,
    created_at: at(seconds),
    payload: { id: payload.id ?? 'acc-1', ...payload },
  });
}

/** Lets queued change deliveries (scheduled with setImmediate) run. */
const deliveries = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

const { cleanups, sqlite } = engineTestResources();

/** Engines over the Truto projections or test ones: loosely typed, states read as `unknown`. */
type AnyEngine = Engine<readonly AnyProjection[]>;

async function open(handle: StoreHandle, options: Partial<EngineOptions> = {}): Promise<AnyEngine> {
  const engine = (await createEngine({
    store: handle.store,
    live: false,
    codec: trutoCodec,
    projections: trutoProjections as readonly AnyProjection[],
    ...options,
  })) as unknown as AnyEngine;
  cleanups.push(() => engine.close());
  return engine;
}

/** Changes only: these tests run no rebuild, so no reset is ever published. */
const changesOnly = (engine: AnyEngine) => engine.changes$ as Observable<Change>;

/** Counts events per account and throws on a payload status of `poison`. */
function countingProjection(version = 1, calls = { count: 0 }) {
  return defineTrutoProjection({
    name: 'counting',
    version,
    eventTypes: [
      'integrated_account:updated',
      'integrated_account:active',
      'integrated_account:created',
    ],
    keyOf: (event) => event.facts.accountId,
    initialState: (key) => ({ id: key, events: 0, version }),
    evolve: (state, event) => {
      calls.count++;
      // Read from the payload (the stored body), not the facts: custom projections see it all.
      if (event.payload.status === 'poison') throw new Error('cannot fold a poison status');
      return { ...state, events: state.events + 1 };
    },
    streamOf: (key) => `integrated_account:${key}`,
  });
}

describe('publication', () => {
  it('publishes nothing for a projection transaction that rolled back, then each change once', async () => {
    const handle = sqlite();
    const real = handle.store.projections;
    let failNext = true;
    const flaky: ProjectionStore = Object.create(real, {
      commit: {
        value: async (batch: Parameters<ProjectionStore['commit']>[0]) => {
          if (failNext) {
            failNext = false;
            throw new Error('injected failure before commit');
          }
          return real.commit(batch);
        },
      },
    });
    const engine = await open(handle, { projectionStore: flaky });
    const seen: Change[] = [];
    changesOnly(engine).subscribe((change) => seen.push(change));
    await engine.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
    await expect(engine.catchUp()).rejects.toThrow('injected failure');
    await deliveries();
    expect(seen).toEqual([]);
    expect(await engine.get('accounts', 'acc-1')).toBeUndefined();
    await engine.catchUp();
    await deliveries();
    expect(seen.map((c) => [c.projection, c.key, c.eventId])).toEqual([
      ['accounts', 'acc-1', 'e1'],
    ]);
    expect(seen[0]?.before).toBeUndefined();
    expect((seen[0]?.after as { status: string }).status).toBe('connecting');
  });

  it('keeps delivering to other subscribers when one throws, and the process stays up', async () => {
    const engine = await open(sqlite());
    const reported: unknown[] = [];
    const previous = rxConfig.onUnhandledError;
    rxConfig.onUnhandledError = (error) => reported.push(error);
    try {
      engine.changes$.subscribe(() => {
        throw new Error('subscriber bug');
      });
      const good = firstValueFrom(changesOnly(engine).pipe(take(2), toArray()));
      // Two batches: changes are coalesced per entity within one batch.
      await engine.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
      await engine.catchUp();
      await engine.ingest(accountBody('e2', 'active', 2));
      await engine.catchUp();
      expect((await good).map((c) => c.eventId)).toEqual(['e1', 'e2']);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(reported.length).toBe(2);
    } finally {
      rxConfig.onUnhandledError = previous;
    }
  });

  it('never waits for a slow subscriber: it is cut off past its buffer and resumes from its seq', async () => {
    const engine = await open(sqlite(), { subscriberBuffer: 3 });
    const received: Change[] = [];
    const cutOff = new Promise<SlowSubscriberError>((resolve) =>
      changesOnly(engine).subscribe({ next: (c) => received.push(c), error: resolve }),
    );
    for (let i = 0; i < 10; i++)
      await engine.ingest(
        accountBody(`e${i}`, 'created', i, { id: `acc-${i}`, status: 'connecting' }),
      );
    // Projection finishes without the subscriber having taken anything.
    await engine.catchUp();
    expect(await engine.count('accounts')).toBe(10);
    const error = await cutOff;
    expect(error).toBeInstanceOf(SlowSubscriberError);
    const rest = await firstValueFrom(
      (engine.changesSince(error.lastSeq) as Observable<Change>).pipe(
        take(10 - received.length),
        toArray(),
      ),
    );
    const all = [...received, ...rest].filter((c) => c.projection === 'accounts');
    expect(all.map((c) => c.key).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `acc-${i}`).sort(),
    );
  });
});

describe('poison events and unknown types', () => {
  it('dead-letters a throwing reducer, marks the entity, and keeps everything else going', async () => {
    const engine = await open(sqlite(), {
      projections: [countingProjection(), ...trutoProjections],
    });
    await engine.ingest(accountBody('e1', 'created', 1, { id: 'acc-bad', status: 'connecting' }));
    await engine.ingest(accountBody('e2', 'updated', 2, { id: 'acc-bad', status: 'poison' }));
    await engine.ingest(accountBody('e3', 'active', 3, { id: 'acc-bad' }));
    await engine.ingest(accountBody('e4', 'created', 4, { id: 'acc-ok', status: 'connecting' }));
    const head = await engine.catchUp();
    const letters = await engine.deadLetters('counting');
    expect(letters.map((l) => [l.projection, l.key, l.eventId])).toEqual([
      ['counting', 'acc-bad', 'e2'],
      ['counting', 'acc-bad', 'e3'],
    ]);
    expect(letters[0]?.error).toContain('cannot fold a poison status');
    expect(letters[0]?.position).toBe(2);
    // The stalled entity keeps its last good state; the other entity and projection advance.
    expect(await engine.get('counting', 'acc-bad')).toEqual({
      id: 'acc-bad',
      events: 1,
      version: 1,
    });
    expect(await engine.get('counting', 'acc-ok')).toEqual({ id: 'acc-ok', events: 1, version: 1 });
    expect(
      (await (engine.get('accounts', 'acc-bad') as Promise<{ status: string } | undefined>))
        ?.status,
    ).toBe('active');
    const stats = await engine.stats();
    const counting = stats.projections.find((p) => p.name === 'counting');
    expect(counting).toMatchObject({ deadLetters: 2, stalledEntities: 1, position: head, lag: 0 });
    const failure = await engine.rebuild(['counting']).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PoisonEventError);
    expect((failure as PoisonEventError).deadLetter).toMatchObject({
      projection: 'counting~rebuild',
      key: 'acc-bad',
      eventId: 'e2',
      position: 2,
    });
    // The failed rebuild left the live state as it was.
    expect(await engine.get('counting', 'acc-ok')).toEqual({ id: 'acc-ok', events: 1, version: 1 });
  });

  it('stores an unknown event type and still advances every checkpoint', async () => {
    const engine = await open(sqlite());
    await engine.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
    const unknown = await engine.ingest(
      JSON.stringify({ id: 'e2', event: 'brand_new:thing', created_at: at(2), payload: {} }),
    );
    expect(unknown.status).toBe('stored');
    const head = await engine.catchUp();
    expect(head).toBe(2);
    const stats = await engine.stats();
    for (const projection of stats.projections) expect(projection.lag, projection.name).toBe(0);
    expect(stats.store.skipped.unknown_type).toBe(1);
  });
});

describe('batches', () => {
  it("coalesces an entity's changes within one batch into one, from before the batch to after it", async () => {
    const engine = await open(sqlite());
    await engine.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
    await engine.catchUp();
    const next = firstValueFrom(engine.changesOf('accounts') as Observable<Change>);
    await engine.ingest(accountBody('e2', 'active', 2));
    await engine.ingest(accountBody('e3', 'authentication_error', 3));
    await engine.catchUp();
    const change = await next;
    expect(change.eventId).toBe('e3');
    expect((change.before as { status: string }).status).toBe('connecting');
    expect((change.after as { status: string }).status).toBe('needs_reauth');
  });
});

describe('time travel, watch and resume', () => {
  it('answers an entity state as of a source time or a log position', async () => {
    const engine = await open(sqlite());
    await engine.ingest(accountBody('e1', 'created', 10, { status: 'connecting' }));
    await engine.ingest(accountBody('e3', 'authentication_error', 30));
    await engine.ingest(accountBody('e2', 'active', 20)); // arrives late
    await engine.catchUp();
    const status = async (point: Parameters<Engine['stateAt']>[2]) =>
      (
        await (engine.stateAt('accounts', 'acc-1', point) as Promise<
          { status: string } | undefined
        >)
      )?.status;
    expect(await engine.stateAt('accounts', 'acc-1', { time: at(5) })).toBeUndefined();
    expect(await status({ time: at(10) })).toBe('connecting');
    expect(await status({ time: T0 + 25_000 })).toBe('active');
    expect(await status({ time: at(30) })).toBe('needs_reauth');
    expect(await status({ position: 2 })).toBe('needs_reauth');
    expect(await status({ position: 1 })).toBe('connecting');
    expect(
      (await (engine.get('accounts', 'acc-1') as Promise<{ status: string } | undefined>))?.status,
    ).toBe('needs_reauth');
    await expect(engine.stateAt('accounts', 'acc-1', { time: 'yesterday' })).rejects.toMatchObject({
      code: 'invalid_time',
    });
  });

  it('time-travels a derived projection through its sources', async () => {
    const engine = await open(sqlite());
    const run = (id: string, event: string, seconds: number, runId: string) =>
      JSON.stringify({
        id,
        event: `sync_job_run:${event}`,
        created_at: at(seconds),
        payload: {
          id: runId,
          integrated_account_id: 'acc-1',
          sync_job_id: 'job-1',
          created_at: at(seconds),
        },
      });
    await engine.ingest(run('r1', 'created', 10, 'run-1'));
    await engine.ingest(run('r2', 'failed', 20, 'run-1'));
    await engine.ingest(run('r3', 'created', 30, 'run-2'));
    await engine.ingest(run('r4', 'completed', 40, 'run-2'));
    await engine.catchUp();
    type Sync = { runs: number; failed: number; completed: number; consecutiveFailures: number };
    const at25 = await (engine.stateAt('account-sync', 'acc-1', { time: at(25) }) as Promise<
      Sync | undefined
    >);
    expect(at25).toMatchObject({ runs: 1, failed: 1, completed: 0, consecutiveFailures: 1 });
    const now = await (engine.get('account-sync', 'acc-1') as Promise<Sync | undefined>);
    expect(now).toMatchObject({ runs: 2, failed: 1, completed: 1, consecutiveFailures: 0 });
    expect(await engine.stateAt('account-sync', 'acc-1', { time: at(5) })).toBeUndefined();
  });

  it('watch emits the current state, then each change', async () => {
    const engine = await open(sqlite());
    await engine.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
    await engine.catchUp();
    const states = firstValueFrom(
      (engine.watch('accounts', 'acc-1') as Observable<{ status: string } | undefined>).pipe(
        take(3),
        toArray(),
      ),
    );
    await deliveries();
    await engine.ingest(accountBody('e2', 'active', 2));
    await engine.catchUp();
    await engine.ingest(accountBody('e3', 'authentication_error', 3));
    await engine.catchUp();
    expect((await states).map((s) => s?.status)).toEqual(['connecting', 'active', 'needs_reauth']);
  });

  it('changesSince replays the journal then follows live, without gap or repeat', async () => {
    const engine = await open(sqlite());
    for (let i = 1; i <= 5; i++)
      await engine.ingest(
        accountBody(`e${i}`, 'created', i, { id: `acc-${i}`, status: 'connecting' }),
      );
    await engine.catchUp();
    const since = (seq: number) => engine.changesSince(seq) as Observable<Change>;
    const journal = await firstValueFrom(since(0).pipe(take(5), toArray()));
    const resumeAt = journal[1]?.seq as number;
    const resumed = firstValueFrom(since(resumeAt).pipe(take(5), toArray()));
    for (let i = 6; i <= 7; i++)
      await engine.ingest(
        accountBody(`e${i}`, 'created', i, { id: `acc-${i}`, status: 'connecting' }),
      );
    await engine.catchUp();
    const keys = (await resumed).map((c) => c.key);
    expect(keys).toEqual(['acc-3', 'acc-4', 'acc-5', 'acc-6', 'acc-7']);
  });
});

describe('restarts, versions and online rebuilds', () => {
  it('resumes from its checkpoint after a restart without replaying history', async () => {
    const handle = sqlite();
    const calls = { count: 0 };
    const first = await open(handle, { projections: [countingProjection(1, calls)] });
    await first.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
    await first.ingest(accountBody('e2', 'active', 2));
    await first.catchUp();
    await first.close();
    expect(calls.count).toBe(2);
    const reopened = handle.reopen?.();
    if (!reopened) throw new Error('sqlite handle reopens');
    const second = await createEngine({
      store: reopened,
      live: false,
      codec: trutoCodec,
      projections: [countingProjection(1, calls)],
    });
    cleanups.push(() => second.close());
    await second.catchUp();
    expect(calls.count).toBe(2);
    await second.ingest(accountBody('e3', 'updated', 3, { status: 'active' }));
    await second.catchUp();
    expect(calls.count).toBe(3);
    expect(await second.get('counting', 'acc-1')).toEqual({ id: 'acc-1', events: 3, version: 1 });
  });

  it('rebuilds a projection whose version was bumped', async () => {
    const handle = sqlite();
    const first = await open(handle, { projections: [countingProjection(1)] });
    await first.ingest(accountBody('e1', 'created', 1, { status: 'connecting' }));
    await first.catchUp();
    await first.close();
    const second = await createEngine({
      store: handle.reopen?.() ?? handle.store,
      live: false,
      codec: trutoCodec,
      projections: [countingProjection(2)],
    });
    cleanups.push(() => second.close());
    expect(await second.get('counting', 'acc-1')).toEqual({ id: 'acc-1', events: 1, version: 2 });
  });

  it('reports the progress of a rebuild page by page, not only at its commits', async () => {
    const handle = sqlite();
    const engine = await open(handle);
    // Several pages of the log, all folded into one commit far behind.
    for (let i = 0; i < 6_000; i++)
      await engine.ingest(
        accountBody(`p${i}`, 'created', i, { id: `acc-${i % 50}`, status: 'connecting' }),
      );
    await engine.catchUp();
    const head = await handle.store.head();
    const progress: { position: number; events: number; done: boolean }[] = [];
    await engine.rebuild(undefined, { onProgress: (p) => progress.push(p) });
    const between = progress.filter((p) => !p.done && p.position > 0 && p.position < head);
    expect(between.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.position).toBeGreaterThanOrEqual(progress[i - 1]!.position);
      expect(progress[i]!.events).toBeGreaterThanOrEqual(progress[i - 1]!.events);
    }
    expect(progress.at(-1)).toMatchObject({ done: true, position: head, events: 6_000 });
  });

  it('rebuilds online while live projection goes on, then swaps', async () => {
    const handle = sqlite();
    const engine = await open(handle, { batchSize: 50, live: true });
    for (let i = 0; i < 300; i++)
      await engine.ingest(
        accountBody(`a${i}`, 'created', i, { id: `acc-${i % 40}`, status: 'connecting' }),
      );
    await engine.catchUp();
    const progress: number[] = [];
    const rebuilding = engine.rebuild(undefined, { onProgress: (p) => progress.push(p.position) });
    for (let i = 0; i < 40; i++)
      await engine.ingest(accountBody(`b${i}`, 'active', 1000 + i, { id: `acc-${i}` }));
    const report = await rebuilding;
    await engine.catchUp();
    expect(report.projections).toEqual(['accounts', 'runs', 'record-states', 'records']);
    expect(progress.length).toBeGreaterThan(1);
    const accounts = (
      await (engine.list('accounts', { limit: 1000 }) as Promise<ListResult<{ status: string }>>)
    ).items;
    expect(accounts).toHaveLength(40);
    expect(accounts.every((a) => a.status === 'active')).toBe(true);
    // The replaced states are gone: no shadow keeps them after the rebuild.
    for (const name of report.projections) {
      expect(await handle.store.projections.countStates(shadowName(name)), name).toBe(0);
    }
    expect(await handle.store.projections.countStates('accounts')).toBe(40);
  });
});
