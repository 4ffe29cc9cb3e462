/**
 * Runs the built CLI (`dist/src/cli/main.js`) as a real process. Tests that use it need
 * `npm run build` first (`npm test` does it through `pretest`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  /** The whole environment of the child (none by default), so the host's TRUTO_STATE_* never leak in. */
  readonly env?: Record<string, string>;
}

export function assertBuilt(): void {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: run \`npm run build\` first`);
}

/** Starts the CLI; the caller owns the process. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): ChildProcess {
  assertBuilt();
  return spawn(process.execPath, [CLI_MAIN, ...args], {
    cwd: options.cwd,
    env: { ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Waits for a started CLI to exit, with its output. */
export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return finished(spawnCli(args, options));
}
