/**
 * The service without a port: routing, access control and the handlers, as
 * `(HttpRequest) => HttpResponse` functions. `server.ts` bridges it to node:http; tests can call
 * `handle` directly.
 *
 * Access: the webhook is authenticated by its signature; `/health` is open; everything else (the
 * read API, `/changes`, `/metrics`) needs `Authorization: Bearer <token>` when a token is set,
 * or on reads the dashboard's session cookie; without a token, only direct loopback requests
 * (auth.ts: no foreign `Host`, no proxy headers). The dashboard (`dashboard/`) adds `/`, its
 * assets, `/session` and `/overview`.
 */
import type { Logger } from 'pino';
import { EngineError } from '../engine/errors.js';
import type { EngineStats } from '../engine/types.js';
import type { TrutoEngine as Engine } from '../truto/engine.js';
import { isStoreError } from '../store/errors.js';
import {
  createStatsCache,
  entityHandler,
  healthHandler,
  listHandler,
  statsHandler,
} from './api.js';
import { createAccessCheck } from './auth.js';
import { createDashboard } from './dashboard/index.js';
import { errorResponse } from './errors.js';
import { createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { changesHandler } from './sse.js';
import type { BufferedResponse, HttpRequest, HttpResponse } from './types.js';
import { createWebhookHandler } from './webhook.js';

/** The list routes and the projection each reads. */
const PROJECTION_OF = {
  '/accounts': 'accounts',
  '/runs': 'runs',
  '/account-sync': 'account-sync',
  '/records': 'records',
} as const;

export const DEFAULT_MAX_BODY = 1024 * 1024;
export const WEBHOOK_PATH = '/webhooks/truto';

export interface AppOptions {
  readonly engine: Engine;
  /** Webhook secrets; any of them may sign a delivery. */
  readonly secrets: readonly string[];
  /** When set, the read API, `/changes` and `/metrics` need it as a bearer token. */
  readonly apiToken?: string | undefined;
  /** Webhook body limit in bytes (default 1 MiB). */
  readonly maxBody?: number;
  /** How long `/stats` and `/metrics` reuse one computation of the engine's stats (default 1 s). */
  readonly statsTtlMs?: number;
  /** The clock of that reuse (default `Date.now`). */
  readonly now?: () => number;
  readonly logger: Logger;
  /** Include the process metrics (memory, event-loop lag, GC) in `/metrics` (default true). */
  readonly processMetrics?: boolean;
  /** The built dashboard served at `/` (default: this package's `dist/ui`). */
  readonly dashboardDir?: string;
}

/** What to do with a request once routed: answer at once, or read a body first. */
export type Prepared =
  | { readonly kind: 'respond'; readonly route: string; respond(): Promise<HttpResponse> }
  | {
      readonly kind: 'body';
      readonly route: string;
      /** Read at most this many bytes; past it, answer `tooLarge()` and stop reading. */
      readonly limit: number;
      respond(body: Uint8Array): Promise<HttpResponse>;
      tooLarge(): BufferedResponse;
    };

export interface App {
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
  prepare(request: HttpRequest): Prepared;
  /** Both phases at once, the body taken from `request.body` (for tests and embedding). */
  handle(request: HttpRequest): Promise<HttpResponse>;
}

type Access = 'open' | 'token' | 'signature';

interface Route {
  readonly method: string;
  /** The route's name, as in metrics labels: `/accounts/:id`. */
  readonly name: string;
  readonly pattern: RegExp;
  readonly access: Access;
  readonly run: (
    request: HttpRequest,
    params: readonly string[],
  ) => Promise<HttpResponse> | HttpResponse;
}

/**
 * @example
 * const app = createApp({ engine, secrets: ['s'], logger: pino() });
 * const response = await app.handle({ method: 'GET', path: '/health', query: new URLSearchParams(), headers: {} });
 */
export function createApp(options: AppOptions): App {
  const { engine, logger } = options;
  const maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
  const metrics = createServiceMetrics({ processMetrics: options.processMetrics !== false });
  const refusal = createAccessCheck(options.apiToken);
  // The dashboard's reads (`/overview`, the session state) follow the same rule.
  const allowed = (request: HttpRequest): boolean => refusal(request) === undefined;
  const webhook = createWebhookHandler({
    engine,
    secrets: options.secrets,
    maxBody,
    logger,
    metrics,
  });
  const dashboard = createDashboard({
    engine,
    apiToken: options.apiToken,
    ...(options.dashboardDir === undefined ? {} : { assetsDir: options.dashboardDir }),
  });
  const stats = createStatsCache(engine, options.statsTtlMs ?? 1000, options.now ?? Date.now);
  const health = healthHandler(engine, logger);
  const entity = (projection: Engine['projectionNames'][number]) => {
    const handler = entityHandler(engine, projection);
    return (request: HttpRequest, params: readonly string[]) => handler(request, params[0] ?? '');
  };

  const routes: Route[] = [
    {
      method: 'GET',
      name: '/health',
      pattern: /^\/health$/,
      access: 'open',
      run: health,
    },
    {
      method: 'GET',
      name: '/metrics',
      pattern: /^\/metrics$/,
      access: 'token',
      run: () => scrape(stats, metrics),
    },
    {
      method: 'GET',
      name: '/stats',
      pattern: /^\/stats$/,
      access: 'token',
      run: () => statsHandler(stats),
    },
    {
      method: 'GET',
      name: '/changes',
      pattern: /^\/changes$/,
      access: 'token',
      run: changesHandler(engine),
    },
    ...(Object.keys(PROJECTION_OF) as (keyof typeof PROJECTION_OF)[]).flatMap((list): Route[] => [
      {
        method: 'GET',
        name: list,
        pattern: new RegExp(`^${list}$`),
        access: 'token',
        run: listHandler(engine, list),
      },
      {
        method: 'GET',
        name: `${list}/:id`,
        // A records key is `<accountId>/<resource>`, and resources may hold `/` too.
        pattern: new RegExp(list === '/records' ? `^${list}/(.+)$` : `^${list}/([^/]+)$`),
        access: 'token',
        run: entity(PROJECTION_OF[list]),
      },
    ]),
  ];

  const prepare = (request: HttpRequest): Prepared => {
    if (request.path === WEBHOOK_PATH) {
      if (request.method !== 'POST') return now(WEBHOOK_PATH, methodNotAllowed('POST'));
      const refused = webhook.precheck(request);
      if (refused) return now(WEBHOOK_PATH, refused);
      return {
        kind: 'body',
        route: WEBHOOK_PATH,
        limit: maxBody,
        respond: (body) => webhook.handle({ ...request, body }),
        tooLarge: () =>
          webhook.refused('payload_too_large', `body is over the ${maxBody}-byte limit`),
      };
    }
    const page = dashboard.prepare(request, allowed);
    if (page) return page;
    for (const route of routes) {
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      if (request.method !== route.method) return now(route.name, methodNotAllowed(route.method));
      const refused = route.access === 'token' ? refusal(request) : undefined;
      if (refused) {
        const challenge: Record<string, string> =
          refused.code === 'unauthorized' ? { 'www-authenticate': 'Bearer' } : {};
        return now(route.name, errorResponse(refused.code, refused.message, challenge));
      }
      let params: string[];
      try {
        params = match.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        return now(
          route.name,
          errorResponse('bad_request', 'malformed percent-encoding in the path'),
        );
      }
      return {
        kind: 'respond',
        route: route.name,
        respond: async () => {
          try {
            return await route.run(request, params);
          } catch (error) {
            if (error instanceof EngineError) return engineErrorResponse(error);
            if (isStoreError(error) && error.retryable)
              return errorResponse(error.code, error.message);
            logger.error({ err: error, route: route.name }, 'read handler failed');
            return errorResponse('internal', 'internal error');
          }
        },
      };
    }
    return now(
      'unmatched',
      errorResponse('not_found', `no route ${request.method} ${request.path}`),
    );
  };

  return {
    metrics,
    logger,
    prepare,
    handle: async (request) => {
      const prepared = prepare(request);
      if (prepared.kind === 'respond') return prepared.respond();
      const body = request.body ?? new Uint8Array(0);
      return body.length > prepared.limit ? prepared.tooLarge() : prepared.respond(body);
    },
  };
}

function now(route: string, response: HttpResponse): Prepared {
  return { kind: 'respond', route, respond: async () => response };
}

/** Faults in what the engine was asked (time travel where unsupported, a bad time). */
function engineErrorResponse(error: EngineError): BufferedResponse {
  switch (error.code) {
    case 'unknown_projection':
      return errorResponse('not_found', error.message);
    case 'closed':
      return errorResponse('store_closed', 'shutting down');
    default:
      return errorResponse('bad_request', error.message);
  }
}

function methodNotAllowed(allow: string): BufferedResponse {
  return errorResponse('method_not_allowed', `use ${allow}`, { allow });
}

async function scrape(
  stats: () => Promise<EngineStats>,
  metrics: ServiceMetrics,
): Promise<BufferedResponse> {
  metrics.update(await stats());
  return {
    status: 200,
    headers: { 'content-type': metrics.registry.contentType },
    body: await metrics.registry.metrics(),
  };
}
