/** Temporary directories under the OS temp dir, removed by the returned cleanup. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly dir: string;
  /** A path inside the directory. */
  path(name: string): string;
  cleanup(): Promise<void>;
}

export async function createTempDir(prefix = 'truto-state-'): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    path: (name) => join(dir, name),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
