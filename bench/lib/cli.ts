/** Runs `truto-state <args>` (the built CLI) as a real process, timed from spawn to exit. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export async function runCliTimed(
  root: string,
  args: readonly string[],
): Promise<{ ms: number; stdout: string }> {
  const main = join(root, 'dist/src/cli/main.js');
  const start = performance.now();
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const ms = performance.now() - start;
  if (code !== 0)
    throw new Error(
      `truto-state ${args[0]} exited ${code}: ${(err || out).trim().split('\n').slice(-2).join(' | ')}`,
    );
  return { ms, stdout: out };
}
