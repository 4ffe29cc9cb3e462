/**
 * `truto-state stats`: what the log holds (events by type, duplicates, conflicts, rejects,
 * skipped events, head position) and where each projection stands (checkpoint, lag, dead
 * letters), as a table or, with `--json`, as one JSON object whose stored count is `events`.
 */
import type { Checkpoint, DeadLetter, EventStoreStats, ProjectionStore } from '../../store/port.js';
import { openBackend } from '../backend.js';
import type { Command } from '../command.js';
import { parseCommandArgs, readStoreConfig, STORE_USAGE, storeOptions } from '../config.js';

const USAGE = `Usage: truto-state stats [options]

Options:
  --json                  print JSON (the stored event count is under "events")
  -h, --help              this help

${STORE_USAGE}`;

const options = { ...storeOptions, json: { type: 'boolean' } } as const;

export interface ProjectionStats {
  readonly name: string;
  /** Scale-out: the partition this checkpoint is for (absent for a whole projection). */
  readonly partition?: number;
  readonly version: number;
  readonly position: number;
  readonly lag: number;
  readonly deadLetters: number;
}

export interface StatsReport extends EventStoreStats {
  readonly projections: ProjectionStats[];
  readonly deadLetters: number;
}

export const command: Command = {
  summary: 'truto-state stats: events stored, duplicates, conflicts, rejects, projection positions',
  usage: USAGE,
  run: async (context) => {
    const { values } = parseCommandArgs(context.argv, options);
    const backend = await openBackend(readStoreConfig(values, context.env));
    try {
      const report = await readReport(await backend.store.stats(), backend.projectionStore);
      context.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
      return 0;
    } finally {
      await backend.close();
    }
  },
};

async function readReport(
  stats: EventStoreStats,
  projections: ProjectionStore,
): Promise<StatsReport> {
  const checkpoints: Checkpoint[] = (await projections.listCheckpoints?.()) ?? [];
  const letters: DeadLetter[] = await projections.readDeadLetters();
  const lettersOf = (name: string) => letters.filter((l) => l.projection === name).length;
  return {
    ...stats,
    projections: checkpoints.map((c) => ({
      name: c.name,
      ...(c.partition === undefined ? {} : { partition: c.partition }),
      version: c.version,
      position: c.position,
      lag: Math.max(0, stats.headPosition - c.position),
      deadLetters: lettersOf(c.name),
    })),
    deadLetters: letters.length,
  };
}

function render(report: StatsReport): string {
  const lines: string[] = [];
  const table = (rows: readonly (readonly (string | number)[])[]): void => {
    const widths = rows.reduce<number[]>(
      (w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, String(cell).length)),
      [],
    );
    for (const row of rows) {
      lines.push(
        row
          .map((cell, i) =>
            typeof cell === 'number'
              ? String(cell).padStart(widths[i] ?? 0)
              : cell.padEnd(widths[i] ?? 0),
          )
          .join('  ')
          .trimEnd(),
      );
    }
  };
  table([
    ['events stored', report.events],
    ['duplicates', report.duplicates],
    ['conflicts', report.conflicts],
    ['rejects', report.rejects],
    ['head position', report.headPosition],
    ['dead letters', report.deadLetters],
  ]);
  const byCount = (record: Readonly<Record<string, number>>) =>
    Object.entries(record).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  if (Object.keys(report.byType).length > 0) {
    lines.push('', 'by event type');
    table(byCount(report.byType).map(([type, n]) => [`  ${type}`, n]));
  }
  if (Object.keys(report.skipped).length > 0) {
    lines.push('', 'stored, not projected');
    table(byCount(report.skipped).map(([reason, n]) => [`  ${reason}`, n]));
  }
  if (report.projections.length > 0) {
    lines.push('', 'projections');
    table([
      ['  name', 'version', 'position', 'lag', 'dead letters'],
      ...report.projections.map((p) => [
        `  ${p.name}${p.partition === undefined ? '' : ` (partition ${p.partition})`}`,
        p.version,
        p.position,
        p.lag,
        p.deadLetters,
      ]),
    ]);
  }
  return `${lines.join('\n')}\n`;
}
