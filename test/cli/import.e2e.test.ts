/**
 * `truto-state import` as a real process on a real SQLite file: idempotent re-import, conflicts,
 * bad lines kept aside with their line numbers, blank lines and CRLF endings.
 */
import { writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from '../support/cli.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { idOf, trutoHistory, writeNdjson } from '../support/truto.js';

interface Summary {
  lines: number;
  blank: number;
  stored: number;
  duplicates: number;
  conflicts: number;
  rejected: number;
}

describe('truto-state import', () => {
  let tmp: TempDir;
  let db: string;
  const cli = (...args: string[]) => runCli(args, { cwd: tmp.dir, env: { TRUTO_STATE_DB: db } });
  const stats = async () => {
    const result = await cli('stats', '--json');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as {
      events: number;
      duplicates: number;
      conflicts: number;
      rejects: number;
      headPosition: number;
    };
  };

  beforeAll(() => assertBuilt());
  beforeEach(async () => {
    tmp = await createTempDir('truto-state-import-');
    db = tmp.path('data/log.db');
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('importing the same file twice stores nothing the second time', async () => {
    const bodies = trutoHistory({ accounts: 6, seed: 11 });
    // Truto redelivers: some bodies appear twice in the file itself.
    const lines = [...bodies, ...bodies.slice(0, 5)];
    await writeNdjson(tmp.path('events.ndjson'), lines);
    const distinct = new Set(bodies.map(idOf)).size;

    const first = await cli('import', 'events.ndjson', '--json');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      lines: lines.length,
      stored: distinct,
      duplicates: 5,
      conflicts: 0,
      rejected: 0,
    });

    const second = await cli('import', 'events.ndjson', '--json');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      stored: 0,
      duplicates: lines.length,
      rejected: 0,
    });

    expect(await stats()).toMatchObject({
      events: distinct,
      headPosition: distinct,
      duplicates: 5 + lines.length,
    });
  });

  it('keeps the first body of an id and shows the conflict in stats', async () => {
    const [first, ...rest] = trutoHistory({ accounts: 1, seed: 2 });
    const original = first as string;
    const altered = JSON.stringify({
      ...(JSON.parse(original) as object),
      created_at: '2030-01-01T00:00:00.000Z',
    });
    await writeNdjson(tmp.path('a.ndjson'), [original, ...rest]);
    await writeNdjson(tmp.path('b.ndjson'), [altered]);

    expect((await cli('import', 'a.ndjson')).code).toBe(0);
    const clash = await cli('import', 'b.ndjson');
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain(`b.ndjson:1: conflict: id "${idOf(original)}"`);
    expect(clash.stdout).toContain('0 stored, 0 duplicates, 1 conflicts, 0 rejected');

    expect(await stats()).toMatchObject({ events: rest.length + 1, conflicts: 1 });
    const raw = new Database(db, { readonly: true });
    try {
      const kept = raw
        .prepare('SELECT body FROM events WHERE id = ?')
        .pluck()
        .get(idOf(original)) as Buffer;
      expect(kept.toString()).toBe(original);
      const aside = raw
        .prepare('SELECT body FROM conflicts WHERE event_id = ?')
        .pluck()
        .all(idOf(original)) as Buffer[];
      expect(aside.map(String)).toEqual([altered]);
    } finally {
      raw.close();
    }
  });

  it('reports a non-JSON line and a line without an id by number, keeps them aside, exits 2', async () => {
    const good = trutoHistory({ accounts: 1, seed: 5 }).slice(0, 4);
    const noId = JSON.stringify({
      event: 'integrated_account:active',
      created_at: '2024-09-10 12:00:00',
      payload: { id: 'acc-x' },
    });
    const lines = [
      good[0],
      good[1],
      '{"id": "broken", "event":',
      good[2],
      noId,
      good[3],
    ] as string[];
    await writeNdjson(tmp.path('mixed.ndjson'), lines);

    const result = await cli('import', 'mixed.ndjson', '--json');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/mixed\.ndjson:3: invalid_json: /);
    expect(result.stderr).toMatch(/mixed\.ndjson:5: missing_id: /);
    expect(JSON.parse(result.stdout)).toMatchObject({ lines: 6, stored: 4, rejected: 2 });
    expect(await stats()).toMatchObject({ events: 4, rejects: 2 });

    const raw = new Database(db, { readonly: true });
    try {
      const rejects = raw
        .prepare('SELECT source, reason, body FROM rejects ORDER BY source')
        .all() as { source: string; reason: string; body: Buffer }[];
      expect(rejects.map((r) => [r.source, r.reason, r.body.toString()])).toEqual([
        ['import:mixed.ndjson:3', 'invalid_json', lines[2]],
        ['import:mixed.ndjson:5', 'missing_id', noId],
      ]);
    } finally {
      raw.close();
    }

    // Importing again keeps each bad line once.
    expect((await cli('import', 'mixed.ndjson')).code).toBe(2);
    expect(await stats()).toMatchObject({ events: 4, rejects: 2 });
  });

  it('gives the same log, summary and messages whatever the parse threads (chunks of many lines, bad and blank lines among them)', async () => {
    const good = trutoHistory({ accounts: 40, seed: 21 });
    const lines: string[] = [];
    good.forEach((body, i) => {
      lines.push(body);
      if (i % 97 === 0) lines.push('{"id": "broken", "event":');
      if (i % 131 === 0) lines.push('   ');
      if (i % 53 === 0) lines.push(body); // a re-delivery
      // Stored but not projected: skipped (and its issues) travel back from a thread too.
      if (i % 89 === 0) {
        lines.push(
          JSON.stringify({ id: `u-${i}`, event: 'widget:made', created_at: '2024-09-10 12:00:00' }),
          JSON.stringify({
            id: `i-${i}`,
            event: 'integrated_account:active',
            created_at: '2024-09-10 12:00:00',
            payload: { status: 'active' },
          }),
        );
      }
    });
    expect(lines.length).toBeGreaterThan(600); // several parse chunks (256 lines each)
    await writeNdjson(tmp.path('many.ndjson'), lines);

    const runs: { summary: unknown; stderr: string; log: unknown[][] }[] = [];
    for (const threads of ['0', '1', '3']) {
      db = tmp.path(`data/threads-${threads}.db`);
      const result = await cli('import', 'many.ndjson', '--json', '--parse-threads', threads);
      expect(result.code).toBe(2); // the broken lines
      const raw = new Database(db, { readonly: true });
      try {
        const log = raw
          .prepare(
            'SELECT position, id, type, stream, source_time, data, skipped, skip_issues, body FROM events ORDER BY position',
          )
          .raw()
          .all() as unknown[][];
        runs.push({ summary: JSON.parse(result.stdout), stderr: result.stderr, log });
      } finally {
        raw.close();
      }
    }
    expect(runs[0]?.log.length).toBeGreaterThan(500);
    const skipped = runs[0]!.log.filter((row) => row[6] !== null);
    expect(skipped.map((row) => row[6])).toEqual(
      expect.arrayContaining(['unknown_type', 'invalid_payload']),
    );
    expect(skipped.some((row) => typeof row[7] === 'string')).toBe(true);
    expect(runs[0]?.stderr).toMatch(/many\.ndjson:2: invalid_json: /);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    expect((await cli('import', 'many.ndjson', '--parse-threads', '-1')).code).toBe(64);
  });

  it('ignores blank lines, accepts CRLF endings and a last line without newline, storing exact bytes', async () => {
    const [a, b, c] = trutoHistory({ accounts: 1, seed: 9 }) as [string, string, string];
    await writeFile(tmp.path('crlf.ndjson'), `${a}\r\n\r\n   \n${b}\n${c}`);
    const result = await cli('import', 'crlf.ndjson', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ lines: 3, blank: 2, stored: 3 });
    const raw = new Database(db, { readonly: true });
    try {
      const bodies = raw
        .prepare('SELECT body FROM events ORDER BY position')
        .pluck()
        .all() as Buffer[];
      expect(bodies.map(String)).toEqual([a, b, c]);
    } finally {
      raw.close();
    }
  });

  it('prints its help, and refuses a missing file argument or a missing file', async () => {
    const help = await cli('import', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: truto-state import <file.ndjson>');
    const usage = await cli('import');
    expect(usage.code).toBe(64);
    const missing = await cli('import', 'nowhere.ndjson');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nowhere.ndjson');
  });

  it('honours --db over TRUTO_STATE_DB', async () => {
    await writeNdjson(tmp.path('one.ndjson'), trutoHistory({ accounts: 1, seed: 1 }).slice(0, 1));
    expect((await cli('import', 'one.ndjson', '--db', 'other.db')).code).toBe(0);
    const other = await runCli(['stats', '--json', '--db', 'other.db'], { cwd: tmp.dir });
    expect((JSON.parse(other.stdout) as Summary & { events: number }).events).toBe(1);
  });
});
