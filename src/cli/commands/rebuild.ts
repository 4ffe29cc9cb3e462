import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state rebuild (not built yet)',
  usage: 'Usage: truto-state rebuild',
  run: async (context) => {
    context.stderr.write('truto-state rebuild: not built yet\n');
    return 1;
  },
};
