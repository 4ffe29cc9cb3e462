/**
 * truto-state: the composition root. Reads argv and env (nowhere else does), picks the command,
 * and maps outcomes to exit codes: 0 ok, 1 failure or differences found, 2 some input rejected,
 * 64 usage error.
 */
import type { Command, CommandContext } from './command.js';
import { UsageError } from './command.js';

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  serve: () => import('./commands/serve.js'),
  import: () => import('./commands/import.js'),
  stats: () => import('./commands/stats.js'),
  dump: () => import('./commands/dump.js'),
  rebuild: () => import('./commands/rebuild.js'),
  verify: () => import('./commands/verify.js'),
  demo: () => import('./commands/demo.js'),
};

const HELP = `truto-state: what state your Truto integrations are in, from their webhooks.

Usage: truto-state <command> [options]

Commands:
  serve      run the webhook receiver, read API, change stream and metrics
  import     append raw webhook bodies from an NDJSON file
  stats      events stored, duplicates, conflicts, rejects, projection positions
  dump       print a projection's state as NDJSON, sorted by key
  rebuild    rebuild projections from the log
  verify     rebuild into scratch and compare with the live state
  demo       post a realistic signed history to a running server

Run 'truto-state <command> --help' for a command's options.`;

export async function main(
  argv: readonly string[],
  context: Omit<CommandContext, 'argv'>,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    context.stdout.write(`${HELP}\n`);
    return name === undefined ? 64 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    context.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    context.stderr.write(`truto-state: unknown command "${name}"\n\n${HELP}\n`);
    return 64;
  }
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    context.stdout.write(`${command.summary}\n\n${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run({ ...context, argv: rest });
  } catch (error) {
    if (error instanceof UsageError) {
      context.stderr.write(`truto-state ${name}: ${error.message}\n\n${command.usage}\n`);
      return 64;
    }
    context.stderr.write(`truto-state ${name}: ${describe(error)}\n`);
    return 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
