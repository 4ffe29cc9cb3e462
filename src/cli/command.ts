/** The shape of a CLI command: a summary for `--help`, and `run` returning the exit code. */
import type { Writable } from 'node:stream';

export interface CommandContext {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); handlers are installed on first call. */
  readonly waitForStop: () => Promise<string>;
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(context: CommandContext): Promise<number>;
}

/** A usage error: printed with the command's usage, exit code 64 (EX_USAGE). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
