import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state serve (not built yet)',
  usage: 'Usage: truto-state serve',
  run: async (context) => {
    context.stderr.write('truto-state serve: not built yet\n');
    return 1;
  },
};
