/**
 * Kill -9 under load: a client posts thousands of signed, realistic deliveries concurrently; the
 * server is SIGKILLed at random moments several times and restarted on the same database; the
 * client resends whatever was not acknowledged. Afterwards every acknowledged id is stored
 * exactly once with its exact bytes, the projected state equals a rebuild (`truto-state verify`),
 * and the SQLite file passes `PRAGMA integrity_check`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { signBody } from '../../src/http/signature.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { createRandom } from '../../src/workload/random.js';
import { generateDeliveries } from '../../src/workload/generator.js';
import { runCli, startServe, type Served } from '../http/support/serve.js';

const SECRET = 'kill-9-secret';
const EVENTS = 4000;
const CONCURRENCY = 32;
const KILLS = 5;
const SEED = 20_240_910;

const dir = mkdtempSync(join(tmpdir(), 'truto-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it(`every acknowledged delivery survives ${KILLS} SIGKILLs under load, stored once (seed ${SEED})`, async () => {
  const db = join(dir, 'kill.db');
  const deliveries = [...generateDeliveries({ events: EVENTS, seed: SEED })];
  const bodyOf = new Map(deliveries.map((d) => [d.id, d.body]));
  const random = createRandom(SEED);
  const serveArgs = ['--port', '0', '--db', db, '--secret', SECRET, '--log-level', 'warn'];

  let server: Served = await startServe(serveArgs);
  // Workers that find the server gone wait for this; replaced at every restart.
  let restarted: Promise<void> = new Promise(() => undefined);
  let announceRestart: () => void = () => undefined;
  const armRestart = (): void => {
    restarted = new Promise((resolve) => (announceRestart = resolve));
  };
  armRestart();

  const queue = deliveries.map((d) => d.body);
  const acked = new Map<string, string>();
  let acks = 0;
  const outcomes = new Map<string, number>();
  let killAt = 200 + random.int(0, 400);
  let kills = 0;
  let resent = 0;
  let killing: Promise<void> | undefined;

  const killAndRestart = async (): Promise<void> => {
    const victim = server;
    victim.child.kill('SIGKILL');
    await victim.exited;
    kills += 1;
    killAt = acks + 150 + random.int(0, 450);
    server = await startServe(serveArgs);
    const wake = announceRestart;
    armRestart();
    wake();
    killing = undefined;
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const body = queue.shift();
      if (body === undefined) return;
      const target = server;
      let status: number;
      let outcome: string | undefined;
      try {
        const response = await fetch(`${target.url}/webhooks/truto`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-truto-signature': signBody(body, SECRET),
          },
          body,
        });
        status = response.status;
        const json = (await response.json()) as { status?: string; id?: string };
        outcome = json.status;
        if (status === 200 && json.id) {
          acked.set(json.id, outcome ?? '');
          acks += 1;
        }
      } catch {
        // Killed mid-request: not acknowledged, so it is sent again once the server is back.
        queue.push(body);
        resent += 1;
        if (server === target && killing) await restarted;
        continue;
      }
      outcomes.set(
        `${status} ${outcome ?? ''}`,
        (outcomes.get(`${status} ${outcome ?? ''}`) ?? 0) + 1,
      );
      if (status === 503) {
        queue.push(body);
        continue;
      }
      expect(status, `unexpected ${status} ${outcome}`).toBe(200);
      if (kills < KILLS && acks >= killAt && !killing) killing = killAndRestart();
    }
  };

  // Workers may finish while a restart is under way; wait for both.
  do {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await killing;
  } while (queue.length > 0);
  expect(kills).toBe(KILLS);
  // The kills did cut requests off mid-flight (otherwise this proved little).
  expect(resent).toBeGreaterThan(0);
  console.info(
    `kill -9 run: ${kills} kills, ${resent} resends, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`,
  );
  expect(await server.stop('SIGTERM')).toBe(0);

  // Every distinct id was acknowledged in the end (all were resent until they were).
  const distinct = new Set(deliveries.map((d) => d.id));
  expect(acked.size).toBe(distinct.size);

  // Stored exactly once: the log holds one row per distinct id (ids are unique there), and each
  // acknowledged id is present with the exact bytes sent.
  const stats = await runCli(['stats', '--json', '--db', db]);
  expect(stats.code, stats.stderr).toBe(0);
  expect(JSON.parse(stats.stdout).events).toBe(distinct.size);
  const store = createSqliteEventStore({ path: db });
  try {
    for (const id of acked.keys()) {
      const stored = await store.readEvent(id);
      expect(stored, id).toBeDefined();
      expect(Buffer.from(stored!.body!).toString('utf8')).toBe(bodyOf.get(id));
    }
  } finally {
    await store.close();
  }

  const sqlite = new Database(db, { readonly: true });
  try {
    expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(
      sqlite.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM events').get(),
    ).toEqual({
      n: distinct.size,
      d: distinct.size,
    });
  } finally {
    sqlite.close();
  }

  // The state equals a fresh rebuild.
  const verify = await runCli(['verify', '--db', db]);
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
}, 300_000);
