/** The read API as the dashboard uses it: same origin, the session cookie sent by the browser. */

export class Unauthorized extends Error {
  override readonly name = 'Unauthorized';
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Page<T> {
  readonly items: T[];
  readonly next: string | null;
}

export interface Transition {
  readonly from: string;
  readonly to: string;
  readonly at: string;
  readonly event: string;
}

export interface Account {
  readonly id: string;
  readonly status: string;
  readonly usable: boolean;
  readonly deleted: boolean;
  readonly tenantId?: string | null;
  readonly integration?: string | null;
  readonly environmentIntegrationId?: string | null;
  readonly lastError?: string | null;
  readonly lastForbiddenError?: string | null;
  readonly statusSince: string;
  readonly transitions: readonly Transition[];
  readonly firstSeenAt: string;
  readonly lastEventAt: string;
  readonly eventCount: number;
}

export interface Run {
  readonly id: string;
  readonly syncJobId?: string | null;
  readonly integratedAccountId?: string | null;
  readonly status: string;
  readonly deleted?: boolean;
  readonly createdAt?: string | null;
  readonly startedAt?: string | null;
  readonly finishedAt?: string | null;
  readonly durationMs?: number | null;
  readonly recordsReceived: number;
  readonly recordBatches: number;
  readonly recordsByResource: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly rateLimited: number;
  readonly timeline: readonly { at: string; event: string; status: string }[];
  readonly lastEventAt?: string | null;
}

export interface SyncHealth {
  readonly runs: number;
  readonly completed: number;
  readonly failed: number;
  readonly stopped: number;
  readonly running: number;
  readonly lastRunId?: string | null;
  readonly lastRunStatus?: string | null;
  readonly lastRunStartedAt?: string | null;
  readonly lastSuccessAt?: string | null;
  readonly consecutiveFailures: number;
}

export interface RecordCounts {
  readonly resource: string;
  /** The number of live records (older versions of the state: their ids, with `liveCount`). */
  readonly live: number | readonly string[];
  readonly liveCount?: number;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly lastChangeAt?: string | null;
}

export interface Stats {
  readonly store: {
    readonly events: number;
    readonly duplicates: number;
    readonly conflicts: number;
    readonly rejects: number;
    readonly skipped: Readonly<Record<string, number>>;
  };
  readonly head: number;
  readonly projections: readonly {
    readonly name: string;
    readonly position: number;
    readonly lag: number;
    readonly entities: number;
    readonly deadLetters: number;
    readonly stalledEntities: number;
  }[];
}

export interface Overview {
  readonly accounts: {
    readonly total: number;
    readonly byStatus: Readonly<Record<string, number>>;
    readonly attention: readonly Account[];
  };
  readonly runs: {
    readonly total: number;
    readonly byStatus: Readonly<Record<string, number>>;
    readonly lastDay: {
      readonly from: string;
      readonly to: string;
      readonly byStatus: Readonly<Record<string, number>>;
    };
  };
}

export interface Session {
  readonly tokenRequired: boolean;
  readonly authenticated: boolean;
}

export interface Change {
  readonly projection: string;
  readonly key: string;
  readonly seq: number;
  readonly after?: { readonly integratedAccountId?: string | null } | null;
}

export function liveRecords(r: RecordCounts): number {
  return typeof r.live === 'number' ? r.live : (r.liveCount ?? r.live.length);
}

/** GET a JSON resource; 401 becomes `Unauthorized` (the page then asks for the token). */
export async function get<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  if (response.status === 401) throw new Unauthorized('the API token is needed');
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    throw new ApiError(response.status, body.message ?? `HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

/** Every page of a list route, up to `max` items. */
export async function getAll<T>(path: string, max = 5000): Promise<T[]> {
  const items: T[] = [];
  const separator = path.includes('?') ? '&' : '?';
  let after: string | null = null;
  do {
    const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    const page: Page<T> = await get<Page<T>>(`${path}${separator}limit=1000${cursor}`);
    items.push(...page.items);
    after = page.next;
  } while (after !== null && items.length < max);
  return items;
}

/** Trades the API token for the session cookie: `true` when the service took it. */
export async function startSession(token: string): Promise<{ ok: boolean; message: string }> {
  const response = await fetch('/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  return { ok: response.ok, message: body.message ?? `HTTP ${response.status}` };
}
