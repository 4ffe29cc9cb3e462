/** Starts `sqlite-lock-holder.mjs`: a real second process holding a SQLite file's write lock. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HOLDER = fileURLToPath(new URL('./sqlite-lock-holder.mjs', import.meta.url));

export interface LockHolder {
  /** Ends the holder's transaction; resolves once it let go. */
  release(): Promise<void>;
}

/** Resolves once the other process holds `BEGIN IMMEDIATE` on `path`. */
export function holdWriteLock(path: string): Promise<LockHolder> {
  const child = spawn(process.execPath, [HOLDER, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const next = (expected: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const onLine = (line: string): void => {
        if (line !== expected) return;
        lines.off('line', onLine);
        resolve();
      };
      lines.on('line', onLine);
      child.once('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
    });
  const locked = next('locked');
  process.once('exit', () => child.kill('SIGKILL'));
  return locked.then(() => ({
    release: async () => {
      const released = next('released');
      child.stdin.write('release\n');
      await released;
    },
  }));
}
