/**
 * Parsing webhook lines on worker threads for `import`: the main thread reads the file and
 * appends (SQLite commits run on it), while workers parse the lines that come next, so parsing
 * overlaps storing instead of taking turns with it. Results come back in the order sent.
 *
 * Without a built worker file (running from TypeScript sources) or with no thread to spare,
 * lines are parsed in-line on the main thread: same results, no overlap.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { JsonText } from '../store/shared/json.js';
import { dataText } from '../store/shared/rows.js';
import type { EventToAppend } from '../store/port.js';
import { parseWebhook, type ParseResult, type WebhookEvent } from '../truto/parse.js';

export interface ParseRequest {
  readonly id: number;
  /** The lines' bytes, back to back (transferred, not copied). */
  readonly buffer: ArrayBuffer;
  /** Where each line ends in `buffer`. */
  readonly ends: readonly number[];
}

export type Refusal = Extract<ParseResult, { ok: false }>;

/**
 * A thread's answer, flat: structured clone copies a few strings per event much faster than
 * an object tree per event, and the main thread, which stores, is what limits an import.
 */
export interface ParseResponse {
  readonly id: number;
  /** Per line: `null` when it parsed (its fields are next in `fields`), else the refusal. */
  readonly refusals: readonly (Refusal | null)[];
  /**
   * The parsed lines' events but their bodies (which the main thread holds), FIELDS_PER_EVENT
   * values each: id, type, stream, sourceTime, data as the JSON text it is stored as, skipped.
   */
  readonly fields: readonly unknown[];
}

const FIELDS_PER_EVENT = 6;

/** Adds a parsed event's fields to a thread's answer (read back by `eventsOf`, same order). */
export function pushFields(fields: unknown[], event: WebhookEvent): void {
  const data = dataText(event);
  fields.push(event.id, event.type, event.stream, event.sourceTime, data, event.skipped);
}

/** A line's event to append, or why it was refused. */
export type LineParse = { readonly ok: true; readonly event: EventToAppend } | Refusal;

export interface ParsePool {
  /** Parses `lines` (exact bytes each); the results, in order, once ready. */
  parse(lines: readonly Uint8Array[]): Promise<LineParse[]>;
  readonly threads: number;
  close(): Promise<void>;
}

const WORKER = new URL('./parse-worker.js', import.meta.url);

/** Threads worth starting: one per core the main thread leaves, at most four. */
export function defaultParseThreads(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}

export function createParsePool(threads: number): ParsePool {
  if (threads < 1 || !existsSync(fileURLToPath(WORKER))) return inlinePool();
  const workers = Array.from({ length: threads }, () => new Worker(WORKER));
  const waiting = new Map<number, (response: ParseResponse) => void>();
  let failure: Error | undefined;
  for (const worker of workers) {
    worker.on('message', (response: ParseResponse) => {
      waiting.get(response.id)?.(response);
      waiting.delete(response.id);
    });
    worker.on('error', (error) => {
      failure = error;
      for (const [, settle] of waiting) settle({ id: -1, refusals: [], fields: [] });
      waiting.clear();
    });
  }
  let next = 0;
  return {
    threads,
    async parse(lines) {
      if (failure) throw failure;
      const total = lines.reduce((sum, line) => sum + line.byteLength, 0);
      const joined = new Uint8Array(total);
      const ends: number[] = [];
      let at = 0;
      for (const line of lines) {
        joined.set(line, at);
        at += line.byteLength;
        ends.push(at);
      }
      const id = next++;
      const worker = workers[id % workers.length]!;
      const response = await new Promise<ParseResponse>((resolve) => {
        waiting.set(id, resolve);
        const request: ParseRequest = { id, buffer: joined.buffer, ends };
        worker.postMessage(request, [joined.buffer]);
      });
      if (failure) throw failure;
      return eventsOf(response, lines);
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

function eventsOf(response: ParseResponse, lines: readonly Uint8Array[]): LineParse[] {
  const { fields } = response;
  let at = 0;
  return response.refusals.map((refusal, i) => {
    if (refusal) return refusal;
    const event: EventToAppend = {
      id: fields[at] as string,
      type: fields[at + 1] as string,
      stream: fields[at + 2] as string | null,
      sourceTime: fields[at + 3] as number,
      data: new JsonText(fields[at + 4] as string),
      skipped: fields[at + 5] as NonNullable<EventToAppend['skipped']> | null,
      body: lines[i]!,
    };
    at += FIELDS_PER_EVENT;
    return { ok: true, event };
  });
}

function inlinePool(): ParsePool {
  return {
    threads: 0,
    parse: async (lines) => lines.map((line) => parseWebhook(line)),
    close: async () => undefined,
  };
}
