/** `truto-state verify`: rebuild into scratch and compare with the live state, entity by entity. */
import type { Command } from '../command.js';
import { parseCommandArgs, readStoreConfig, STORE_USAGE, storeOptions } from '../config.js';
import { foldOnThread } from '../fold-thread.js';
import { writeLine } from '../output.js';

const options = { ...storeOptions, json: { type: 'boolean' } } as const;

export const command: Command = {
  summary:
    'truto-state verify: compare the live state with a fresh rebuild; exit 1 on any difference',
  usage: `Usage: truto-state verify [--json] [options]

Catches the live projections up, folds the whole log again into scratch memory, and compares
the two entity by entity. Prints each difference; exit 0 when none, 1 otherwise.

  --json                  print the report as JSON

${STORE_USAGE}`,
  async run(context) {
    const { values } = parseCommandArgs(context.argv, options);
    const report = await foldOnThread({
      task: 'verify',
      config: readStoreConfig(values, context.env),
    });
    if (values.json) {
      await writeLine(context.stdout, JSON.stringify(report));
    } else {
      for (const d of report.differences) {
        const detail = d.kind === 'different' ? ` fields: ${(d.fields ?? []).join(', ')}` : '';
        await writeLine(context.stdout, `${d.kind} ${d.projection} ${d.key}${detail}`);
        if (d.kind === 'different') {
          await writeLine(context.stdout, `  live:    ${JSON.stringify(d.live)}`);
          await writeLine(context.stdout, `  rebuilt: ${JSON.stringify(d.rebuilt)}`);
        }
      }
      await writeLine(
        context.stdout,
        `verified ${report.entities} entities at position ${report.position}: ${report.differences.length} difference(s)`,
      );
    }
    return report.differences.length === 0 ? 0 : 1;
  },
};
