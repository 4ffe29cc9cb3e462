import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state verify (not built yet)',
  usage: 'Usage: truto-state verify',
  run: async (context) => {
    context.stderr.write('truto-state verify: not built yet\n');
    return 1;
  },
};
