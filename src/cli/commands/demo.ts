import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state demo (not built yet)',
  usage: 'Usage: truto-state demo',
  run: async (context) => {
    context.stderr.write('truto-state demo: not built yet\n');
    return 1;
  },
};
