/**
 * The dashboard's routes, beside the API's: the page (`/`) and its assets, the session that
 * turns the API token into a cookie (`/session`), and the overview counts (`/overview`).
 *
 * `GET /session` says whether a token is needed and whether this browser has a valid session;
 * it always answers 200, so the page can ask without an error in the console. `POST /session`
 * with `{"token": "…"}` sets the session cookie when the token is right and answers 401 with a
 * message when it is not. It takes JSON only: a cross-site HTML form cannot send JSON, and a
 * cross-site script would need a CORS preflight this service never grants; an `Origin` other
 * than this host is refused as well.
 */
import type { TrutoEngine as Engine } from '../../truto/engine.js';
import type { Prepared } from '../app.js';
import { createTokenCheck } from '../auth.js';
import { sessionCookie, sessionValue } from '../cookies.js';
import { errorResponse } from '../errors.js';
import { header, json, type BufferedResponse, type HttpRequest } from '../types.js';
import { DEFAULT_ASSETS_DIR, loadAssets, type Assets } from './assets.js';
import { overviewHandler } from './overview.js';

const SESSION_BODY_LIMIT = 4096;

export interface DashboardOptions {
  readonly engine: Engine;
  readonly apiToken?: string | undefined;
  /** The built dashboard (default: `dist/ui` of this package). */
  readonly assetsDir?: string;
  /** The clock for the overview's 24-hour window (default `Date.now`). */
  readonly now?: () => number;
}

export interface Dashboard {
  /** The dashboard's answer to a request, or `undefined` when the request is not its own. */
  prepare(request: HttpRequest, allowed: (request: HttpRequest) => boolean): Prepared | undefined;
}

/**
 * @example
 * const dashboard = createDashboard({ engine, apiToken });
 * dashboard.prepare(request, allowed); // Prepared for `/`, `/assets/*`, `/session`, `/overview`
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const token = options.apiToken === '' ? undefined : options.apiToken;
  let assets: Assets | undefined;
  // Read on first use: tests and embedders that never ask for the page never touch the disk.
  const files = (): Assets => (assets ??= loadAssets(options.assetsDir ?? DEFAULT_ASSETS_DIR));
  const overview = overviewHandler(options.engine, options.now ?? Date.now);
  const bearer = createTokenCheck(token);

  return {
    prepare(request, allowed) {
      const { path, method } = request;
      if (path === '/' || path === '/index.html') {
        return method === 'GET' || method === 'HEAD'
          ? now('/', files().page(request))
          : now('/', methodNotAllowed('GET'));
      }
      if (path.startsWith('/assets/')) {
        const name = path.slice('/assets/'.length);
        const found = method === 'GET' ? files().asset(request, name) : undefined;
        return now(
          '/assets/:name',
          found ?? errorResponse('not_found', `no dashboard asset ${JSON.stringify(name)}`),
        );
      }
      if (path === '/session') {
        if (method === 'GET') {
          return now(
            '/session',
            json(
              200,
              { tokenRequired: token !== undefined, authenticated: allowed(request) },
              {
                'cache-control': 'no-store',
              },
            ),
          );
        }
        if (method !== 'POST') return now('/session', methodNotAllowed('GET, POST'));
        const refusal = checkSessionRequest(request);
        if (refusal) return now('/session', refusal);
        return {
          kind: 'body',
          route: '/session',
          limit: SESSION_BODY_LIMIT,
          respond: async (body) => startSession(request, body, token, bearer),
          tooLarge: () => errorResponse('payload_too_large', 'a session request is a small JSON'),
        };
      }
      if (path === '/overview') {
        if (method !== 'GET') return now('/overview', methodNotAllowed('GET'));
        if (!allowed(request)) return now('/overview', unauthorized());
        return { kind: 'respond', route: '/overview', respond: overview };
      }
      return undefined;
    },
  };
}

function checkSessionRequest(request: HttpRequest): BufferedResponse | undefined {
  const type = header(request, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type))
    return errorResponse('unsupported_media_type', 'send {"token": "…"} as application/json');
  const origin = header(request, 'origin');
  const host = header(request, 'host');
  if (origin !== undefined && host !== undefined && originHost(origin) !== host)
    return errorResponse('unauthorized', 'a session can only be started from this origin');
  return undefined;
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined; // `null` (sandboxed frames, file:) or garbage: never this host
  }
}

function startSession(
  request: HttpRequest,
  body: Uint8Array,
  token: string | undefined,
  bearer: (request: HttpRequest) => boolean,
): BufferedResponse {
  if (token === undefined) return json(200, { tokenRequired: false, authenticated: true });
  let given: unknown;
  try {
    given = (JSON.parse(Buffer.from(body).toString('utf8')) as { token?: unknown }).token;
  } catch {
    return errorResponse('bad_request', 'send {"token": "…"} as JSON');
  }
  if (typeof given !== 'string' || given === '')
    return errorResponse('bad_request', 'send {"token": "…"} as JSON');
  // The same comparison as the API's bearer check.
  const probe: HttpRequest = { ...request, headers: { authorization: `Bearer ${given}` } };
  if (!bearer(probe)) {
    return errorResponse(
      'unauthorized',
      'that is not the API token this service was started with (--api-token / TRUTO_STATE_API_TOKEN)',
    );
  }
  // `Secure` when the page was loaded over HTTPS (directly or through a proxy that says so).
  const secure = header(request, 'x-forwarded-proto') === 'https';
  return json(
    200,
    { tokenRequired: true, authenticated: true },
    { 'set-cookie': sessionCookie(sessionValue(token), secure), 'cache-control': 'no-store' },
  );
}

function now(route: string, response: BufferedResponse): Prepared {
  return { kind: 'respond', route, respond: async () => response };
}

function methodNotAllowed(allow: string): BufferedResponse {
  return errorResponse('method_not_allowed', `use ${allow}`, { allow });
}

function unauthorized(): BufferedResponse {
  return errorResponse('unauthorized', 'this endpoint needs Authorization: Bearer <token>', {
    'www-authenticate': 'Bearer',
  });
}
