/** Runs `truto-state <args>` (the built CLI) as a real process, timed from spawn to exit. */
import { join } from 'node:path';
import { runNode } from './spawn.js';

export async function runCliTimed(
  root: string,
  args: readonly string[],
): Promise<{ ms: number; stdout: string; peakRssMb?: number }> {
  return runNode([join(root, 'dist/src/cli/main.js'), ...args], `truto-state ${args[0] ?? ''}`);
}
