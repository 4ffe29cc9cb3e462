/** Runs a compiled bench child (`dist/bench/children/<name>.js`) and reads its JSON line. */
import { join } from 'node:path';
import { runNode } from './spawn.js';

export async function runChild<T>(root: string, name: string, args: readonly string[]): Promise<T> {
  const script = join(root, 'dist/bench/children', `${name}.js`);
  const { stdout } = await runNode(['--expose-gc', script, ...args], `${name} child`);
  const last = stdout.trim().split('\n').pop();
  if (!last) throw new Error(`${name} child printed nothing`);
  return JSON.parse(last) as T;
}
