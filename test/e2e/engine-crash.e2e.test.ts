/**
 * Crashes with real processes: SIGKILL while projecting (between append and projection) and
 * while rebuilding, then restart. State must equal a fresh rebuild (`verify` exits 0), and a
 * checkpoint must never run ahead of the state it describes.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, runCli, spawnCli } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { writeWorkload } from '../support/workload-file.js';

let temp: TempDir;
let db: string;

beforeAll(async () => {
  temp = await createTempDir('truto-state-crash-');
  db = temp.path('log.db');
  const file = temp.path('events.ndjson');
  // Two catch-up commits (of 100,000 events while nobody is subscribed, then 50,000): a kill can
  // land between them, half a second or more apart.
  await writeWorkload(file, { events: 150_000, seed: 11 });
  const imported = await runCli(['import', file, '--db', db]);
  expect(imported.code, imported.stderr).toBe(0);
});

afterAll(async () => {
  await temp?.cleanup();
});

interface Snapshot {
  head: number;
  checkpoints: Map<string, number>;
  /** Highest position folded into any state row, per projection. */
  applied: Map<string, number>;
}

function snapshot(): Snapshot {
  const sqlite = new Database(db, { readonly: true });
  try {
    const head = (
      sqlite.prepare('SELECT COALESCE(MAX(position), 0) AS head FROM events').get() as {
        head: number;
      }
    ).head;
    const checkpoints = new Map(
      (
        sqlite.prepare('SELECT name, position FROM checkpoints').all() as {
          name: string;
          position: number;
        }[]
      ).map((r) => [r.name, r.position]),
    );
    const applied = new Map(
      (
        sqlite
          .prepare('SELECT projection, MAX(position) AS position FROM states GROUP BY projection')
          .all() as { projection: string; position: number }[]
      ).map((r) => [r.projection, r.position]),
    );
    const integrity = sqlite.pragma('integrity_check', { simple: true });
    expect(integrity).toBe('ok');
    return { head, checkpoints, applied };
  } finally {
    sqlite.close();
  }
}

/** Kills `args` with SIGKILL after `delayMs`; resolves with how it ended. */
async function killAfter(args: string[], delayMs: number) {
  const child = spawnCli([...args, '--db', db]);
  const done = finished(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  const result = await done;
  clearTimeout(timer);
  return result;
}

describe('SIGKILL between append and projection', () => {
  it('resumes from the checkpoint and ends equal to a fresh rebuild', async () => {
    let killedMidway = 0;
    // A catch-up this far behind commits in a few large transactions: the kill comes later each
    // time, in steps much shorter than the time from the first commit to the last, so one lands
    // between two commits before a run finishes.
    for (let delay = 500; delay <= 20_000; delay += 100) {
      const result = await killAfter(['dump', 'runs'], delay);
      const state = snapshot();
      for (const [name, applied] of state.applied) {
        // A state row never holds an event its projection's checkpoint has not reached.
        expect(applied, name).toBeLessThanOrEqual(state.checkpoints.get(name) ?? 0);
      }
      const runs = state.checkpoints.get('runs') ?? 0;
      if (result.signal === 'SIGKILL' && runs > 0 && runs < state.head) killedMidway++;
      if (result.signal !== 'SIGKILL') break;
    }
    expect(killedMidway).toBeGreaterThan(0);
    const verified = await runCli(['verify', '--db', db]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/0 difference/);
  });
});

describe('SIGKILL during a rebuild', () => {
  it('leaves the live state whole, and a restarted rebuild completes', async () => {
    const before = await runCli(['dump', 'accounts', '--db', db]);
    expect(before.code).toBe(0);
    let interrupted = 0;
    for (const delay of [200, 400, 700, 1000]) {
      const result = await killAfter(['rebuild'], delay);
      if (result.signal === 'SIGKILL') interrupted++;
      const during = await runCli(['dump', 'accounts', '--db', db]);
      expect(during.stdout).toBe(before.stdout);
    }
    expect(interrupted).toBeGreaterThan(0);
    const rebuilt = await runCli(['rebuild', '--db', db]);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(/rebuilt accounts, runs, record-states, records/);
    const verified = await runCli(['verify', '--db', db]);
    expect(verified.code, verified.stdout).toBe(0);
    const after = await runCli(['dump', 'accounts', '--db', db]);
    expect(after.stdout).toBe(before.stdout);
  });
});
