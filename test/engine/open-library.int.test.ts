/**
 * The open library (issue: a generic core, the Truto domain on it, projections that see the whole
 * event): derived rebuilds finish, custom projections fold payload fields and event types outside
 * the catalogue (live, rebuilt and time-travelled alike), a facts version bump re-derives facts
 * from the stored bodies, the lifecycle is explicit, and every committed journal row reaches every
 * subscriber, whoever committed it.
 */
import { firstValueFrom, filter, take, toArray, VirtualTimeScheduler, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { EngineError, JournalGapError } from '../../src/engine/errors.js';
import type { Logger } from '../../src/engine/logger.js';
import { projectionsOver } from '../../src/engine/projection.js';
import type { Change, EngineChange } from '../../src/index.js';
import type { ProjectionStore } from '../../src/store/port.js';
import { trutoCodec } from '../../src/truto/codec.js';
import { createTrutoEngine } from '../../src/truto/engine.js';
import type { TrutoEventWith } from '../../src/truto/events.js';
import { defineTrutoProjection } from '../../src/truto/events.js';
import { runsProjection } from '../../src/truto/projections/index.js';
import { engineTestResources } from '../support/engine.js';

const T0 = Date.UTC(2024, 8, 10, 12);
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const body = (id: string, event: string, seconds: number, payload: Record<string, unknown>) =>
  JSON.stringify({ id, event, created_at: at(seconds), payload });
const deliveries = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

const { cleanups, sqlite } = engineTestResources();

/** Deal values per account, from `record:*` payloads (the Truto projections read only ids). */
const dealTotals = defineTrutoProjection({
  name: 'deal-totals',
  version: 1,
  eventTypes: ['record:created', 'record:updated'],
  keyOf: (event) => (event.payload.resource === 'crm/deals' ? event.payload.id : null),
  initialState: (id) => ({ id, amount: 0, environment: null as string | null }),
  evolve: (state, event) => {
    const record = event.payload.record as { amount?: unknown } | undefined;
    return {
      ...state,
      amount: typeof record?.amount === 'number' ? record.amount : state.amount,
      environment: event.envelope.environmentId,
    };
  },
  streamOf: () => 'record:acc-1/crm/deals',
});

/** A type outside the catalogue, and one Truto knows but the Truto projections never read. */
const defineWithBatches =
  projectionsOver<TrutoEventWith<{ 'batch_job:completed': { id: string; processed: number } }>>();
const batchJobs = defineWithBatches({
  name: 'batch-jobs',
  version: 1,
  eventTypes: ['batch_job:completed'],
  keyOf: (event) => event.payload.id,
  initialState: (id) => ({ id, processed: 0, completions: 0 }),
  evolve: (state, event) => ({
    ...state,
    processed: state.processed + event.payload.processed,
    completions: state.completions + 1,
  }),
  streamOf: (id) => `other:${JSON.stringify(['batch_job', id])}`,
});

const deal = (id: string, event: string, seconds: number, amount: number) =>
  JSON.stringify({
    id,
    event,
    created_at: at(seconds),
    environment_id: 'env-1',
    payload: {
      id: 'deal-1',
      integrated_account_id: 'acc-1',
      resource: 'crm/deals',
      record: { id: 'deal-1', amount },
    },
  });

describe('rebuilding a derived projection', () => {
  it('rebuilds its source and finishes', async () => {
    const handle = sqlite();
    const engine = await createTrutoEngine({ store: handle.store, live: false });
    cleanups.push(() => engine.close());
    await engine.ingest(
      body('r1', 'sync_job_run:created', 1, { id: 'run-1', integrated_account_id: 'acc-1' }),
    );
    await engine.ingest(body('r2', 'sync_job_run:completed', 2, { id: 'run-1' }));
    await engine.catchUp();
    const report = await engine.rebuild(['account-sync']);
    expect(report.projections).toEqual(['runs']);
    expect(report.events).toBe(2);
    expect(await engine.get('account-sync', 'acc-1')).toMatchObject({ runs: 1, completed: 1 });
  });
});

describe('custom projections see the whole event', () => {
  it('fold payload fields, envelope fields and types outside the catalogue; rebuild and time travel agree', async () => {
    const handle = sqlite();
    const engine = await createTrutoEngine({
      store: handle.store,
      live: false,
      projections: [dealTotals, batchJobs] as const,
    });
    cleanups.push(() => engine.close());
    await engine.ingest(deal('d1', 'record:created', 10, 100));
    await engine.ingest(deal('d3', 'record:updated', 30, 300));
    await engine.ingest(deal('d2', 'record:updated', 20, 200)); // late: refolded in order
    for (const [id, seconds, processed] of [
      ['b1', 1, 5],
      ['b2', 2, 7],
    ] as const) {
      await engine.ingest(body(id, 'batch_job:completed', seconds, { id: 'job-1', processed }));
    }
    await engine.catchUp();
    const live = {
      deal: await engine.get('deal-totals', 'deal-1'),
      jobs: await engine.get('batch-jobs', 'job-1'),
    };
    expect(live.deal).toEqual({ id: 'deal-1', amount: 300, environment: 'env-1' });
    expect(live.jobs).toEqual({ id: 'job-1', processed: 12, completions: 2 });
    expect(await engine.stateAt('deal-totals', 'deal-1', { time: at(25) })).toMatchObject({
      amount: 200,
    });
    expect(await engine.stateAt('batch-jobs', 'job-1', { time: at(1) })).toMatchObject({
      processed: 5,
    });

    await engine.rebuild(['deal-totals', 'batch-jobs']);
    expect(await engine.get('deal-totals', 'deal-1')).toEqual(live.deal);
    expect(await engine.get('batch-jobs', 'job-1')).toEqual(live.jobs);
  });

  it('reports event types nothing will ever match when the engine starts', async () => {
    const warnings: object[] = [];
    const logger: Logger = {
      warn: (details) => warnings.push(details),
      error: () => undefined,
      info: () => undefined,
    };
    const misspelt = projectionsOver<TrutoEventWith<{ 'integrated_acount:active': unknown }>>()({
      name: 'typo',
      version: 1,
      eventTypes: ['integrated_acount:active'],
      keyOf: (event) => event.id,
      initialState: () => 0,
      evolve: (n) => n + 1,
    });
    const engine = await createTrutoEngine({
      store: sqlite().store,
      live: false,
      logger,
      projections: [misspelt] as const,
    });
    cleanups.push(() => engine.close());
    expect(warnings).toEqual([{ eventTypes: ['typo: integrated_acount:active'] }]);
  });
});

describe('facts carry a version', () => {
  it('a facts version bump re-derives facts from the stored bodies, for all history', async () => {
    const handle = sqlite();
    const v1 = await createTrutoEngine({ store: handle.store, live: false });
    await v1.ingest(
      body('e1', 'integrated_account:created', 1, { id: 'acc-1', tenant_id: 'tenant-7' }),
    );
    await v1.catchUp();
    await v1.close();
    // Stored facts are version 1: they hold the tenant id as `tenantId`, nothing more.
    const stored = await handle.store.readEvent('e1');
    expect((stored?.data as { v?: number; tenantKey?: string }).tenantKey).toBeUndefined();

    // The next release extracts one more field, as facts version 2.
    const codecV2 = {
      ...trutoCodec,
      factsAreCurrent: (facts: unknown) =>
        facts === null || (facts as { v?: number } | undefined)?.v === 2,
      deriveFacts: (bytes: Uint8Array) => {
        const facts = trutoCodec.deriveFacts(bytes) as Record<string, unknown> | null;
        return facts && { ...facts, v: 2, tenantKey: `tenant:${String(facts.tenantId)}` };
      },
    };
    const tenants = defineTrutoProjection({
      name: 'tenants',
      version: 1,
      eventTypes: ['integrated_account:created'],
      reads: 'facts',
      keyOf: (event) => event.facts.accountId,
      initialState: () => ({ tenantKey: null as string | null }),
      evolve: (_state, event) => ({
        tenantKey: (event.facts as { tenantKey?: string }).tenantKey ?? null,
      }),
    });
    const v2 = await createEngine({
      store: handle.store,
      live: false,
      codec: codecV2,
      projections: [tenants] as const,
    });
    cleanups.push(() => v2.close());
    await v2.catchUp();
    expect(await v2.get('tenants', 'acc-1')).toEqual({ tenantKey: 'tenant:tenant-7' });
  });
});

describe('lifecycle', () => {
  it('fails every call after close with a typed closed error; the store stays open unless asked', async () => {
    const handle = sqlite();
    const engine = await createTrutoEngine({ store: handle.store, live: false });
    await engine.close();
    const calls: (() => Promise<unknown>)[] = [
      () => engine.get('accounts', 'a'),
      () => engine.list('accounts'),
      () => engine.count('accounts'),
      () => engine.ingest('{}'),
      () => engine.catchUp(),
      () => engine.rebuild(),
      () => engine.stats(),
      () => engine.stateAt('accounts', 'a', { position: 1 }),
      () => firstValueFrom(engine.watch('accounts', 'a')),
      () => firstValueFrom(engine.changesSince(0)),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe('closed');
    }
    expect(await handle.store.head()).toBe(0); // still open
    const owner = await createTrutoEngine({ store: handle.store, live: false, closeStore: true });
    await owner.close();
    await expect(handle.store.head()).rejects.toMatchObject({ code: 'store_closed' });
  });

  it('resolves createEngine only after a version-bump rebuild, so a rebuild right after works', async () => {
    const handle = sqlite();
    const counter = (version: number) =>
      defineTrutoProjection({
        name: 'counter',
        version,
        eventTypes: ['integrated_account:created'],
        reads: 'facts',
        keyOf: (event) => event.facts.accountId,
        initialState: () => ({ n: 0, version }),
        evolve: (state) => ({ ...state, n: state.n + 1 }),
      });
    const first = await createEngine({
      store: handle.store,
      live: false,
      codec: trutoCodec,
      projections: [counter(1)] as const,
    });
    await first.ingest(body('e1', 'integrated_account:created', 1, { id: 'acc-1' }));
    await first.catchUp();
    await first.close();
    const second = await createEngine({
      store: handle.store,
      codec: trutoCodec,
      projections: [counter(2)] as const,
    });
    cleanups.push(() => second.close());
    expect(await second.get('counter', 'acc-1')).toEqual({ n: 1, version: 2 });
    await expect(second.rebuild()).resolves.toMatchObject({ projections: ['counter'] });

    const background = await createEngine({
      store: handle.store,
      live: false,
      startupRebuild: 'background',
      codec: trutoCodec,
      projections: [counter(3)] as const,
    });
    cleanups.push(() => background.close());
    await background.ready;
    expect(await background.get('counter', 'acc-1')).toEqual({ n: 1, version: 3 });
  });

  it('counts a body the codec refused in stats, whichever way it came', async () => {
    const engine = await createTrutoEngine({ store: sqlite().store, live: false });
    cleanups.push(() => engine.close());
    const result = await engine.ingest('{"id":"x","created_at":"2024-09-10 12:00:00"}');
    expect(result).toMatchObject({ status: 'rejected', code: 'missing_event' });
    expect((await engine.stats()).store.rejects).toBe(1);
  });

  it('retries a failed projection on the injected scheduler (virtual time)', async () => {
    const handle = sqlite();
    const real = handle.store.projections;
    let failures = 1;
    const flaky: ProjectionStore = Object.create(real, {
      commit: {
        value: async (batch: Parameters<ProjectionStore['commit']>[0]) => {
          if (failures-- > 0) throw new Error('injected commit failure');
          return real.commit(batch);
        },
      },
    });
    const scheduler = new VirtualTimeScheduler();
    const errors: object[] = [];
    const engine = await createTrutoEngine({
      store: handle.store,
      projectionStore: flaky,
      scheduler,
      logger: { warn: (d) => errors.push(d), error: () => undefined, info: () => undefined },
    });
    cleanups.push(() => engine.close());
    await engine.ingest(body('e1', 'integrated_account:created', 1, { id: 'acc-1' }));
    // The live run fails once and schedules its retry on virtual time, which has not moved.
    for (let i = 0; i < 50 && errors.length === 0; i++) await deliveries();
    expect(errors).toHaveLength(1);
    for (let i = 0; i < 10; i++) await deliveries();
    expect(await engine.get('accounts', 'acc-1')).toBeUndefined();
    scheduler.flush(); // the retry's 100 ms pass at once
    for (let i = 0; i < 50 && !(await engine.get('accounts', 'acc-1')); i++) await deliveries();
    expect(await engine.get('accounts', 'acc-1')).toMatchObject({ id: 'acc-1' });
  });
});

describe('change publication from the journal', () => {
  it('delivers changes another process committed on the same file, in seq order, without gap', async () => {
    const handle = sqlite();
    const serving = await createTrutoEngine({ store: handle.store, journalPollMs: 20 });
    cleanups.push(() => serving.close());
    const other = handle.reopen?.();
    if (!other) throw new Error('sqlite reopens');
    const cli = await createTrutoEngine({ store: other, live: false });
    cleanups.push(() => cli.close());
    const received = firstValueFrom(
      (serving.changes$ as Observable<Change>).pipe(take(30), toArray()),
    );
    for (let i = 0; i < 30; i++) {
      // The other process appends and projects before the serving engine gets to it.
      await cli.ingest(body(`e${i}`, 'integrated_account:created', i, { id: `acc-${i}` }));
      await cli.catchUp();
    }
    const seqs = (await received).map((change) => change.seq);
    const journal = await handle.store.projections.readChanges(0);
    expect(seqs).toEqual(journal.slice(0, 30).map((row) => row.seq));
  });

  it('watch never goes back in time when publication lags the state it read', async () => {
    const handle = sqlite();
    const other = handle.reopen?.();
    if (!other) throw new Error('sqlite reopens');
    // The watching engine publishes only when its (virtual) journal poll runs.
    const scheduler = new VirtualTimeScheduler();
    const watching = await createTrutoEngine({ store: handle.store, live: false, scheduler });
    cleanups.push(() => watching.close());
    const writer = await createTrutoEngine({ store: other, live: false });
    cleanups.push(() => writer.close());
    const status = (id: string, event: string, seconds: number) =>
      body(id, `integrated_account:${event}`, seconds, { id: 'acc-1', status: 'connecting' });
    await writer.ingest(status('e1', 'created', 1));
    await writer.catchUp();
    await writer.ingest(status('e2', 'active', 2));
    await writer.catchUp();

    const seen: (string | undefined)[] = [];
    const subscription = watching
      .watch('accounts', 'acc-1')
      .subscribe((state) => seen.push(state?.status));
    for (let i = 0; i < 20 && seen.length === 0; i++) await deliveries();
    expect(seen).toEqual(['active']);
    // Now the journal rows of both commits reach this engine: neither may take it back.
    scheduler.flush();
    for (let i = 0; i < 20; i++) await deliveries();
    expect(seen).toEqual(['active']);
    await writer.ingest(status('e3', 'authentication_error', 3));
    await writer.catchUp();
    scheduler.flush();
    for (let i = 0; i < 50 && seen.length < 2; i++) await deliveries();
    expect(seen).toEqual(['active', 'needs_reauth']);
    subscription.unsubscribe();
  });

  it('signals a rebuild swap to subscribers and watchers as a reset', async () => {
    const handle = sqlite();
    const engine = await createTrutoEngine({ store: handle.store });
    cleanups.push(() => engine.close());
    await engine.ingest(body('e1', 'integrated_account:created', 1, { id: 'acc-1' }));
    await engine.catchUp();
    const reset = firstValueFrom(
      engine.changes$.pipe(filter((change: EngineChange) => change.kind === 'reset')),
    );
    await engine.rebuild(['accounts']);
    expect(await reset).toMatchObject({ kind: 'reset', projection: 'accounts', reason: 'rebuilt' });
    const replayed = await firstValueFrom(engine.changesSince(0).pipe(take(2), toArray()));
    expect(replayed.map((change) => change.kind)).toEqual(['change', 'reset']);
  });

  it('refuses a resume point the journal no longer covers, naming the oldest seq kept', async () => {
    const engine = await createTrutoEngine({
      store: sqlite().store,
      live: false,
      changeRetention: 5,
    });
    cleanups.push(() => engine.close());
    // Enough batches for the engine to prune the journal to its retention.
    for (let i = 0; i < 120; i++) {
      await engine.ingest(body(`e${i}`, 'integrated_account:created', i, { id: `acc-${i}` }));
      await engine.catchUp();
    }
    const ahead = await firstValueFrom(engine.changesSince(10_000)).catch((e: unknown) => e);
    expect(ahead).toBeInstanceOf(JournalGapError);
    const old = (await firstValueFrom(engine.changesSince(1)).catch(
      (e: unknown) => e,
    )) as JournalGapError;
    expect(old).toBeInstanceOf(JournalGapError);
    expect(old.oldestSeq).toBeGreaterThan(2);
    const latest = old.latestSeq;
    const fromOldest = await firstValueFrom(engine.changesSince(old.oldestSeq - 1));
    expect(fromOldest.seq).toBe(old.oldestSeq);
    expect(latest).toBeGreaterThanOrEqual(old.oldestSeq);
  });
});

// The derived source projection is registered, typed and usable on its own (no Truto engine).
describe('the core on its own', () => {
  it('runs a projection list without the Truto projections', async () => {
    const engine = await createEngine({
      store: sqlite().store,
      live: false,
      codec: trutoCodec,
      projections: [runsProjection] as const,
    });
    cleanups.push(() => engine.close());
    expect(engine.projectionNames).toEqual(['runs']);
  });
});
