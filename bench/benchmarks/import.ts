/**
 * Issue 2: import throughput through the real import path, beside two floors measured in the
 * same run on the same file: JSON.parse of every line, and a raw better-sqlite3 insert of every
 * body in one transaction with the shipped durability settings (WAL, synchronous=FULL).
 *
 * Beside them, for information (no target): the same rows, parsed beforehand and left out of the
 * time, inserted into the log's own table and indexes in one transaction. It shows what the
 * schema alone costs against the raw floor: the id index that decides duplicates, the stream
 * index of `readStream`, and the facts that spare projections parsing the bodies.
 *
 * Contenders: the library path (`parseWebhook` + `store.append` in batches of 20,000, as the CLI
 * does it, in this process) and the CLI itself (`truto-state import`, a real process, its start-up
 * included). Target: import at >= 80% of the raw insert floor.
 */
import { runCliTimed } from '../lib/cli.js';
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { parseWebhook, type WebhookEvent } from '../../src/truto/parse.js';
import { createSqliteEventStore } from '../../src/store/sqlite/index.js';
import { toEventRow } from '../../src/store/shared/rows.js';
import {
  collectGarbage,
  failed,
  now,
  startRssSampler,
  throughput,
  versusFloor,
} from '../lib/measure.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';
import { readLines, writeWorkloadFile, type WorkloadFile } from '../lib/workload-file.js';

const BENCH = 'import';
const RAW = 'floor: raw insert';
const SCHEMA = "the same rows into the log's schema (not parsed)";
/** The CLI's default on SQLite (src/cli/commands/import.ts). */
const BATCH = 20_000;

export const importBenchmark: Benchmark = {
  name: BENCH,
  description: 'import throughput (events/s, MB/s) vs JSON.parse and a raw SQLite insert (issue 2)',
  defaultSizes: [100_000],
  async run(context) {
    const rows: Row[] = [];
    for (const bodies of context.bodies) {
      for (const events of context.sizes ?? this.defaultSizes) {
        context.log(`import: generating ${events} events (${bodies.name} bodies)`);
        const file = await writeWorkloadFile(context.tmp, events, context.seed, bodies);
        const rowsOfSize = await runSize(context, file);
        rows.push(...rowsOfSize.map((row) => ({ ...row, bodies: bodies.name })));
        rmSync(file.path);
      }
    }
    return rows;
  },
};

async function runSize(context: BenchContext, file: WorkloadFile): Promise<Row[]> {
  const rows: Row[] = [];
  // One database per contender, removed once measured: a million 5 KB bodies is 5 GB each.
  const dbPath = (who: string): string => {
    const path = join(context.tmp, `${who}-${basename(file.path, '.ndjson')}.db`);
    cleanups.push(path);
    return path;
  };
  const cleanups: string[] = [];
  const measure = async (
    name: string,
    fn: () => Promise<string | void>,
    inProcess = true,
  ): Promise<Row> => {
    context.log(`import: ${name} (${file.events} events)`);
    collectGarbage();
    const stopRss = startRssSampler();
    const start = now();
    try {
      const note = await fn();
      const ms = now() - start;
      const peak = stopRss();
      // A child process's memory is not this process's: no RSS column for it.
      return {
        bench: BENCH,
        case: name,
        status: 'ok',
        ...throughput(file.events, file.bytes, ms),
        ...(inProcess ? { peakRssMb: peak } : {}),
        ...(note ? { note } : {}),
      };
    } catch (error) {
      stopRss();
      return failed(BENCH, name, error, file.events);
    }
  };

  const parseFloor = await measure('floor: JSON.parse', () => parseEveryLine(file.path));
  const rawFloor = await measure(RAW, () => rawInsert(file.path, dbPath('raw')));
  const schemaRow = await timedSchemaInsert(file, dbPath('schema'));
  rows.push(parseFloor, rawFloor, {
    ...schemaRow,
    ...(schemaRow.status === 'ok' && rawFloor.status === 'ok'
      ? { ofFloor: (schemaRow.eventsPerSec ?? 0) / (rawFloor.eventsPerSec ?? 1), floor: RAW }
      : {}),
  });
  const compare = (row: Row): Row =>
    row.status === 'ok'
      ? {
          ...row,
          ...versusFloor(row.eventsPerSec, rawFloor.eventsPerSec, RAW, 0.8, '>= 80% of raw insert'),
        }
      : row;
  rows.push(
    compare(
      await measure('import (parse + store.append)', () => libraryImport(file, dbPath('lib'))),
    ),
  );
  rows.push(
    compare(
      await measure('import (CLI process)', () => cliImport(context, file, dbPath('cli')), false),
    ),
  );
  for (const path of cleanups)
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  return rows;
}

async function parseEveryLine(path: string): Promise<void> {
  let keep = 0;
  for await (const lines of readLines(path)) {
    for (const line of lines) {
      const value = JSON.parse(line.toString('utf8')) as { id?: unknown };
      if (value.id !== undefined) keep++;
    }
  }
  if (keep === 0) throw new Error('no line parsed');
}

/** The raw floor: bodies into one table, one transaction, WAL + synchronous=FULL. */
async function rawInsert(path: string, dbPath: string): Promise<void> {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE events (position INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO events (body) VALUES (?)');
    db.exec('BEGIN IMMEDIATE');
    for await (const lines of readLines(path)) for (const line of lines) insert.run(line);
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

/**
 * The schema floor (see the header): lines are parsed a batch at a time outside the clock; only
 * the inserts, in one transaction with the shipped durability, and the commit are timed.
 */
async function timedSchemaInsert(file: WorkloadFile, dbPath: string): Promise<Row> {
  try {
    // The store makes the file with its own schema and settings; the rows go in beside it.
    await createSqliteEventStore({ path: dbPath }).close();
    const db = new Database(dbPath);
    let ms = 0;
    const ids = new Set<string>();
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      // The columns the store's append writes, bound by name from the row it serialises.
      const insert = db.prepare(
        `INSERT INTO events (id, type, stream, source_time, data, skipped, skip_issues, received_at, body)
         VALUES (@id, @type, @stream, @sourceTime, @data, @skipped, @skipIssues, @receivedAt, @body)`,
      );
      const receivedAt = Date.now();
      db.exec('BEGIN IMMEDIATE');
      for await (const lines of readLines(file.path)) {
        const batch = [];
        for (const line of lines) {
          const parsed = parseWebhook(line);
          if (!parsed.ok) throw new Error(`generated line rejected: ${parsed.code}`);
          // Duplicates are left out here: the contenders find them through the id index.
          if (ids.has(parsed.event.id)) continue;
          ids.add(parsed.event.id);
          batch.push(toEventRow(parsed.event));
        }
        const start = now();
        for (const row of batch) insert.run({ ...row, receivedAt });
        ms += now() - start;
      }
      const start = now();
      db.exec('COMMIT');
      ms += now() - start;
    } finally {
      db.close();
    }
    return {
      bench: BENCH,
      case: SCHEMA,
      status: 'ok',
      ...throughput(file.events, file.bytes, ms),
      note: `${ids.size} rows; the inserts and the commit only, for information`,
    };
  } catch (error) {
    return failed(BENCH, SCHEMA, error, file.events);
  }
}

/** The real path in-process: what `truto-state import` does, minus its process start-up. */
async function libraryImport(file: WorkloadFile, dbPath: string): Promise<string | void> {
  const store = createSqliteEventStore({ path: dbPath });
  let stored = 0;
  let duplicates = 0;
  try {
    let batch: WebhookEvent[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      for (const outcome of await store.append(batch)) {
        if (outcome.status === 'stored') stored++;
        else if (outcome.status === 'duplicate') duplicates++;
      }
      batch = [];
    };
    for await (const lines of readLines(file.path)) {
      for (const line of lines) {
        const parsed = parseWebhook(line);
        if (!parsed.ok) throw new Error(`generated line rejected: ${parsed.code}`);
        batch.push(parsed.event);
        if (batch.length >= BATCH) await flush();
      }
    }
    await flush();
  } finally {
    await store.close();
  }
  if (stored !== file.distinct)
    throw new Error(`stored ${stored}, expected ${file.distinct} distinct events`);
  return `${stored} stored, ${duplicates} duplicates`;
}

/** The CLI as a user runs it (`--json` summary), a real process. */
async function cliImport(
  context: BenchContext,
  file: WorkloadFile,
  dbPath: string,
): Promise<string | void> {
  const { stdout: out } = await runCliTimed(context.root, [
    'import',
    file.path,
    '--db',
    dbPath,
    '--json',
  ]);
  const summary = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
    stored?: number;
    duplicates?: number;
  };
  if (summary.stored !== file.distinct)
    throw new Error(`CLI stored ${summary.stored}, expected ${file.distinct}`);
  return `${summary.stored} stored, ${summary.duplicates} duplicates (process start-up included)`;
}
