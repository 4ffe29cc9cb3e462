/**
 * Truto-shaped payloads for the workload generator: integrated accounts (about 1 KB, as Truto
 * sends them with `context` stripped of secrets), sync job runs, record batches and record
 * changes. Field names follow shared/docs/truto-webhooks.md; values are plausible, not real.
 */
import type { Random } from './random.js';

export interface Integration {
  readonly name: string;
  readonly category: string;
  /** Unified resources synced for this integration (`crm/contacts`, …). */
  readonly resources: readonly string[];
  readonly authenticationMethod: string;
}

export const INTEGRATIONS: readonly Integration[] = [
  {
    name: 'salesforce',
    category: 'crm',
    resources: ['crm/contacts', 'crm/accounts', 'crm/opportunities'],
    authenticationMethod: 'oauth2',
  },
  {
    name: 'hubspot',
    category: 'crm',
    resources: ['crm/contacts', 'crm/accounts'],
    authenticationMethod: 'oauth2',
  },
  {
    name: 'pipedrive',
    category: 'crm',
    resources: ['crm/contacts', 'crm/opportunities'],
    authenticationMethod: 'api_key',
  },
  {
    name: 'zendesk',
    category: 'ticketing',
    resources: ['ticketing/tickets', 'ticketing/users', 'ticketing/comments'],
    authenticationMethod: 'oauth2',
  },
  {
    name: 'jira',
    category: 'ticketing',
    resources: ['ticketing/tickets', 'ticketing/users'],
    authenticationMethod: 'oauth2',
  },
  {
    name: 'bamboohr',
    category: 'hris',
    resources: ['hris/employees', 'hris/departments'],
    authenticationMethod: 'api_key',
  },
  {
    name: 'gusto',
    category: 'hris',
    resources: ['hris/employees'],
    authenticationMethod: 'oauth2',
  },
  {
    name: 'quickbooks',
    category: 'accounting',
    resources: ['accounting/invoices', 'accounting/contacts'],
    authenticationMethod: 'oauth2',
  },
  {
    name: 'xero',
    category: 'accounting',
    resources: ['accounting/invoices', 'accounting/contacts'],
    authenticationMethod: 'oauth2',
  },
];

/** What the generator knows of one integrated account while simulating it. */
export interface AccountSim {
  readonly id: string;
  readonly tenantId: string;
  readonly environmentId: string;
  readonly environmentIntegrationId: string;
  readonly integrationId: string;
  readonly integration: Integration;
  readonly createdAt: string;
  readonly region: string;
  readonly instanceUrl: string;
  status: string;
  lastError: unknown;
  lastForbiddenError: unknown;
  updatedAt: string;
}

/** A full integrated-account snapshot, as Truto sends for every account event but `deleted`. */
export function accountPayload(a: AccountSim): Record<string, unknown> {
  return {
    id: a.id,
    tenant_id: a.tenantId,
    environment_id: a.environmentId,
    environment_integration_id: a.environmentIntegrationId,
    integration: {
      id: a.integrationId,
      name: a.integration.name,
      category: a.integration.category,
      is_beta: false,
    },
    status: a.status,
    authentication_method: a.integration.authenticationMethod,
    last_error: a.lastError,
    last_forbidden_error: a.lastForbiddenError,
    is_sandbox: false,
    feature_flags: { use_unified_webhooks: true, sync_job_notifications: true },
    context: {
      instance_url: a.instanceUrl,
      region: a.region,
      oauth: { token: { scope: 'api refresh_token offline_access', token_type: 'Bearer' } },
      connected_by: `${a.tenantId}@customers.example.com`,
      api_version: 'v59.0',
    },
    connected_via: 'link',
    unified_model_override: null,
    post_install_actions_completed_at: a.status === 'active' ? a.updatedAt : null,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
  };
}

export const POST_INSTALL_ERRORS = [
  'Post install step "fetch_user_info" failed: 403 Forbidden',
  'Post install step "list_workspaces" failed: request timed out after 30000ms',
  'Post install step "validate_scopes" failed: missing scope crm.objects.contacts.read',
];
export const AUTH_ERRORS = [
  'Token refresh failed: invalid_grant (expired or revoked refresh token)',
  'Provider answered 401 Unauthorized: session expired or invalid',
];
export const FORBIDDEN_ERRORS = [
  'Provider answered 403 Forbidden: insufficient permissions on this object',
  'Provider answered 403 Forbidden: API access is disabled for this organisation',
];

/** What the generator knows of one sync job run. */
export interface RunSim {
  readonly id: string;
  readonly syncJobId: string;
  readonly account: AccountSim;
  readonly resources: readonly string[];
  readonly errorHandling: 'fail_fast' | 'ignore' | 'batch';
  /** Where record events carry the run id (all three are seen in the wild). */
  readonly runIdPlace: 'top' | 'meta' | 'nested';
  readonly createdAt: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  readonly fetched: Record<string, number>;
}

export function runPayload(r: RunSim): Record<string, unknown> {
  const stats: Record<string, unknown> = {};
  for (const resource of r.resources) {
    const fetched = r.fetched[resource] ?? 0;
    stats[resource] = { list: { fetched, persisted: fetched, errors: 0 } };
  }
  return {
    id: r.id,
    sync_job_id: r.syncJobId,
    integrated_account_id: r.account.id,
    environment_id: r.account.environmentId,
    status: r.status,
    args: { since: r.createdAt, full_sync: false },
    error_handling: r.errorHandling,
    version: 3,
    resource_stats: stats,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
  };
}

/**
 * A string that stands in a payload for JSON text spliced in verbatim when the body is serialised
 * (records are written as text: see `unifiedRecordJson`).
 */
export const RAW_SLOT = '\u0000raw';

/**
 * A `sync_job_run:record` page: the run id sits where this run's sender puts it. `records` is
 * `RAW_SLOT`, to be replaced by the page's records as JSON text.
 */
export function recordBatchPayload(
  r: RunSim,
  resource: string,
  size: number,
  page: number,
): Record<string, unknown> {
  const meta: Record<string, unknown> = { page, page_size: size, next_cursor: `c${page + 1}` };
  const out: Record<string, unknown> = { resource, method: 'list', records: RAW_SLOT };
  placeRunId(out, meta, r);
  out.meta = meta;
  return out;
}

/** A `sync_job_run:record_error`: one `error`, or in batch mode an `errors` array. */
export function recordErrorPayload(
  r: RunSim,
  resource: string,
  random: Random,
): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  const out: Record<string, unknown> = { resource, method: 'list' };
  if (r.errorHandling === 'batch') {
    const n = random.int(2, 6);
    out.errors = Array.from({ length: n }, (_, i) => ({
      message: `Record ${i + 1} could not be mapped: field "amount" is not a number`,
      status: 422,
    }));
  } else {
    out.error = random.pick([
      'Provider answered 500 Internal Server Error',
      'Mapping failed: unexpected null in "owner.id"',
      'Provider answered 429 Too Many Requests after 3 retries',
    ]);
  }
  placeRunId(out, meta, r);
  out.meta = meta;
  return out;
}

function placeRunId(out: Record<string, unknown>, meta: Record<string, unknown>, r: RunSim): void {
  switch (r.runIdPlace) {
    case 'top':
      out.sync_job_run_id = r.id;
      out.integrated_account_id = r.account.id;
      break;
    case 'meta':
      meta.sync_job_run_id = r.id;
      meta.integrated_account_id = r.account.id;
      break;
    case 'nested':
      out.sync_job_run = {
        id: r.id,
        integrated_account_id: r.account.id,
        sync_job_id: r.syncJobId,
      };
      break;
  }
}

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Linus',
  'Barbara',
  'Ken',
  'Margaret',
  'Dennis',
  'Radia',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Torvalds',
  'Liskov',
  'Thompson',
  'Hamilton',
  'Ritchie',
];
const TITLES = ['"Engineer"', '"Manager"', '"Director"', '"Analyst"', 'null'];
const DEPARTMENTS = ['Sales', 'Support', 'Finance', 'Research'];
const TICKET_STATUS = ['open', 'pending', 'closed'];
const PRIORITY = ['low', 'normal', 'high'];
const MONEY_STATUS = ['draft', 'open', 'paid', 'won', 'lost'];
const CURRENCY = ['USD', 'EUR', 'GBP'];

/**
 * One unified record (about 300 bytes) as JSON text, shaped by its resource. Written as a
 * template rather than an object passed to JSON.stringify: a million-event workload carries
 * millions of records, and this is the generator's hot path. Every value interpolated is
 * generated here and needs no escaping.
 */
export function unifiedRecordJson(
  resource: string,
  id: string,
  at: string,
  random: Random,
): string {
  const bits = random.int(0, 0x3fffffff);
  const first = FIRST[bits % FIRST.length]!;
  const last = LAST[(bits >>> 4) % LAST.length]!;
  const n = (bits >>> 8) % 100000;
  const head = `{"id":"${id}","remote_id":"${id}","created_at":"${at}","updated_at":"${at}",`;
  if (resource.endsWith('/tickets')) {
    return `${head}"name":"Cannot export report #${n}","status":"${TICKET_STATUS[bits % 3]}","priority":"${PRIORITY[(bits >>> 3) % 3]}","assignees":[{"id":"u${n % 500}","name":"${first} ${last}"}],"tags":["export","reports"],"description":"The export spins when the report has more than 10 000 rows."}`;
  }
  if (resource.endsWith('/invoices') || resource.endsWith('/opportunities')) {
    return `${head}"number":"INV-${n}","status":"${MONEY_STATUS[bits % 5]}","amount":${(n * 7) / 100},"currency":"${CURRENCY[(bits >>> 5) % 3]}","contact":{"id":"c${n % 5000}","name":"${first} ${last}"},"due_date":"${at.slice(0, 10)}","line_items":[{"description":"Annual subscription","quantity":1,"unit_amount":${n % 9000}}]}`;
  }
  return `${head}"first_name":"${first}","last_name":"${last}","name":"${first} ${last}","email_addresses":[{"email":"${first.toLowerCase()}.${last.toLowerCase()}${n % 1000}@example.com","type":"work"}],"phone_numbers":[{"number":"+1 555 ${n % 1000} ${n % 10000}","type":"work"}],"title":${TITLES[bits % 5]},"department":"${DEPARTMENTS[(bits >>> 6) % 4]}","tags":[]}`;
}
