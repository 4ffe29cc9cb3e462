/** Runs node on a script as a real process, collecting its output; fails on a non-zero exit. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const TIME = '/usr/bin/time';
const RSS_MARK = 'bench-max-rss-kb=';

/**
 * `peakRssMb`: the process's own peak RSS, read through GNU time (`%M`) when it is installed;
 * undefined otherwise. Node cannot ask the kernel for a child's peak after it exits.
 */
export async function runNode(
  args: readonly string[],
  what: string,
): Promise<{ ms: number; stdout: string; peakRssMb?: number }> {
  const timed = existsSync(TIME);
  const [command, argv] = timed
    ? [TIME, ['-f', `${RSS_MARK}%M`, process.execPath, ...args]]
    : [process.execPath, [...args]];
  const start = performance.now();
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const ms = performance.now() - start;
  const rss = new RegExp(`${RSS_MARK}(\\d+)`).exec(err);
  if (rss) err = err.replace(rss[0], '');
  if (code !== 0) {
    throw new Error(
      `${what} exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return { ms, stdout: out, ...(rss ? { peakRssMb: Number(rss[1]) / 1024 } : {}) };
}
