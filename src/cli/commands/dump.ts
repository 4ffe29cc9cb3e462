/** `truto-state dump <projection>`: catch up, then every state as NDJSON, sorted by key. */
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { parseCommandArgs, readStoreConfig, STORE_USAGE, storeOptions } from '../config.js';
import { writeLine } from '../output.js';
import { openSession, projectionNamed } from '../session.js';

export const command: Command = {
  summary:
    "truto-state dump: print a projection's state as NDJSON, one object per line, sorted by key",
  usage: `Usage: truto-state dump <accounts|runs|account-sync|records> [options]

Catches the projections up to the head of the log first.

${STORE_USAGE}`,
  async run(context) {
    const { values, positionals } = parseCommandArgs(context.argv, storeOptions, true);
    const [projection, ...extra] = positionals;
    if (projection === undefined || extra.length > 0) {
      throw new UsageError('name exactly one projection');
    }
    const session = await openSession(readStoreConfig(values, context.env));
    try {
      const { engine } = session;
      const name = projectionNamed(engine, projection);
      await engine.catchUp();
      let afterKey: string | undefined;
      for (;;) {
        const page = await engine.list(name, {
          limit: 1_000,
          ...(afterKey === undefined ? {} : { afterKey }),
        });
        for (const item of page.items) await writeLine(context.stdout, JSON.stringify(item));
        if (page.nextKey === undefined) break;
        afterKey = page.nextKey;
      }
      return 0;
    } finally {
      await session.close();
    }
  },
};
