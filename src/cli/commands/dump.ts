import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state dump (not built yet)',
  usage: 'Usage: truto-state dump',
  run: async (context) => {
    context.stderr.write('truto-state dump: not built yet\n');
    return 1;
  },
};
