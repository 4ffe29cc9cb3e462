/**
 * The showcase: a scripted prelude to the simulated history, so that a short demo shows every
 * state the product knows. Ten accounts, each with an integration and tenant of its own, walk a
 * fixed path and stop there: connecting, active, reactivated, needs re-authorization, each error
 * state, deleted; their runs complete, fail (with record errors, three in a row for one
 * account), are rate-limited, run long (an hour of pages), or are still running or rate-limited
 * when the history reaches the present.
 *
 * Everything happens within `SHOWCASE_SPAN` of the start; the simulated world starts after it.
 * Randomness comes from the world's seeded source, so a seed still yields one history.
 */
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
import type { Random } from './random.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** How long the prelude lasts in source time: the simulated world starts after it. */
export const SHOWCASE_SPAN = 2 * 60 * MINUTE;

/** What an actor yields (the generator's `Step`). */
export interface ShowcaseStep {
  readonly emit?: { readonly type: string; readonly payload: unknown; readonly raw?: string };
  readonly after: number;
}
type Body = Generator<ShowcaseStep, void, void>;

/** The part of the generator's world the showcase uses. */
export interface ShowcaseWorld {
  readonly random: Random;
  readonly now: number;
  uuid(): string;
  shortId(prefix: string): string;
  iso(): string;
  environment(): { id: string; webhookId: string };
  spawn(actor: { body: Body; format: 'iso' | 'space' }, delay: number): void;
}

type Ending = 'completed' | 'failed' | 'stopped' | 'open' | 'rate_limited';

interface RunPlan {
  readonly pages: number;
  /** Source time between pages. */
  readonly gap: number;
  /** Pages after which the provider rate-limits the run. */
  readonly rateLimitedAfter?: readonly number[];
  /** Pages followed by a record error. */
  readonly errorsAfter?: readonly number[];
  readonly ending: Ending;
}

interface AccountPlan {
  readonly tenant: string;
  /** The account's path; `run` steps start a run and wait for it. */
  readonly steps: readonly (
    | { readonly event: string; readonly status?: string; readonly error?: string | undefined }
    | { readonly run: RunPlan }
    | { readonly records: number }
  )[];
}

const quick = (ending: Ending, extra: Partial<RunPlan> = {}): { run: RunPlan } => ({
  run: { pages: 3, gap: 20 * SECOND, ending, ...extra },
});
/** Time between an account's own steps: long enough for its status band to read. */
const STEP_GAP = 4 * MINUTE;

const PLANS: readonly AccountPlan[] = [
  { tenant: 'acme-showcase', steps: [{ event: 'created', status: 'connecting' }] },
  {
    tenant: 'globex-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      quick('completed'),
      { records: 8 },
      quick('completed', { pages: 5 }),
    ],
  },
  {
    tenant: 'initech-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      quick('completed'),
      { records: 4 },
      { event: 'authentication_error', status: 'needs_reauth', error: AUTH_ERRORS[0] },
      { event: 'reactivated', status: 'active' },
      quick('completed'),
    ],
  },
  {
    tenant: 'umbrella-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      quick('completed'),
      quick('failed', { errorsAfter: [2] }),
      { event: 'authentication_error', status: 'needs_reauth', error: AUTH_ERRORS[1] },
    ],
  },
  {
    tenant: 'hooli-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'post_install_error', status: 'post_install_error', error: POST_INSTALL_ERRORS[0] },
    ],
  },
  {
    tenant: 'stark-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      {
        event: 'validation_error',
        status: 'validation_error',
        error: 'Validation step "check_admin" failed',
      },
    ],
  },
  {
    tenant: 'wayne-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      quick('completed'),
      quick('stopped'),
      { event: 'deleted' },
    ],
  },
  {
    tenant: 'wonka-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      // A long run: an hour of pages, rate-limited twice on the way.
      { run: { pages: 12, gap: 5 * MINUTE, rateLimitedAfter: [4, 8], ending: 'completed' } },
      { event: 'forbidden_error', error: FORBIDDEN_ERRORS[0] },
      { run: { pages: 2, gap: 10 * SECOND, rateLimitedAfter: [2], ending: 'rate_limited' } },
    ],
  },
  {
    tenant: 'soylent-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      quick('completed'),
      quick('failed', { errorsAfter: [1, 3] }),
      quick('failed', { errorsAfter: [2] }),
      quick('failed'),
    ],
  },
  {
    tenant: 'tyrell-showcase',
    steps: [
      { event: 'created', status: 'connecting' },
      { event: 'active', status: 'active' },
      quick('completed'),
      { run: { pages: 3, gap: 20 * SECOND, ending: 'open' } },
    ],
  },
];

/** Spawns the showcase's accounts into the world, a few seconds apart. */
export function spawnShowcase(w: ShowcaseWorld): void {
  PLANS.forEach((plan, i) => {
    w.spawn({ body: scriptedAccount(w, plan, i), format: 'iso' }, i * 7 * SECOND);
  });
}

function* scriptedAccount(w: ShowcaseWorld, plan: AccountPlan, index: number): Body {
  const integration = INTEGRATIONS[index % INTEGRATIONS.length]!;
  const env = w.environment();
  const at = w.iso();
  const a: AccountSim = {
    id: w.uuid(),
    tenantId: plan.tenant,
    environmentId: env.id,
    environmentIntegrationId: w.uuid(),
    integrationId: w.uuid(),
    integration,
    createdAt: at,
    region: 'eu-west-1',
    instanceUrl: `https://${plan.tenant}.my.${integration.name}.example.com`,
    status: 'connecting',
    lastError: null,
    lastForbiddenError: null,
    updatedAt: at,
  };
  const syncJobId = w.uuid();
  for (const step of plan.steps) {
    if ('run' in step) {
      yield* scriptedRun(w, a, syncJobId, step.run);
      continue;
    }
    if ('records' in step) {
      yield* recordChanges(w, a, step.records);
      continue;
    }
    if (step.status !== undefined) a.status = step.status;
    if (step.event === 'forbidden_error') a.lastForbiddenError = step.error ?? null;
    else a.lastError = step.error ?? null;
    a.updatedAt = w.iso();
    const payload = step.event === 'deleted' ? { id: a.id } : accountPayload(a);
    yield { emit: { type: `integrated_account:${step.event}`, payload }, after: STEP_GAP };
  }
}

/** Records created in the account's app, then one updated and one deleted. */
function* recordChanges(w: ShowcaseWorld, a: AccountSim, n: number): Body {
  const ids: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const resource = a.integration.resources[i % a.integration.resources.length]!;
    ids.push([w.shortId('rec-'), resource]);
  }
  const changes: [string, [string, string]][] = [
    ...ids.map((id): [string, [string, string]] => ['record:created', id]),
    ['record:updated', ids[0]!],
    ['record:deleted', ids[1]!],
  ];
  for (const [type, [id, resource]] of changes) {
    const payload: Record<string, unknown> = {
      id,
      integrated_account_id: a.id,
      resource,
      environment_id: a.environmentId,
    };
    if (type === 'record:deleted') {
      yield { emit: { type, payload }, after: 15 * SECOND };
      continue;
    }
    payload.record = RAW_SLOT;
    const raw = unifiedRecordJson(resource, id, w.iso(), w.random);
    yield { emit: { type, payload, raw }, after: 15 * SECOND };
  }
}

/** A run inline in its account's script: the account's next step waits for it. */
function* scriptedRun(w: ShowcaseWorld, a: AccountSim, syncJobId: string, plan: RunPlan): Body {
  const r = w.random;
  const run: RunSim = {
    id: w.uuid(),
    syncJobId,
    account: a,
    resources: a.integration.resources,
    errorHandling: 'batch',
    runIdPlace: 'top',
    createdAt: w.iso(),
    status: 'created',
    startedAt: null,
    finishedAt: null,
    updatedAt: w.iso(),
    fetched: {},
  };
  const emit = (type: string, status: string, after: number): ShowcaseStep => {
    run.status = status;
    run.updatedAt = w.iso();
    return { emit: { type: `sync_job_run:${type}`, payload: runPayload(run) }, after };
  };
  yield emit('created', 'created', 2 * SECOND);
  run.startedAt = w.iso();
  yield emit('started', 'running', 2 * SECOND);
  for (let page = 1; page <= plan.pages; page++) {
    const resource = run.resources[(page - 1) % run.resources.length]!;
    const size = r.int(5, 50);
    const at = w.iso();
    const records = Array.from({ length: size }, () =>
      unifiedRecordJson(resource, w.shortId('rec-'), at, r),
    );
    run.fetched[resource] = (run.fetched[resource] ?? 0) + size;
    yield {
      emit: {
        type: 'sync_job_run:record',
        payload: recordBatchPayload(run, resource, size, page),
        raw: `[${records.join(',')}]`,
      },
      after: plan.gap,
    };
    if (plan.errorsAfter?.includes(page)) {
      yield {
        emit: { type: 'sync_job_run:record_error', payload: recordErrorPayload(run, resource, r) },
        after: 2 * SECOND,
      };
    }
    if (plan.rateLimitedAfter?.includes(page)) {
      yield emit('rate_limited', 'rate_limited', 60 * SECOND);
      if (plan.ending === 'rate_limited' && page === plan.pages) return;
      yield emit('updated', 'running', plan.gap);
    }
  }
  if (plan.ending === 'open' || plan.ending === 'rate_limited') return;
  run.finishedAt = w.iso();
  const type = plan.ending === 'stopped' ? 'updated' : plan.ending;
  yield emit(type, plan.ending, 30 * SECOND);
}
