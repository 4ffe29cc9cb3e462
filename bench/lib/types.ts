/**
 * The benchmark harness's shapes: a benchmark is a module with a name and a `run` that returns
 * rows; the runner prints every row in one table and writes them all to `bench/results/`.
 */
import type { BodyProfile } from './bodies.js';

/** One line of the results table: a contender (or its floor) on one workload size. */
export interface Row {
  /** The benchmark (`import`, `rebuild`, `http`, `postgres`). */
  readonly bench: string;
  /** What was measured, e.g. `import (store.append)`, `floor: JSON.parse`. */
  readonly case: string;
  /** The body-size profile of the workload (`1kb`, `5kb`), when the benchmark runs several. */
  readonly bodies?: string;
  readonly status: 'ok' | 'not run' | 'failed';
  /** Events in the workload (deliveries, re-deliveries included). */
  readonly events?: number;
  readonly bytes?: number;
  readonly seconds?: number;
  readonly eventsPerSec?: number;
  readonly mbPerSec?: number;
  /** Throughput as a fraction of the floor named in `floor` (1 = as fast as the floor). */
  readonly ofFloor?: number;
  readonly floor?: string;
  /** The target, e.g. `>= 80% of raw insert`, and whether it was met. */
  readonly target?: string;
  /** The least `ofFloor` the target accepts (the regression guard fails below half of it). */
  readonly minRatio?: number;
  readonly met?: boolean;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly maxMs?: number;
  readonly peakRssMb?: number;
  readonly non200?: number;
  /** Why not run, what failed, or any remark. */
  readonly note?: string;
}

export interface BenchContext {
  /** Workload sizes asked for on the command line (`--events`), if any. */
  readonly sizes: readonly number[] | undefined;
  readonly seed: number;
  /** Body-size profiles to run (`--bodies`; default all). */
  readonly bodies: readonly BodyProfile[];
  /** A fresh temporary directory for this benchmark, removed after it. */
  readonly tmp: string;
  /** The repository root (for `dist/…` paths of child processes). */
  readonly root: string;
  /** Events sent at a steady 1k/s for append-to-change latency measurements. */
  readonly latencyEvents: number;
  /** A PostgreSQL URL given on the command line (`--pg-url`). */
  readonly pgUrl?: string;
  /** Progress lines (stderr), so the table on stdout stays clean. */
  log(message: string): void;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  /** Sizes used when `--events` is not given: modest, a few minutes on 2 cores in all. */
  readonly defaultSizes: readonly number[];
  run(context: BenchContext): Promise<Row[]>;
}
