/** Small measuring helpers: timers, percentiles, throughput rows, memory. */
import type { Row } from './types.js';

export function now(): number {
  return performance.now();
}

/** The p-th percentile (0..100) of unsorted samples, nearest-rank; undefined when empty. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** p50 / p99 / max fields of a row from latency samples in ms. */
export function latencyFields(samples: readonly number[]): Pick<Row, 'p50Ms' | 'p99Ms' | 'maxMs'> {
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  const max = percentile(samples, 100);
  return {
    ...(p50 === undefined ? {} : { p50Ms: p50 }),
    ...(p99 === undefined ? {} : { p99Ms: p99 }),
    ...(max === undefined ? {} : { maxMs: max }),
  };
}

/** events/s and MB/s fields from a count, a byte total and a duration. */
export function throughput(
  events: number,
  bytes: number,
  ms: number,
): Pick<Row, 'events' | 'bytes' | 'seconds' | 'eventsPerSec' | 'mbPerSec'> {
  const seconds = ms / 1000;
  return {
    events,
    bytes,
    seconds,
    eventsPerSec: events / seconds,
    mbPerSec: bytes / 1e6 / seconds,
  };
}

/** Runs the collector if `--expose-gc` gave us one: measurements start from a clean heap. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Samples RSS every `intervalMs` until stopped; returns the peak in MB. */
export function startRssSampler(intervalMs = 25): () => number {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    return peak / 1e6;
  };
}

/** A row for a benchmark that could not run, with the reason. */
export function notRun(bench: string, name: string, reason: string, events?: number): Row {
  return {
    bench,
    case: name,
    status: 'not run',
    ...(events === undefined ? {} : { events }),
    note: reason,
  };
}

export function failed(bench: string, name: string, error: unknown, events?: number): Row {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    bench,
    case: name,
    status: 'failed',
    ...(events === undefined ? {} : { events }),
    note: message.split('\n')[0]!,
  };
}

/** The floor comparison fields: `value / floor`, and whether it meets `min`. */
export function versusFloor(
  value: number | undefined,
  floorValue: number | undefined,
  floorName: string,
  min: number,
  target: string,
): Pick<Row, 'ofFloor' | 'floor' | 'target' | 'minRatio' | 'met'> {
  if (value === undefined || floorValue === undefined || floorValue === 0)
    return { floor: floorName, target, minRatio: min };
  const ratio = value / floorValue;
  return { ofFloor: ratio, floor: floorName, target, minRatio: min, met: ratio >= min };
}
