/**
 * `truto-state demo`: posts a realistic signed history (the workload generator's, a few hundred
 * deliveries with late and repeated ones) to a running server, waits for the projections to catch
 * up, and prints what state the integrations are in, read back through the API.
 *
 * The history starts with the generator's showcase (accounts in every state, failing,
 * rate-limited and long runs) and is moved in time so that it ends now: the dashboard's
 * "last 24 hours" shows it.
 */
import { generateDeliveries } from '../../workload/generator.js';
import { SIGNATURE_HEADER, signBody } from '../../http/signature.js';
import { UsageError, type Command } from '../command.js';
import { parseCommandArgs } from '../config.js';
import { writeLine } from '../output.js';

const options = {
  url: { type: 'string' },
  secret: { type: 'string' },
  'api-token': { type: 'string' },
  events: { type: 'string' },
  seed: { type: 'string' },
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Page<T> {
  items: T[];
  next: string | null;
}
interface AccountState {
  id: string;
  status: string;
  integration?: string | null;
  tenantId?: string | null;
}
interface RunState {
  status: string;
}
interface SyncState {
  runs: number;
  completed: number;
  failed: number;
  running: number;
  lastRunStatus?: string | null;
  lastSuccessAt?: string | null;
  consecutiveFailures: number;
}

export const command: Command = {
  summary:
    'truto-state demo: post a realistic signed history to a running server and show the state',
  usage: `Usage: truto-state demo --url <base> --secret <s> [options]

  --url <base>            the running service, e.g. http://127.0.0.1:8080 (env TRUTO_STATE_URL)
  --secret <s>            a webhook secret the service accepts (env TRUTO_WEBHOOK_SECRETS, first)
  --api-token <t>         bearer token for the read API, when the service has one
                          (env TRUTO_STATE_API_TOKEN)
  --events <n>            deliveries to post (default 300)
  --seed <n>              workload seed (default 1). The history ends at the present, so
                          posting it again later conflicts with the first: use another seed
  --concurrency <n>       requests in flight (default 8)`,
  async run(context) {
    const { values } = parseCommandArgs(context.argv, options);
    const env = context.env;
    const base = (values.url ?? env.TRUTO_STATE_URL ?? '').replace(/\/+$/, '');
    const secret = values.secret ?? env.TRUTO_WEBHOOK_SECRETS?.split(',')[0]?.trim();
    if (!base)
      throw new UsageError('--url is required (the running service, e.g. http://127.0.0.1:8080)');
    if (!secret)
      throw new UsageError('--secret is required (a webhook secret the service accepts)');
    const token = values['api-token'] ?? env.TRUTO_STATE_API_TOKEN;
    const events = positive('--events', values.events ?? '300');
    const seed = Number(values.seed ?? '1');
    const concurrency = positive('--concurrency', values.concurrency ?? '8');
    const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};

    // 1. Post the history, a few requests at a time, retrying 503s as Truto would.
    const outcomes = new Map<string, number>();
    // On a whole second, like the dry run's 0: senders that write whole seconds round their
    // times up, so any other alignment would shift the history and end it in the future.
    const startTime = Math.floor((Date.now() - historySpan(events, seed)) / 1000) * 1000;
    const deliveries = generateDeliveries({ events, seed, showcase: true, startTime });
    const worker = async (): Promise<void> => {
      for (let next = deliveries.next(); !next.done; next = deliveries.next()) {
        const body = next.value.body;
        const outcome = await post(`${base}/webhooks/truto`, body, signBody(body, secret));
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const summary = [...outcomes].map(([k, n]) => `${n} ${k}`).join(', ');
    await writeLine(context.stdout, `posted ${events} deliveries to ${base}: ${summary}`);

    // 2. Wait for the projections to fold everything in.
    await caughtUp(base, auth);

    // 3. Read the state back.
    const accounts = await readAll<AccountState>(`${base}/accounts`, auth);
    const runs = await readAll<RunState>(`${base}/runs`, auth);
    await writeLine(context.stdout, '');
    await writeLine(
      context.stdout,
      `accounts: ${accounts.length} (${tally(accounts.map((a) => a.status))})`,
    );
    await writeLine(
      context.stdout,
      `runs:     ${runs.length} (${tally(runs.map((r) => r.status))})`,
    );
    await writeLine(context.stdout, '');
    await writeLine(context.stdout, 'some accounts and their sync health:');
    for (const account of accounts.slice(0, 6)) {
      const sync = await getJson<SyncState>(
        `${base}/account-sync/${encodeURIComponent(account.id)}`,
        auth,
      );
      const health = sync
        ? `runs ${sync.runs} (${sync.completed} completed, ${sync.failed} failed, ${sync.running} running), ` +
          `last run ${sync.lastRunStatus ?? '-'}, last success ${sync.lastSuccessAt ?? 'never'}, ` +
          `consecutive failures ${sync.consecutiveFailures}`
        : 'no sync runs yet';
      await writeLine(
        context.stdout,
        `  ${account.id}  ${account.integration ?? '?'}  ${account.status}  ${health}`,
      );
    }
    await writeLine(context.stdout, '');
    await writeLine(
      context.stdout,
      `more: ${base}/accounts, ${base}/runs, ${base}/changes (live), ${base}/metrics`,
    );
    const refused = [...outcomes.keys()].filter(
      (k) => k !== 'stored' && k !== 'duplicate' && k !== 'conflict',
    );
    return refused.length === 0 ? 0 : 1;
  },
};

/** How long the history of `events` deliveries lasts in source time (a dry run from epoch 0). */
function historySpan(events: number, seed: number): number {
  let last = 0;
  for (const d of generateDeliveries({ events, seed, showcase: true, startTime: 0 }))
    last = Math.max(last, d.sourceTime);
  return last;
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer`);
  return n;
}

/** Posts one delivery; returns the outcome (`stored`, `duplicate`, … or `HTTP <status>`). */
async function post(url: string, body: string, signature: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
      body,
    });
    const text = await response.text();
    if (response.status === 503 && attempt < 5) {
      const wait = Number(response.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 5) * 1000));
      continue;
    }
    if (response.status !== 200) return `HTTP ${response.status}`;
    return (JSON.parse(text) as { status: string }).status;
  }
}

/** Polls /stats until every projection's lag is 0 (at most about 30 s). /health is liveness only. */
async function caughtUp(base: string, headers: Record<string, string>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const response = await fetch(`${base}/stats`, { headers });
    if (response.ok) {
      const stats = (await response.json()) as { projections: { lag: number }[] };
      if (stats.projections.every((p) => p.lag === 0)) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function getJson<T>(url: string, headers: Record<string, string>): Promise<T | undefined> {
  const response = await fetch(url, { headers });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function readAll<T>(url: string, headers: Record<string, string>): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  do {
    const page: Page<T> | undefined = await getJson<Page<T>>(
      `${url}?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
      headers,
    );
    if (!page) break;
    items.push(...page.items);
    after = page.next;
  } while (after !== null);
  return items;
}

function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
