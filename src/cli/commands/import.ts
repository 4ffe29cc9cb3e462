/**
 * `truto-state import <file.ndjson>`: appends raw webhook bodies, one per line, to the log.
 *
 * The file is streamed (never held whole): each line's exact bytes, without the line ending, go
 * through `parseWebhook` (on worker threads when there are cores to spare: parse-pool.ts), good
 * events are appended in batches (each batch one durable commit),
 * and unusable lines are reported with their line number and kept aside in the rejects table.
 * Re-running an import is safe: ids already stored come back as duplicates.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { EventStore, EventToAppend } from '../../store/port.js';
import { openBackend } from '../backend.js';
import { UsageError, type Command, type CommandContext } from '../command.js';
import { parseCommandArgs, readStoreConfig, STORE_USAGE, storeOptions } from '../config.js';
import { createParsePool, defaultParseThreads, type LineParse } from '../parse-pool.js';

/**
 * Events per transaction. On SQLite every commit rewrites each page it touched whole into the
 * WAL, and the id index is random-keyed, so a batch dirties about one index page per event until
 * it dirties them all: at a million events, batches of 1,000 wrote the index about a thousand
 * times over (58 s, against 30 s with 20,000; measured, bench `import`). PostgreSQL logs rows, not
 * pages, and KurrentDB appends per stream: their batches stay small.
 */
const SQLITE_BATCH = 20_000;
const OTHER_BATCH = 1000;
/** Bodies held for one transaction at most: 20,000 large bodies would otherwise be ~100 MB. */
const BATCH_MIB = 32;
const BATCH_BYTES = BATCH_MIB * 1024 * 1024;

const USAGE = `Usage: truto-state import <file.ndjson> [options]

Appends one raw webhook body per line (the exact bytes Truto would POST), de-duplicated by
event id. Blank lines are ignored. Lines that cannot be used (not JSON, no id, no event name,
no created_at) are reported on stderr with their line number and kept aside in the rejects
table. A line whose id is already stored with different bytes is a conflict: the first stays,
the line is kept aside in the conflicts table and reported.

Exit codes: 0 every line was stored or was a duplicate; 2 some lines were rejected or
conflicted; 1 the import failed; 64 usage error.

Options:
  --batch-size <n>        events per transaction (default ${SQLITE_BATCH} on SQLite, ${OTHER_BATCH} on
                          PostgreSQL and KurrentDB); a transaction also ends at
                          ${BATCH_MIB} MiB of bodies
  --parse-threads <n>     worker threads parsing lines while the main thread stores them
                          (default: one per core but one, at most 4, here ${defaultParseThreads()};
                          0 parses on the main thread)
  --json                  print the summary as JSON
  -h, --help              this help

${STORE_USAGE}`;

const options = {
  ...storeOptions,
  'batch-size': { type: 'string' },
  'parse-threads': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export interface ImportSummary {
  readonly file: string;
  /** Non-blank lines read. */
  lines: number;
  blank: number;
  stored: number;
  duplicates: number;
  conflicts: number;
  rejected: number;
}

export const command: Command = {
  summary: 'truto-state import: append raw webhook bodies from an NDJSON file',
  usage: USAGE,
  run: async (context) => {
    const { values, positionals } = parseCommandArgs(context.argv, options, true);
    const [file, ...extra] = positionals;
    if (file === undefined) throw new UsageError('which file? give the NDJSON file to import');
    if (extra.length > 0) throw new UsageError(`one file at a time (got ${positionals.length})`);
    const config = readStoreConfig(values, context.env);
    const batchSize =
      values['batch-size'] === undefined
        ? config.kind === 'sqlite'
          ? SQLITE_BATCH
          : OTHER_BATCH
        : Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new UsageError('--batch-size must be a positive integer');
    const parseThreads =
      values['parse-threads'] === undefined
        ? defaultParseThreads()
        : Number(values['parse-threads']);
    if (!Number.isInteger(parseThreads) || parseThreads < 0 || parseThreads > 64)
      throw new UsageError('--parse-threads must be an integer from 0 to 64');

    const size = (await stat(file)).size;
    const backend = await openBackend(config);
    try {
      const summary = await importFile(file, size, backend.store, batchSize, parseThreads, context);
      context.stdout.write(
        values.json
          ? `${JSON.stringify(summary)}\n`
          : `imported ${file}: ${summary.lines} lines, ${summary.stored} stored, ${summary.duplicates} duplicates, ` +
              `${summary.conflicts} conflicts, ${summary.rejected} rejected${summary.blank > 0 ? `, ${summary.blank} blank` : ''}\n`,
      );
      return summary.rejected > 0 || summary.conflicts > 0 ? 2 : 0;
    } finally {
      await backend.close();
    }
  },
};

async function importFile(
  file: string,
  size: number,
  store: EventStore,
  batchSize: number,
  parseThreads: number,
  context: CommandContext,
): Promise<ImportSummary> {
  const summary: ImportSummary = {
    file,
    lines: 0,
    blank: 0,
    stored: 0,
    duplicates: 0,
    conflicts: 0,
    rejected: 0,
  };
  const progress = context.stderr.isTTY ? await startProgress(size, context) : undefined;
  // Messages on a terminal first clear the bar's line, which the bar redraws afterwards.
  const report = (message: string): void => {
    context.stderr.write(`${progress ? '\x1b[2K\r' : ''}${file}:${message}\n`);
  };

  let batch: EventToAppend[] = [];
  let batchLines: number[] = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const outcomes = await store.append(batch);
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'stored') summary.stored += 1;
      else if (outcome.status === 'duplicate') summary.duplicates += 1;
      else {
        summary.conflicts += 1;
        report(
          `${batchLines[i]}: conflict: id ${JSON.stringify(outcome.id)} is already stored with other bytes (kept aside)`,
        );
      }
    });
    batch = [];
    batchLines = [];
    batchBytes = 0;
  };

  /** Lines in file order, their parse under way (on the pool's threads when it has some). */
  interface Chunk {
    readonly lines: readonly Line[];
    readonly parsed: Promise<LineParse[]>;
    readonly consumed: number;
    /** Bytes of its lines. */
    readonly bytes: number;
  }
  const take = async (chunk: Chunk): Promise<void> => {
    const results = await chunk.parsed;
    for (let i = 0; i < results.length; i++) {
      const { number, bytes } = chunk.lines[i]!;
      const parsed = results[i]!;
      summary.lines += 1;
      if (!parsed.ok) {
        summary.rejected += 1;
        report(`${number}: ${parsed.code}: ${parsed.message}`);
        await store.recordReject({
          source: `import:${file}:${number}`,
          reason: parsed.code,
          message: parsed.message,
          body: bytes,
        });
        continue;
      }
      batch.push(parsed.event);
      batchLines.push(number);
      batchBytes += bytes.length;
      if (batch.length >= batchSize || batchBytes >= BATCH_BYTES) await flush();
    }
    progress?.update(chunk.consumed);
  };

  const pool = createParsePool(parseThreads);
  // Enough parsed ahead to keep every thread busy while the main thread stores: up to a batch's
  // worth (in events and in bytes), so the threads go on parsing the next batch while one
  // commits. With only a few chunks ahead, a 20,000-event commit left the parse thread idle for
  // half of the import (measured, 100k events).
  const ahead =
    pool.threads === 0 ? 1 : Math.max(2 * pool.threads + 1, Math.ceil(batchSize / CHUNK_LINES));
  const pending: Chunk[] = [];
  let pendingBytes = 0;
  const takeFirst = async (): Promise<void> => {
    const chunk = pending.shift()!;
    pendingBytes -= chunk.bytes;
    await take(chunk);
  };
  try {
    for await (const lines of readLines(file)) {
      for (let from = 0; from < lines.length; from += CHUNK_LINES) {
        const slice = lines.slice(from, from + CHUNK_LINES);
        const used = slice.filter((line) => !isBlank(line.bytes));
        summary.blank += slice.length - used.length;
        const bytes = used.reduce((sum, line) => sum + line.bytes.length, 0);
        pending.push({
          lines: used,
          parsed: pool.parse(used.map((line) => line.bytes)),
          consumed: slice[slice.length - 1]!.consumed,
          bytes,
        });
        pendingBytes += bytes;
        while (pending.length > ahead || (pending.length > 1 && pendingBytes > BATCH_BYTES))
          await takeFirst();
      }
    }
    while (pending.length > 0) await takeFirst();
    await flush();
  } finally {
    progress?.stop();
    // A failure above leaves parses under way: their results are not wanted.
    for (const chunk of pending) chunk.parsed.catch(() => undefined);
    await pool.close();
  }
  return summary;
}

/** Lines sent to a parse thread at a time: large enough to amortise the message. */
const CHUNK_LINES = 256;

interface Line {
  readonly number: number;
  readonly bytes: Buffer;
  /** The byte offset after the line, for the progress bar. */
  readonly consumed: number;
}

/**
 * The file's lines as exact bytes, without `\n` (or `\r\n`), streamed: one array of lines per
 * chunk read (1 MiB chunks, so a body of a few KB rarely straddles two of them and an await is
 * paid per chunk, not per line).
 */
async function* readLines(file: string): AsyncGenerator<Line[]> {
  let pieces: Buffer[] = [];
  let number = 0;
  let offset = 0;
  const stream = createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
  for await (const chunk of stream) {
    const lines: Line[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const tail = chunk.subarray(start, nl);
      const line = pieces.length === 0 ? tail : Buffer.concat([...pieces, tail]);
      pieces = [];
      number += 1;
      lines.push({ number, bytes: withoutCr(line), consumed: offset + nl + 1 });
      start = nl + 1;
    }
    if (start < chunk.length) pieces.push(chunk.subarray(start));
    offset += chunk.length;
    if (lines.length > 0) yield lines;
  }
  if (pieces.length > 0) {
    number += 1;
    yield [{ number, bytes: withoutCr(Buffer.concat(pieces)), consumed: offset }];
  }
}

/** A `\r\n` line ending is a line ending, not part of the body. */
function withoutCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
}

function isBlank(line: Buffer): boolean {
  return line.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0d);
}

/** A byte progress bar on stderr; cli-progress is loaded only when there is a terminal. */
async function startProgress(
  total: number,
  context: CommandContext,
): Promise<{ update(value: number): void; stop(): void }> {
  const { default: progress } = await import('cli-progress');
  const bar = new progress.SingleBar(
    {
      stream: context.stderr,
      format: 'importing |{bar}| {percentage}% | {value}/{total} bytes | ETA {eta_formatted}',
      hideCursor: null,
    },
    progress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (value) => bar.update(value), stop: () => bar.stop() };
}
