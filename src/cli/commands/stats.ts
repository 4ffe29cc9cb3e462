import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state stats (not built yet)',
  usage: 'Usage: truto-state stats',
  run: async (context) => {
    context.stderr.write('truto-state stats: not built yet\n');
    return 1;
  },
};
