/**
 * Soak of the hardened paths (issue 11), bounded in count and time, loopback only: a real
 * `serve` on a real SQLite file takes concurrent signed webhooks (ordinary histories, NUL-bearing,
 * deeply nested, numeric-id and NUL-id ones, and duplicates of acknowledged ones), while CLI
 * `dump` and `verify` processes run beside it on the same file. A sender retries 503s, as Truto
 * does. At the end:
 * - every acknowledged delivery is stored exactly once (one `stored` answer, the rest
 *   `duplicate`), and the log holds nothing else;
 * - refused deliveries (400) are the ones no store can hold, and nothing of them is stored;
 * - `verify` reports 0 differences;
 * - every live `/changes` client, connected before the first delivery, received exactly the
 *   journal's seqs, in order, with no gap and no repeat (changes committed by the CLI processes
 *   included) and no reset.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { getJson, postWebhook, runCli, startServe, type Served } from '../http/support/serve.js';
import { changesIn, connectSse } from '../http/support/sse.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { idOf, seededRandom, trutoHistory } from '../support/truto.js';

const SECRET = 'soak-secret';
const NUL = '\u0000';
/** Deliveries in flight at once. */
const CONCURRENCY = 12;
/** Attempts per delivery while the service answers 503 (Truto retries 3 times; we are patient). */
const ATTEMPTS = 20;

let dir: TempDir;
let served: Served;
let db: string;
beforeAll(async () => {
  dir = await createTempDir('truto-soak-');
  db = dir.path('soak.db');
  served = await startServe(['--port', '0', '--host', '127.0.0.1', '--db', db, '--secret', SECRET]);
});
afterAll(async () => {
  await served?.stop('SIGTERM');
  await dir.cleanup();
});

function envelope(id: unknown, event: string, payload: unknown, second: number): string {
  return JSON.stringify({
    id,
    event,
    created_at: `2024-10-01T00:${String(Math.floor(second / 60) % 60).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}Z`,
    payload,
  });
}

/** Deliveries that stress item 2, 3, 12 and 15, with what each must get. */
function specials(): { body: string; expect: 'stored' | 'refused' }[] {
  const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
  const out: { body: string; expect: 'stored' | 'refused' }[] = [];
  for (let i = 0; i < 10; i += 1) {
    out.push(
      {
        body: envelope(`nul-acc-${i}`, 'integrated_account:active', { id: `a${NUL}${i}` }, i),
        expect: 'stored',
      },
      {
        body: envelope(
          `nul-err-${i}`,
          'integrated_account:authentication_error',
          { id: `acc-err-${i}`, last_error: { message: `x${NUL}y` } },
          i,
        ),
        expect: 'stored',
      },
      {
        body: envelope(
          `deep-${i}`,
          'integrated_account:post_install_error',
          { id: `acc-deep-${i}`, last_error: '@' },
          i,
        ).replace('"@"', deep),
        expect: 'stored',
      },
      {
        body: envelope(
          `slash-${i}`,
          'record:created',
          { id: `r-${i}`, integrated_account_id: `t/${i}`, resource: 'crm' },
          i,
        ),
        expect: 'stored',
      },
      {
        body: envelope(
          `slash2-${i}`,
          'record:created',
          { id: `r-${i}`, integrated_account_id: 't', resource: `${i}/crm` },
          i,
        ),
        expect: 'stored',
      },
      {
        body: envelope(`bad${NUL}${i}`, 'integrated_account:active', { id: 'acc-x' }, i),
        expect: 'refused',
      },
      {
        body: envelope('BIG', 'integrated_account:active', { id: 'acc-x' }, i).replace(
          '"BIG"',
          `1234567890123456789${i}`,
        ),
        expect: 'refused',
      },
    );
  }
  return out;
}

/** Posts with retries on 503; resolves with the final answer. */
let retried = 0;
async function deliver(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await postWebhook(served.url, body, { secret: SECRET });
    if (answer.status !== 503 || attempt === ATTEMPTS) return answer;
    retried += 1;
    // A sender's backoff before retrying (Truto waits seconds; we wait briefly).
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
  }
}

it('every acknowledged delivery is stored once; verify finds no difference', async () => {
  const random = seededRandom(11);
  const history = trutoHistory({ accounts: 25, runsPerAccount: 2, recordBatches: 2, seed: 11 });
  const special = specials();
  const plan = [...history.map((body) => ({ body, expect: 'stored' as const })), ...special];
  // Shuffled, so the specials share group commits with ordinary deliveries.
  for (let i = plan.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }

  // Live change-stream clients, from before the first delivery to the end.
  const clients = await Promise.all(
    Array.from({ length: 3 }, () => connectSse(`${served.url}/changes`)),
  );
  for (const client of clients) {
    expect(client.status).toBe(200);
    await client.waitFor((frame) => frame.comments.includes(' connected'));
  }

  const answers: { body: string; expect: string; status: number; outcome?: unknown }[] = [];
  let sending = true;
  const send = async (): Promise<void> => {
    const queue = [...plan];
    const acked: string[] = [];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const answer = await deliver(next.body);
        answers.push({ ...next, status: answer.status, outcome: answer.json.status });
        if (answer.status === 200) {
          acked.push(next.body);
          // Now and then Truto sends an acknowledged delivery again.
          if (random() < 0.15) queue.push({ body: next.body, expect: 'stored' });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    sending = false;
  };

  // Beside the service: dump and verify processes on the same file, until the sending is done.
  const cliRuns: { args: string[]; code: number | null; stderr: string }[] = [];
  const besides = async (): Promise<void> => {
    for (let round = 0; round < 6 && sending; round += 1) {
      const runs = await Promise.all([
        runCli(['dump', 'accounts', '--db', db]),
        runCli(['dump', 'records', '--db', db]),
        runCli(['verify', '--db', db]),
      ]);
      runs.forEach((run, i) =>
        cliRuns.push({ args: [['dump accounts'], ['dump records'], ['verify']][i]!, ...run }),
      );
    }
  };
  await Promise.all([send(), besides()]);

  // Every delivery got a final answer: 200 for what a store can hold, 400 for the rest.
  for (const answer of answers) {
    expect(answer.status, answer.body.slice(0, 80)).toBe(answer.expect === 'stored' ? 200 : 400);
  }
  // Stored once: exactly one `stored` per acknowledged id, the others `duplicate`.
  const acked = answers.filter((a) => a.status === 200);
  const storedAnswers = new Map<string, number>();
  for (const answer of acked) {
    const id = idOf(answer.body);
    if (answer.outcome === 'stored') storedAnswers.set(id, (storedAnswers.get(id) ?? 0) + 1);
    else expect(answer.outcome).toBe('duplicate');
  }
  const ids = new Set(acked.map((a) => idOf(a.body)));
  expect([...storedAnswers.values()].every((n) => n === 1)).toBe(true);
  expect(storedAnswers.size).toBe(ids.size);

  // The log holds each acknowledged id once and nothing else.
  const store = createSqliteEventStore({ path: db });
  try {
    expect((await store.stats()).events).toBe(ids.size);
    for (const id of ids) expect((await store.readEvent(id))?.id).toBe(id);
  } finally {
    await store.close();
  }

  // CLI processes beside the service never crashed: dumps succeed; a verify made while the
  // service was still projecting may see it ahead (exit 1), never fail otherwise.
  for (const run of cliRuns) {
    expect([0, 1], `${run.args.join(' ')}: ${run.stderr}`).toContain(run.code);
    if (run.args[0]!.startsWith('dump')) expect(run.code, run.stderr).toBe(0);
  }

  // Caught up, the live state equals a rebuild.
  for (;;) {
    const { json } = await getJson(served.url, '/stats');
    if (json.head === ids.size && json.projections.every((p: { lag: number }) => p.lag === 0))
      break;
  }
  // Every live client holds exactly the journal's seqs: none missing, none repeated, in order.
  const journal = createSqliteEventStore({ path: db });
  let seqs: number[];
  try {
    seqs = (await journal.projections.readChanges(0)).map((change) => change.seq);
  } finally {
    await journal.close();
  }
  expect(seqs.length).toBeGreaterThan(0);
  const last = String(seqs.at(-1));
  for (const client of clients) {
    await client.waitFor((frame) => frame.id === last);
    expect(client.frames.some((frame) => frame.event === 'reset')).toBe(false);
    expect(changesIn(client.frames).map((change) => change.seq)).toEqual(seqs);
    client.close();
  }

  const verify = await runCli(['verify', '--db', db]);
  expect(verify.stdout).toContain(': 0 difference(s)');
  expect(verify.code).toBe(0);
  console.info(
    `soak: ${answers.length} answers (${ids.size} ids stored, ${acked.length - ids.size} duplicates, ` +
      `${answers.length - acked.length} refused), ${retried} retries after 503, ${cliRuns.length} CLI runs beside, ` +
      `${clients.length} live clients × ${seqs.length} changes`,
  );
  const records = (await runCli(['dump', 'records', '--db', db])).stdout;
  expect(records).toContain('"integratedAccountId":"t/3","resource":"crm"');
  expect(records).toContain('"integratedAccountId":"t","resource":"3/crm"');
});
