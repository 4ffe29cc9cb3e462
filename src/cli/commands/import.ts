import type { Command } from '../command.js';

export const command: Command = {
  summary: 'truto-state import (not built yet)',
  usage: 'Usage: truto-state import',
  run: async (context) => {
    context.stderr.write('truto-state import: not built yet\n');
    return 1;
  },
};
