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
import { parseWebhook, type ParseResult, type WebhookEvent } from '../truto/parse.js';

export interface ParseRequest {
  readonly id: number;
  /** The lines' bytes, back to back (transferred, not copied). */
  readonly buffer: ArrayBuffer;
  /** Where each line ends in `buffer`. */
  readonly ends: readonly number[];
}

export type ParsedWithoutBody =
  | { readonly ok: true; readonly event: Omit<WebhookEvent, 'body'> }
  | Extract<ParseResult, { ok: false }>;

export interface ParseResponse {
  readonly id: number;
  readonly results: readonly ParsedWithoutBody[];
}

export interface ParsePool {
  /** Parses `lines` (exact bytes each); the results, in order, once ready. */
  parse(lines: readonly Uint8Array[]): Promise<ParseResult[]>;
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
      for (const [, settle] of waiting) settle({ id: -1, results: [] });
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
      return response.results.map((result, i) =>
        result.ok ? { ok: true, event: { ...result.event, body: lines[i]! } } : result,
      );
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

function inlinePool(): ParsePool {
  return {
    threads: 0,
    parse: async (lines) => lines.map((line) => parseWebhook(line)),
    close: async () => undefined,
  };
}
