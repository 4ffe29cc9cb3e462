/** `truto-state rebuild [projection…]`: rebuild from the log into a shadow copy, then swap. */
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from '../command.js';
import { parseCommandArgs, readStoreConfig, STORE_USAGE, storeOptions } from '../config.js';
import type { RebuildReport } from '../../engine/types.js';
import { foldOnThread } from '../fold-thread.js';

export const command: Command = {
  summary:
    'truto-state rebuild: rebuild projections from the log (all stream projections by default)',
  usage: `Usage: truto-state rebuild [projection…] [options]

Folds the whole log into a shadow copy and swaps it in atomically: readers never see a
half-built state, and a rebuild interrupted midway leaves the live state as it was.
One rebuild runs at a time per store (a second one waits). On PostgreSQL, running serve
instances keep serving and projecting meanwhile and follow the rebuilt state after the swap.
Fails fast on an event a reducer cannot fold, with the event's id and position.

${STORE_USAGE}`,
  async run(context) {
    const { values, positionals } = parseCommandArgs(context.argv, storeOptions, true);
    const config = readStoreConfig(values, context.env);
    const bar = context.stderr.isTTY
      ? new SingleBar(
          {
            format: 'rebuild [{bar}] {percentage}% | {value}/{total} positions | {eta}s left',
            stream: context.stderr,
          },
          Presets.shades_classic,
        )
      : undefined;
    let started = false;
    let report: RebuildReport;
    try {
      report = await foldOnThread({ task: 'rebuild', config, names: positionals }, (progress) => {
        if (!bar) return;
        if (!started) {
          bar.start(progress.head, progress.position);
          started = true;
        }
        bar.update(Math.min(progress.position, progress.head));
      });
    } finally {
      if (started) bar?.stop();
    }
    const seconds = report.durationMs / 1000;
    const rate = seconds > 0 ? Math.round(report.events / seconds) : report.events;
    context.stdout.write(
      `rebuilt ${report.projections.join(', ')}: ${report.events} events to position ${report.position} in ${seconds.toFixed(2)} s (${rate} events/s)\n`,
    );
    return 0;
  },
};
