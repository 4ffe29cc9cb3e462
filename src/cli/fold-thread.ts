/**
 * The commands that fold the whole log, `truto-state rebuild` and `truto-state verify`, fold on a
 * worker thread with a young generation larger than node's default (FOLD_YOUNG_GENERATION_MB);
 * the main thread keeps the terminal: usage, progress bar and report.
 *
 * Without a built worker file (running from TypeScript sources) the fold runs on the main
 * thread: same results, node's default heap.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { RebuildProgress, RebuildReport } from '../engine/types.js';
import type { VerifyReport } from '../engine/verify.js';
import { UsageError } from './command.js';
import type { StoreConfig } from './config.js';

/**
 * The fold thread's young generation, in MB. A fold keeps each entity's latest state alive until
 * the entity's next event, so most of what it allocates survives a young collection; with node's
 * default (16 MB semi-spaces) the collector copied it again and again: 306 scavenges, 2.1 s of a
 * 9.5 s million-event rebuild (1 KB bodies). At 192 MB (64 MB semi-spaces) the rebuild took
 * 7.8 s; at 96 MB 8.5 s, at 384 MB 8.1 s. At 100k events no size made a measurable difference.
 * `verify` of the same million events: 9.6 s at the default, 8.2 s with 64 MB semi-spaces.
 */
export const FOLD_YOUNG_GENERATION_MB = 192;

const WORKER = new URL('./fold-worker.js', import.meta.url);

export type FoldRequest = { readonly config: StoreConfig } & (
  | {
      readonly task: 'rebuild';
      /** Projection names as given on the command line (none: every stream projection). */
      readonly names: readonly string[];
    }
  | { readonly task: 'verify' }
);

interface FoldResults {
  readonly rebuild: RebuildReport;
  readonly verify: VerifyReport;
}

export type FoldMessage =
  | { readonly kind: 'progress'; readonly progress: RebuildProgress }
  | { readonly kind: 'done'; readonly result: RebuildReport | VerifyReport }
  | {
      readonly kind: 'failed';
      readonly usage: boolean;
      readonly message: string;
      readonly code?: string;
    };

/** Opens the store, folds, closes: what the thread runs (or the main thread, unbuilt). */
export async function fold(
  request: FoldRequest,
  onProgress: (progress: RebuildProgress) => void,
): Promise<RebuildReport | VerifyReport> {
  // Loaded here, so the main thread, which only starts the thread, never loads the engine.
  const { openSession, projectionNamed } = await import('./session.js');
  // A rebuild runs beside running instances (PostgreSQL): they keep their partitions and follow
  // the swap. A verify projects first, as any session does.
  const session = await openSession(request.config, { observe: request.task === 'rebuild' });
  try {
    const { engine, backend } = session;
    if (request.task === 'rebuild') {
      const names = request.names.map((name) => projectionNamed(engine, name));
      return await engine.rebuild(names.length > 0 ? names : undefined, { onProgress });
    }
    const [{ verifyProjections }, { trutoCodec }, { trutoProjections }] = await Promise.all([
      import('../engine/verify.js'),
      import('../truto/codec.js'),
      import('../truto/projections/index.js'),
    ]);
    const position = await engine.catchUp();
    return await verifyProjections({
      store: backend.store,
      projectionStore: backend.projectionStore,
      projections: trutoProjections,
      codec: trutoCodec,
      upTo: position,
    });
  } finally {
    await session.close();
  }
}

/** Runs `fold` on the fold thread, progress reported as it comes. */
export function foldOnThread<R extends FoldRequest>(
  request: R,
  onProgress: (progress: RebuildProgress) => void = () => undefined,
): Promise<FoldResults[R['task']]> {
  type Result = FoldResults[R['task']];
  if (!existsSync(fileURLToPath(WORKER))) return fold(request, onProgress) as Promise<Result>;
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, {
      workerData: request,
      resourceLimits: {
        maxYoungGenerationSizeMb: FOLD_YOUNG_GENERATION_MB,
        // As much heap as the main thread may have: a `--max-old-space-size` given to node
        // (NODE_OPTIONS) for a large history is the thread's too.
        maxOldGenerationSizeMb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
      },
    });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    worker.on('message', (message: FoldMessage) => {
      if (message.kind === 'progress') onProgress(message.progress);
      else if (message.kind === 'done') settle(() => resolve(message.result as Result));
      else settle(() => reject(toError(message)));
    });
    worker.on('error', (error) => settle(() => reject(error)));
    worker.on('exit', (code) =>
      settle(() =>
        reject(new Error(`the ${request.task} thread stopped before it finished (exit ${code})`)),
      ),
    );
  });
}

/** A thread's failure as the error the command would have seen on its own thread. */
function toError(failure: Extract<FoldMessage, { kind: 'failed' }>): Error {
  if (failure.usage) return new UsageError(failure.message);
  const error = new Error(failure.message) as Error & { code?: string };
  if (failure.code !== undefined) error.code = failure.code;
  return error;
}

/** The failure to send back for whatever the fold threw. */
export function failureOf(error: unknown): FoldMessage {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    kind: 'failed',
    usage: error instanceof UsageError,
    message: error instanceof Error ? error.message : String(error),
    ...(typeof code === 'string' ? { code } : {}),
  };
}
