/**
 * The import's progress bar: drawn on stderr only when stderr is a terminal. Runs the command in
 * process with a stream that says it is a TTY (a real terminal cannot be had in CI).
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { command } from '../../src/cli/commands/import.js';
import type { CommandContext } from '../../src/cli/command.js';
import { createTempDir, type TempDir } from '../support/temp.js';
import { trutoHistory, writeNdjson } from '../support/truto.js';

function capture(isTTY: boolean): Writable & { isTTY: boolean; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return Object.assign(stream, { isTTY, columns: 100, text: () => chunks.join('') });
}

describe('truto-state import progress', () => {
  let tmp: TempDir;
  beforeEach(async () => {
    tmp = await createTempDir('truto-state-progress-');
    await writeNdjson(tmp.path('events.ndjson'), trutoHistory({ accounts: 2, seed: 3 }));
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  const run = async (isTTY: boolean) => {
    const stdout = capture(false);
    const stderr = capture(isTTY);
    const context: CommandContext = {
      argv: [tmp.path('events.ndjson'), '--db', tmp.path(`log-${String(isTTY)}.db`)],
      env: {},
      stdout,
      stderr,
      waitForStop: () => new Promise(() => {}),
    };
    const code = await command.run(context);
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };

  it('draws a byte progress bar on a terminal', async () => {
    const result = await run(true);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('importing |');
    expect(result.stderr).toContain('100%');
    expect(result.stdout).toContain('stored');
  });

  it('stays silent on stderr when it is not a terminal', async () => {
    const result = await run(false);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});
