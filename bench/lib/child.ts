/** Runs a compiled bench child (`dist/bench/children/<name>.js`) and reads its JSON line. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export async function runChild<T>(root: string, name: string, args: readonly string[]): Promise<T> {
  const script = join(root, 'dist/bench/children', `${name}.js`);
  const child = spawn(process.execPath, ['--expose-gc', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0)
    throw new Error(
      `${name} child exited ${code}: ${err.trim().split('\n').slice(0, 3).join(' | ')}`,
    );
  const last = out.trim().split('\n').pop();
  if (!last) throw new Error(`${name} child printed nothing`);
  return JSON.parse(last) as T;
}
