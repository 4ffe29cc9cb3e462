/**
 * The realistic workload generator: Truto-shaped webhook histories as the exact bodies Truto would
 * POST, deterministic from a seed, streamed so a million events never sit in memory at once.
 *
 * A small discrete-event simulation produces the *source history*: accounts arrive (tenants own
 * one or several), connect (some through post-install or validation errors and a reconnect), run
 * sync jobs (created, started, pages of 1-50 records, rate limits, record errors, then completed,
 * failed, stopped or deleted), fall into `needs_reauth` and come back (by themselves or by a user
 * reconnect), hit 403s, change records, and some are deleted (a few with stray events after).
 * Every actor is a generator function stepped in source-time order from a min-heap, so the
 * history comes out sorted by source time without ever being held whole.
 *
 * The *delivery order* is then derived from it: some events are held back and delivered late (out
 * of source order) and some are delivered twice (the same bytes), within a bounded window.
 *
 * Used by the benchmarks (`bench/`) and by `truto-state demo` (which starts with the scripted
 * showcase of `showcase.ts`).
 */
import { familyOf } from '../truto/catalogue.js';
import { MinHeap } from './heap.js';
import {
  accountPayload,
  AUTH_ERRORS,
  FORBIDDEN_ERRORS,
  INTEGRATIONS,
  POST_INSTALL_ERRORS,
  RAW_SLOT,
  recordBatchPayload,
  recordErrorPayload,
  runPayload,
  unifiedRecordJson,
  type AccountSim,
  type RunSim,
} from './payloads.js';
import { createRandom, type Random } from './random.js';
import { SHOWCASE_SPAN, spawnShowcase } from './showcase.js';

export interface HistoryOptions {
  /** Any integer; the same seed always yields the same history (default 1). */
  readonly seed?: number;
  /** Source time of the first event, epoch ms (default 2024-09-01T00:00:00Z). */
  readonly startTime?: number;
  /**
   * Start with the scripted showcase (`showcase.ts`): accounts in every state and runs of every
   * outcome, then the simulated world (default false; `truto-state demo` turns it on).
   */
  readonly showcase?: boolean;
  /**
   * Most unified records in one `sync_job_run:record` page (default 50, about 5 KB average
   * bodies over a history; 4 gives about 1 KB). Benchmarks use it to move the body-size floors.
   */
  readonly maxRecordsPerPage?: number;
}

export interface WorkloadOptions extends HistoryOptions {
  /** Total deliveries, re-deliveries included (10k to 1M for benchmarks; any n ≥ 0). */
  readonly events: number;
  /** Probability that an event is delivered a second time, same bytes (default 0.02). */
  readonly duplicateRate?: number;
  /** Probability that an event is held back and delivered after later ones (default 0.05). */
  readonly lateRate?: number;
  /** How many deliveries a late event or a re-delivery may trail by, at most (default 500). */
  readonly lateWindow?: number;
}

/** One event of the source history, in source-time order. */
export interface SourceEvent {
  /** Position in the source history (0, 1, 2…): the order of source time, then of generation. */
  readonly index: number;
  readonly id: string;
  readonly type: string;
  /** Epoch ms, exactly what `created_at` parses to (whole seconds for `YYYY-MM-DD HH:MM:SS`). */
  readonly sourceTime: number;
  /** The raw JSON body, as POSTed. */
  readonly body: string;
  /** Whether a projected family reads it (false for `test` and other unprojected or unknown names). */
  readonly projected: boolean;
}

/** One delivery: a source event as it arrives. */
export interface Delivery extends SourceEvent {
  /** Position in arrival order (0, 1, 2…). */
  readonly delivery: number;
  /** A re-delivery of bytes already delivered. */
  readonly duplicate: boolean;
  /**
   * Held back: delivered after events that follow it in source order (at the very end of a
   * workload, or behind only re-deliveries, a held event may happen to land in order).
   */
  readonly late: boolean;
}

const DEFAULT_START = Date.UTC(2024, 8, 1);

/**
 * The source history, in source-time order, without end (take what you need).
 *
 * @example
 * for (const event of generateHistory({ seed: 7 })) { if (event.index > 100) break; }
 */
export function* generateHistory(
  options: HistoryOptions = {},
): Generator<SourceEvent, never, void> {
  const world = new World(
    options.seed ?? 1,
    options.startTime ?? DEFAULT_START,
    options.showcase ?? false,
    Math.max(1, Math.floor(options.maxRecordsPerPage ?? 50)),
  );
  for (;;) yield world.nextEvent();
}

/**
 * Deliveries in arrival order: the history with late deliveries and re-deliveries mixed in.
 * Exactly `options.events` deliveries; memory stays bounded by `lateWindow`.
 *
 * @example
 * for (const d of generateDeliveries({ events: 10_000, seed: 42 })) post(d.body);
 */
export function* generateDeliveries(options: WorkloadOptions): Generator<Delivery, void, void> {
  const total = checkCount(options.events);
  const duplicateRate = checkRate('duplicateRate', options.duplicateRate ?? 0.02);
  const lateRate = checkRate('lateRate', options.lateRate ?? 0.05);
  const window = Math.max(1, Math.floor(options.lateWindow ?? 500));
  // A separate stream of randomness, so delivery choices never perturb the history itself.
  const random = createRandom((options.seed ?? 1) ^ 0x5bd1e995);
  const history = generateHistory(options);
  const held = new MinHeap<{ event: SourceEvent; duplicate: boolean; late: boolean }>();
  let delivered = 0;
  let planned = 0;
  const deliver = (event: SourceEvent, duplicate: boolean, late: boolean): Delivery => ({
    ...event,
    delivery: delivered++,
    duplicate,
    late,
  });

  while (planned < total) {
    const event = history.next().value;
    planned++;
    let releaseAt: number;
    if (random.chance(lateRate)) {
      releaseAt = delivered + random.int(1, window);
      held.push(releaseAt, { event, duplicate: false, late: true });
    } else {
      releaseAt = delivered;
      yield deliver(event, false, false);
    }
    if (planned < total && random.chance(duplicateRate)) {
      planned++;
      // Pushed after the original with a later release: the original always arrives first.
      held.push(releaseAt + random.int(1, window), { event, duplicate: true, late: false });
    }
    while ((held.peekKey() ?? Infinity) <= delivered) {
      const next = held.pop()!.value;
      yield deliver(next.event, next.duplicate, next.late);
    }
  }
  for (let next = held.pop(); next; next = held.pop()) {
    yield deliver(next.value.event, next.value.duplicate, next.value.late);
  }
}

/** All deliveries in an array: for tests and small demos only (use the generator for big runs). */
export function generateWorkload(options: WorkloadOptions): Delivery[] {
  return [...generateDeliveries(options)];
}

function checkCount(n: number): number {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`events must be a non-negative integer, got ${n}`);
  return n;
}

function checkRate(name: string, p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`${name} must be in [0, 1), got ${p}`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// The simulation

type TimeFormat = 'iso' | 'space';

/** What an actor yields: optionally an event to emit now, then how long it sleeps (ms). */
interface Step {
  readonly emit?: {
    readonly type: string;
    readonly payload: unknown;
    /** JSON text that replaces the `RAW_SLOT` string inside `payload`. */
    readonly raw?: string;
  };
  readonly after: number;
}

type ActorBody = Generator<Step, void, void>;

interface Actor {
  readonly body: ActorBody;
  /** The sender's `created_at` format; `space` actors live on whole seconds. */
  readonly format: TimeFormat;
}

/** How `RAW_SLOT` reads once serialised. */
const RAW_SLOT_JSON = JSON.stringify(RAW_SLOT);

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const TENANT_NAMES = [
  'acme',
  'globex',
  'initech',
  'umbrella',
  'hooli',
  'stark',
  'wayne',
  'wonka',
  'soylent',
  'tyrell',
];
const UNPROJECTED_TYPES = [
  'test',
  'environment_integration:updated',
  'batch_job:completed',
  'sync_job_cron_trigger:failed',
  // Names Truto may add one day: stored, never projected.
  'integrated_account:archived',
  'sync_job:paused',
  'webhook:delivery_report',
];

class World {
  readonly random: Random;
  now: number;
  private readonly actors = new MinHeap<Actor>();
  private readonly ready: SourceEvent[] = [];
  private readonly environments: { id: string; webhookId: string }[];
  private readonly recentTenants: string[] = [];
  private idCounter = 0;
  private index = 0;
  private readonly tag: string;

  constructor(
    seed: number,
    start: number,
    showcase: boolean,
    readonly maxRecordsPerPage: number,
  ) {
    this.random = createRandom(seed);
    this.now = start;
    this.tag = this.random.hex(4);
    this.environments = Array.from({ length: this.random.int(1, 2) }, () => ({
      id: this.uuid(),
      webhookId: this.uuid(),
    }));
    // With the showcase, the simulated world begins once the scripted prelude is over.
    const worldStart = showcase ? SHOWCASE_SPAN : 0;
    if (showcase) spawnShowcase(this);
    this.spawn({ body: arrivals(this), format: 'iso' }, worldStart);
    this.spawn({ body: miscellany(this), format: 'iso' }, worldStart);
  }

  /** The next source event (the simulation never runs dry: accounts keep arriving). */
  nextEvent(): SourceEvent {
    while (this.ready.length === 0) this.step();
    return this.ready.shift()!;
  }

  /** A UUID-shaped id, unique by construction (the last 12 digits count up). */
  uuid(): string {
    const r = this.random;
    const n = (this.idCounter++).toString(16).padStart(12, '0');
    return `${r.hex(8)}-${r.hex(4)}-4${r.hex(3)}-${r.pick(['8', '9', 'a', 'b'])}${r.hex(3)}-${n}`;
  }

  /** A short unique id for app records (`rec-…`): this world's tag, then a counter. */
  shortId(prefix: string): string {
    return `${prefix}${this.tag}${(this.idCounter++).toString(36)}`;
  }

  iso(): string {
    return new Date(this.now).toISOString();
  }

  spawn(actor: Actor, delay: number): void {
    this.actors.push(this.later(this.now, delay, actor.format), actor);
  }

  environment(): { id: string; webhookId: string } {
    return this.random.pick(this.environments);
  }

  tenant(): string {
    const r = this.random;
    if (this.recentTenants.length > 0 && r.chance(0.35)) return r.pick(this.recentTenants);
    const tenant = `${r.pick(TENANT_NAMES)}-${r.hex(6)}`;
    this.recentTenants.push(tenant);
    if (this.recentTenants.length > 8) this.recentTenants.shift();
    return tenant;
  }

  private step(): void {
    const next = this.actors.pop();
    if (next === undefined) throw new Error('workload simulation ran dry');
    this.now = next.key;
    const actor = next.value;
    const result = actor.body.next();
    if (result.done) return;
    const { emit, after } = result.value;
    if (emit) this.ready.push(this.envelope(emit.type, emit.payload, actor.format, emit.raw));
    this.actors.push(this.later(this.now, after, actor.format), actor);
  }

  /** The next wake-up time: strictly later, and on a whole second for `space` senders. */
  private later(now: number, delay: number, format: TimeFormat): number {
    const t = now + Math.max(1, Math.round(delay));
    return format === 'space' ? Math.ceil(t / SECOND) * SECOND : t;
  }

  private envelope(
    type: string,
    payload: unknown,
    format: TimeFormat,
    raw: string | undefined,
  ): SourceEvent {
    const r = this.random;
    const id = this.uuid();
    const env = this.environment();
    const createdAt =
      format === 'iso'
        ? this.iso()
        : new Date(this.now).toISOString().slice(0, 19).replace('T', ' ');
    // Truto's samples use `event_type`; most deliveries use `event`.
    const nameKey = r.chance(0.15) ? 'event_type' : 'event';
    const json = JSON.stringify({
      id,
      [nameKey]: type,
      payload,
      environment_id: env.id,
      created_at: createdAt,
      webhook_id: env.webhookId,
    });
    const body = raw === undefined ? json : json.replace(RAW_SLOT_JSON, raw);
    return {
      index: this.index++,
      id,
      type,
      sourceTime: this.now,
      body,
      projected: familyOf(type) !== 'other',
    };
  }
}

/** New integrated accounts keep arriving, about one a minute (a burst at the start). */
function* arrivals(w: World): ActorBody {
  for (let i = 0; ; i++) {
    const format: TimeFormat = w.random.chance(0.2) ? 'space' : 'iso';
    w.spawn({ body: accountLife(w, newAccount(w)), format }, w.random.int(0, 30 * SECOND));
    yield { after: i < 25 ? w.random.int(1, 5) * SECOND : w.random.exp(MINUTE) };
  }
}

/** Truto's test button at the start, then now and then an event no projection reads. */
function* miscellany(w: World): ActorBody {
  yield { emit: { type: 'test', payload: { foo: 'bar' } }, after: w.random.exp(2 * MINUTE) };
  for (;;) {
    const type = w.random.pick(UNPROJECTED_TYPES);
    const payload = type === 'test' ? { foo: 'bar' } : { id: w.uuid(), note: 'not projected' };
    yield { emit: { type, payload }, after: w.random.exp(3 * MINUTE) };
  }
}

function newAccount(w: World): AccountSim {
  const r = w.random;
  const integration = r.pick(INTEGRATIONS);
  const env = w.environment();
  const at = w.iso();
  return {
    id: w.uuid(),
    tenantId: w.tenant(),
    environmentId: env.id,
    environmentIntegrationId: w.uuid(),
    integrationId: w.uuid(),
    integration,
    createdAt: at,
    region: r.pick(['us-east-1', 'eu-west-1', 'ap-south-1']),
    instanceUrl: `https://${r.hex(8)}.my.${integration.name}.example.com`,
    status: 'connecting',
    lastError: null,
    lastForbiddenError: null,
    updatedAt: at,
  };
}

/** An integrated account from connect to deletion (or dormancy). */
function* accountLife(w: World, a: AccountSim): ActorBody {
  const r = w.random;
  const emit = (type: string, after: number, status = a.status): Step => {
    a.status = status;
    a.updatedAt = w.iso();
    return { emit: { type, payload: accountPayload(a) }, after };
  };
  const live = new Map<string, string[]>();

  yield emit('integrated_account:created', r.int(2, 40) * SECOND, 'connecting');
  const path = r.next();
  if (path < 0.08 || (path >= 0.08 && path < 0.11)) {
    const failure = path < 0.08 ? 'post_install_error' : 'validation_error';
    a.lastError =
      path < 0.08 ? r.pick(POST_INSTALL_ERRORS) : 'Validation step "check_admin" failed';
    yield emit(`integrated_account:${failure}`, r.exp(20 * MINUTE) + MINUTE, failure);
    // The user reconnects the same account: `updated` (connecting) then `active`.
    yield emit('integrated_account:updated', r.int(5, 60) * SECOND, 'connecting');
    a.lastError = null;
  } else if (path < 0.16) {
    yield emit('integrated_account:post_connect_form_submitted', r.int(5, 120) * SECOND);
  }
  yield emit('integrated_account:active', r.int(1, 20) * SECOND, 'active');

  const runs = r.int(2, 20);
  const syncJobId = w.uuid();
  for (let i = 0; i < runs; i++) {
    w.spawn(
      { body: runLife(w, newRun(w, a, syncJobId)), format: r.chance(0.2) ? 'space' : 'iso' },
      r.int(1, 10) * SECOND,
    );
    // Runs last minutes at most; the account's next step comes well after this one finished.
    yield { after: 20 * MINUTE + r.exp(40 * MINUTE) };
    const incident = r.next();
    if (incident < 0.07) {
      a.lastError = r.pick(AUTH_ERRORS);
      yield emit(
        'integrated_account:authentication_error',
        r.exp(2 * HOUR) + MINUTE,
        'needs_reauth',
      );
      if (r.chance(0.6)) {
        // A later provider call succeeds by itself.
        a.lastError = null;
        yield emit('integrated_account:reactivated', r.int(5, 60) * SECOND, 'active');
      } else {
        yield emit('integrated_account:updated', r.int(5, 60) * SECOND, 'connecting');
        a.lastError = null;
        yield emit('integrated_account:active', r.int(1, 20) * SECOND, 'active');
      }
    } else if (incident < 0.11) {
      a.lastForbiddenError = r.pick(FORBIDDEN_ERRORS);
      yield emit('integrated_account:forbidden_error', r.int(10, 600) * SECOND);
    } else if (incident < 0.2) {
      yield emit('integrated_account:updated', r.int(10, 600) * SECOND);
    } else if (incident < 0.45) {
      const changes = r.int(1, 6);
      for (let c = 0; c < changes; c++) yield recordChange(w, a, live, r.int(1, 90) * SECOND);
    }
  }

  if (r.chance(0.4)) {
    yield {
      emit: { type: 'integrated_account:deleted', payload: { id: a.id } },
      after: r.int(5, 120) * SECOND,
    };
    a.status = 'deleted';
    if (r.chance(0.3)) {
      // A stray event after deletion (in source time): the projection ignores it.
      const type = r.chance(0.5)
        ? 'integrated_account:updated'
        : 'integrated_account:forbidden_error';
      yield emit(type, SECOND, 'active');
    }
  }
}

/** A `record:created|updated|deleted` for one of the account's app records. */
function recordChange(w: World, a: AccountSim, live: Map<string, string[]>, after: number): Step {
  const r = w.random;
  const resource = r.pick(a.integration.resources);
  const ids = live.get(resource) ?? [];
  live.set(resource, ids);
  const roll = r.next();
  let type: string;
  let id: string;
  if (ids.length === 0 || roll < 0.5) {
    type = 'record:created';
    id = w.shortId('rec-');
    ids.push(id);
    if (ids.length > 30) ids.shift();
  } else {
    const at = r.int(0, ids.length - 1);
    id = ids[at]!;
    if (roll < 0.85) type = 'record:updated';
    else {
      type = 'record:deleted';
      ids.splice(at, 1);
    }
  }
  const payload: Record<string, unknown> = {
    id,
    integrated_account_id: a.id,
    resource,
    environment_id: a.environmentId,
  };
  if (type === 'record:deleted') return { emit: { type, payload }, after };
  payload.record = RAW_SLOT;
  return { emit: { type, payload, raw: unifiedRecordJson(resource, id, w.iso(), r) }, after };
}

function newRun(w: World, a: AccountSim, syncJobId: string): RunSim {
  const r = w.random;
  const count = r.int(1, a.integration.resources.length);
  const place = r.next();
  return {
    id: w.uuid(),
    syncJobId,
    account: a,
    resources: a.integration.resources.slice(0, count),
    errorHandling: r.pick(['fail_fast', 'ignore', 'batch'] as const),
    runIdPlace: place < 0.4 ? 'top' : place < 0.8 ? 'meta' : 'nested',
    createdAt: w.iso(),
    status: 'created',
    startedAt: null,
    finishedAt: null,
    updatedAt: w.iso(),
    fetched: {},
  };
}

/** A sync job run: created, started, pages of records, then one of the four endings. */
function* runLife(w: World, run: RunSim): ActorBody {
  const r = w.random;
  const emit = (type: string, after: number, status = run.status): Step => {
    run.status = status;
    run.updatedAt = w.iso();
    return { emit: { type, payload: runPayload(run) }, after };
  };
  const outcome = r.next();
  const ending =
    outcome < 0.78
      ? 'completed'
      : outcome < 0.88
        ? 'failed'
        : outcome < 0.94
          ? 'stopped'
          : 'deleted';

  yield emit('sync_job_run:created', r.int(1, 10) * SECOND, 'created');
  run.startedAt = new Date(w.now).toISOString();
  yield emit('sync_job_run:started', r.int(1, 5) * SECOND, 'running');

  // Most runs fetch a page or a few; some are long.
  const pages = r.chance(0.15) ? r.int(6, 20) : r.int(1, 5);
  for (let page = 1; page <= pages; page++) {
    const resource = run.resources[(page - 1) % run.resources.length]!;
    const size = r.int(1, w.maxRecordsPerPage);
    const at = w.iso();
    const records: string[] = [];
    for (let i = 0; i < size; i++)
      records.push(unifiedRecordJson(resource, w.shortId('rec-'), at, r));
    run.fetched[resource] = (run.fetched[resource] ?? 0) + size;
    const payload = recordBatchPayload(run, resource, size, page);
    yield {
      emit: { type: 'sync_job_run:record', payload, raw: `[${records.join(',')}]` },
      after: r.int(1, 8) * SECOND,
    };
    if (r.chance(0.04)) {
      yield {
        emit: { type: 'sync_job_run:record_error', payload: recordErrorPayload(run, resource, r) },
        after: r.int(1, 5) * SECOND,
      };
    }
    if (r.chance(0.08)) {
      yield emit('sync_job_run:rate_limited', r.int(30, 90) * SECOND, 'rate_limited');
      yield emit('sync_job_run:updated', r.int(1, 5) * SECOND, 'running');
    }
  }

  switch (ending) {
    case 'completed':
      run.finishedAt = w.iso();
      yield emit('sync_job_run:completed', SECOND, 'completed');
      return;
    case 'failed':
      if (r.chance(0.6)) {
        const resource = r.pick(run.resources);
        yield {
          emit: {
            type: 'sync_job_run:record_error',
            payload: recordErrorPayload(run, resource, r),
          },
          after: r.int(1, 5) * SECOND,
        };
      } else {
        // Stuck for five minutes, then failed with no error record before it.
        yield { after: 5 * MINUTE };
      }
      run.finishedAt = w.iso();
      yield emit('sync_job_run:failed', SECOND, 'failed');
      return;
    case 'stopped':
      run.finishedAt = w.iso();
      yield emit('sync_job_run:updated', SECOND, 'stopped');
      return;
    case 'deleted':
      yield emit('sync_job_run:deleted', SECOND);
      return;
  }
}
