/**
 * The read API: JSON views of projected state, read through the engine only.
 *
 * Lists take equality filters mapped onto state fields, and key-ordered pagination:
 * `limit` (default 100, at most 1000) and `after` (the `next` of the previous page). Single
 * entities take `?at=<ISO time | epoch ms>` or `?position=<n>` for time travel.
 */
import type { Logger } from 'pino';
import type { EngineStats } from '../engine/types.js';
import { isStoreError } from '../store/errors.js';
import type { TrutoEngine as Engine } from '../truto/engine.js';
import { parseSourceTime } from '../truto/time.js';
import type { StateFilter } from '../store/port.js';
import { errorResponse } from './errors.js';
import { json, type BufferedResponse, type HttpRequest } from './types.js';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** A query parameter of a list route and the state field it filters. */
interface FilterSpec {
  readonly param: string;
  readonly field: string;
  readonly type: 'string' | 'boolean';
}

/** The list routes: projection and filters. */
type ProjectionName = Engine['projectionNames'][number];

export const LISTS: Readonly<
  Record<string, { projection: ProjectionName; filters: readonly FilterSpec[] }>
> = {
  '/accounts': {
    projection: 'accounts',
    filters: [
      { param: 'status', field: 'status', type: 'string' },
      { param: 'tenant', field: 'tenantId', type: 'string' },
      { param: 'integration', field: 'integration', type: 'string' },
      { param: 'usable', field: 'usable', type: 'boolean' },
    ],
  },
  '/runs': {
    projection: 'runs',
    filters: [
      { param: 'account', field: 'integratedAccountId', type: 'string' },
      { param: 'status', field: 'status', type: 'string' },
    ],
  },
  '/account-sync': { projection: 'account-sync', filters: [] },
  '/records': {
    projection: 'records',
    filters: [
      { param: 'account', field: 'integratedAccountId', type: 'string' },
      { param: 'resource', field: 'resource', type: 'string' },
    ],
  },
};

class QueryError extends Error {}

/**
 * `GET /<list>?<filters>&limit=&after=` → `{ items, next }` (`next` is `null` on the last page).
 *
 * @example
 * await listHandler(engine, '/accounts')(request); // { items: [...], next: 'acc-0100' }
 */
export function listHandler(
  engine: Engine,
  route: string,
): (request: HttpRequest) => Promise<BufferedResponse> {
  const spec = LISTS[route];
  if (!spec) throw new Error(`no list route ${route}`);
  return async (request) => {
    let where: StateFilter;
    let limit: number;
    try {
      where = readFilters(request.query, spec.filters);
      limit = readLimit(request.query.get('limit'));
    } catch (error) {
      if (error instanceof QueryError) return errorResponse('bad_request', error.message);
      throw error;
    }
    const after = request.query.get('after');
    const page = await engine.list(spec.projection, {
      ...(Object.keys(where).length > 0 ? { where } : {}),
      ...(after ? { afterKey: after } : {}),
      limit,
    });
    return json(200, { items: page.items, next: page.nextKey ?? null });
  };
}

/**
 * `GET /<entity>/:key[?at=|?position=]` → the state, or 404.
 *
 * @example
 * await entityHandler(engine, 'accounts')(request, 'acc-1');
 */
export function entityHandler(
  engine: Engine,
  projection: ProjectionName,
): (request: HttpRequest, key: string) => Promise<BufferedResponse> {
  return async (request, key) => {
    const at = request.query.get('at');
    const position = request.query.get('position');
    let state: unknown;
    if (at !== null && position !== null) {
      return errorResponse('bad_request', 'give either "at" or "position", not both');
    } else if (at !== null) {
      // Epoch ms, an ISO-8601 time, or a bare date (its start, UTC).
      const time = /^\d+$/.test(at)
        ? Number(at)
        : parseSourceTime(/^\d{4}-\d{2}-\d{2}$/.test(at) ? `${at}T00:00:00Z` : at);
      if (time === null || !Number.isSafeInteger(time)) {
        return errorResponse(
          'bad_request',
          `"at" must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(at)}`,
        );
      }
      state = await engine.stateAt(projection, key, { time });
    } else if (position !== null) {
      if (!/^\d+$/.test(position))
        return errorResponse('bad_request', '"position" must be a non-negative integer');
      state = await engine.stateAt(projection, key, { position: Number(position) });
    } else {
      state = await engine.get(projection, key);
    }
    if (state === undefined) {
      return errorResponse(
        'not_found',
        `no ${projection} entity ${JSON.stringify(key)}${at === null && position === null ? '' : ' at that point'}`,
      );
    }
    return json(200, state);
  };
}

/** `GET /stats`: the engine's stats (store counters, head, projection positions). */
export async function statsHandler(stats: () => Promise<EngineStats>): Promise<BufferedResponse> {
  return json(200, await stats());
}

/** How long a stats figure that shows a projection behind the head is reused, at most. */
const LAGGING_STATS_TTL_MS = 100;

/**
 * The engine's stats shared by `/stats` and `/metrics`. Their costly part, the projections'
 * figures (entity counts, dead letters: they grow with projected state), is computed at most
 * once per `ttlMs` while the log's head stays put, or once per 100 ms while they show a
 * projection behind the head (it is catching up, so the figure is soon stale); requests arriving
 * while it is computed wait for that computation instead of starting another. Without this, N
 * concurrent requests cost N full computations. The store's counters (events, duplicates,
 * conflicts, rejects) are read fresh on every request: they are cheap, and a sender reading them
 * after its answer must see its own delivery counted. Keyed by the head (one indexed read),
 * projection positions never lag an append made before the request either: a client polling
 * until `lag` is 0 after its webhook's 200 never reads figures from before it.
 *
 * @example
 * const stats = createStatsCache(engine, 1000, Date.now);
 * await stats(); // projections computed; reused within the next second at the same head
 */
export function createStatsCache(
  engine: Pick<Engine, 'stats' | 'store'>,
  ttlMs: number,
  now: () => number,
): () => Promise<EngineStats> {
  interface Entry {
    readonly at: number;
    readonly head: number;
    readonly value: Promise<EngineStats>;
    /** Set once computed: some projection stood behind the head. */
    lagging?: boolean;
  }
  let cached: Entry | undefined;
  // A figure showing lag goes stale as soon as projection moves, which it is doing: kept briefly.
  const laggingTtlMs = Math.min(ttlMs, LAGGING_STATS_TTL_MS);
  return async () => {
    const head = await engine.store.head();
    const at = now();
    const age = cached === undefined ? 0 : at - cached.at;
    if (
      cached === undefined ||
      cached.head !== head ||
      age >= ttlMs ||
      (cached.lagging === true && age >= laggingTtlMs)
    ) {
      const value = engine.stats();
      const entry: Entry = { at, head, value };
      cached = entry;
      value.then(
        (stats) => void (entry.lagging = stats.projections.some((p) => p.lag > 0)),
        // A failure is not kept: the next request tries again.
        () => {
          if (cached === entry) cached = undefined;
        },
      );
      return value;
    }
    const [reused, store] = await Promise.all([cached.value, engine.store.stats()]);
    return { ...reused, store };
  };
}

/**
 * `GET /health`: open (no token), liveness only. Cheap and constant whatever the size of the
 * log or state: one check that the store can take writes (`EventStore.check`), no stats. 200
 * `{ status: 'ok' }`; 503 when the store cannot serve, saying what failed but not where (no
 * file paths, no hosts: anyone who can reach the port may ask). The full error goes to the log,
 * once per change of condition.
 */
export function healthHandler(
  engine: Engine,
  logger: Pick<Logger, 'warn' | 'info'>,
): () => Promise<BufferedResponse> {
  let failing: string | undefined;
  return async () => {
    const store = engine.store;
    try {
      await (store.check ? store.check() : store.head());
      if (failing !== undefined) logger.info({ store: store.kind }, 'store healthy again');
      failing = undefined;
      return json(200, { status: 'ok', store: { kind: store.kind, ok: true } });
    } catch (error) {
      const code = isStoreError(error) ? error.code : 'store_failed';
      const reason = isStoreError(error) ? error.summary : 'the store failed';
      if (failing !== reason) logger.warn({ err: error, store: store.kind }, 'store unhealthy');
      failing = reason;
      return json(
        503,
        { status: 'unavailable', store: { kind: store.kind, ok: false, error: code, reason } },
        { 'retry-after': '5' },
      );
    }
  };
}

function readFilters(query: URLSearchParams, filters: readonly FilterSpec[]): StateFilter {
  const where: Record<string, string | boolean> = {};
  for (const filter of filters) {
    const values = query.getAll(filter.param);
    if (values.length === 0) continue;
    if (values.length > 1) throw new QueryError(`"${filter.param}" may be given once`);
    const value = values[0] as string;
    if (filter.type === 'boolean') {
      if (value !== 'true' && value !== 'false')
        throw new QueryError(`"${filter.param}" must be true or false`);
      where[filter.field] = value === 'true';
    } else {
      where[filter.field] = value;
    }
  }
  return where;
}

function readLimit(text: string | null): number {
  if (text === null) return DEFAULT_PAGE;
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new QueryError('"limit" must be a positive integer');
  // Larger pages are clamped rather than refused: the caller still gets a `next` to follow.
  return Math.min(Number(text), MAX_PAGE);
}
