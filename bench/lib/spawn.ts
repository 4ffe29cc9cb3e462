/** Runs node on a script as a real process, collecting its output; fails on a non-zero exit. */
import { spawn } from 'node:child_process';

export async function runNode(
  args: readonly string[],
  what: string,
): Promise<{ ms: number; stdout: string }> {
  const start = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const ms = performance.now() - start;
  if (code !== 0) {
    throw new Error(
      `${what} exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return { ms, stdout: out };
}
