#!/usr/bin/env node
/** The `truto-state` binary: hands argv, env and the standard streams to the CLI. */
import { main } from './run.js';

let stopping: Promise<string> | undefined;

/** Installs SIGINT/SIGTERM handlers only for commands that ask to stop gracefully. */
function waitForStop(): Promise<string> {
  stopping ??= new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  return stopping;
}

// `truto-state dump accounts | head`: a reader that goes away is not an error worth a trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  waitForStop,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`truto-state: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
