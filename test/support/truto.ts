/**
 * A small, deterministic generator of Truto-shaped webhook bodies (see
 * shared/docs/truto-webhooks.md): accounts going through their lifecycle, sync job runs with
 * record batches, record events, and an unknown event type now and then. Seeded, so a test that
 * fails can be replayed. The benchmark has its own, bigger workload generator.
 */
import { writeFile } from 'node:fs/promises';

export interface HistoryOptions {
  readonly accounts?: number;
  readonly runsPerAccount?: number;
  /** `sync_job_run:record` batches per run. */
  readonly recordBatches?: number;
  readonly seed?: number;
  /** Prefix of every event id, so two histories can be made disjoint. */
  readonly idPrefix?: string;
}

/** A seeded PRNG (mulberry32): same seed, same history. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Raw bodies (JSON text, one event each) in generation order. */
export function trutoHistory(options: HistoryOptions = {}): string[] {
  const random = seededRandom(options.seed ?? 1);
  const prefix = options.idPrefix ?? 'evt';
  const environmentId = 'env-0001';
  const bodies: string[] = [];
  let n = 0;
  let clock = Date.UTC(2024, 8, 10, 12, 0, 0);
  const nextTime = (): string => {
    clock += 1000 + Math.floor(random() * 60_000);
    // Truto sends both formats; alternate to exercise the parser.
    const iso = new Date(clock).toISOString();
    return n % 3 === 0 ? iso.replace('T', ' ').slice(0, 19) : iso;
  };
  const emit = (event: string, payload: unknown): void => {
    n += 1;
    bodies.push(
      JSON.stringify({
        id: `${prefix}-${String(n).padStart(7, '0')}`,
        event,
        payload,
        environment_id: environmentId,
        created_at: nextTime(),
        webhook_id: 'webhook-0001',
      }),
    );
  };
  const integrations = ['salesforce', 'hubspot', 'zendesk', 'jira'];
  for (let a = 0; a < (options.accounts ?? 3); a += 1) {
    const accountId = `acc-${prefix}-${a}`;
    const account = (status: string, extra: Record<string, unknown> = {}) => ({
      id: accountId,
      tenant_id: `tenant-${a % 2}`,
      environment_id: environmentId,
      environment_integration_id: `ei-${a % 4}`,
      status,
      authentication_method: 'oauth2',
      integration: { id: `int-${a % 4}`, name: integrations[a % 4], category: 'crm' },
      last_error: null,
      ...extra,
    });
    emit('integrated_account:created', account('connecting'));
    emit('integrated_account:active', account('active'));
    for (let r = 0; r < (options.runsPerAccount ?? 2); r += 1) {
      const runId = `run-${prefix}-${a}-${r}`;
      const run = (status: string, extra: Record<string, unknown> = {}) => ({
        id: runId,
        sync_job_id: `job-${a}`,
        integrated_account_id: accountId,
        status,
        error_handling: 'batch',
        created_at: new Date(clock).toISOString(),
        ...extra,
      });
      emit('sync_job_run:created', run('created'));
      emit('sync_job_run:started', run('running', { started_at: new Date(clock).toISOString() }));
      for (let b = 0; b < (options.recordBatches ?? 2); b += 1) {
        const count = 1 + Math.floor(random() * 50);
        emit('sync_job_run:record', {
          resource: 'crm/contacts',
          records: Array.from({ length: count }, (_, i) => ({
            id: `c-${b}-${i}`,
            name: `Contact ${i}`,
          })),
          meta: { sync_job_run_id: runId, integrated_account_id: accountId, page: b },
        });
      }
      emit('record:updated', {
        integrated_account_id: accountId,
        resource: 'crm/contacts',
        id: `c-0-0`,
        name: 'Contact 0',
      });
      emit(
        'sync_job_run:completed',
        run('completed', { finished_at: new Date(clock).toISOString() }),
      );
    }
    if (random() < 0.5)
      emit(
        'integrated_account:authentication_error',
        account('needs_reauth', { last_error: 'token expired' }),
      );
    // An event name truto-state does not know: stored, not projected.
    if (a % 3 === 2) emit('environment_integration:updated', { id: `ei-${a % 4}` });
  }
  return bodies;
}

/** Writes lines as NDJSON (each followed by a newline). */
export async function writeNdjson(path: string, lines: readonly string[]): Promise<void> {
  await writeFile(path, lines.map((line) => `${line}\n`).join(''));
}

/** The id of a generated body. */
export function idOf(body: string): string {
  return (JSON.parse(body) as { id: string }).id;
}
