/** The service's log lines: readable on a terminal, JSON in a pipe or when asked. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat } from '../../src/cli/log.js';

function capture(isTTY: boolean): Writable & { isTTY: boolean; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return Object.assign(stream, { isTTY, lines });
}

async function logOnce(isTTY: boolean, format: LogFormat | undefined): Promise<string[]> {
  const stream = capture(isTTY);
  (await createLogger({ level: 'info', format, stream })).info(
    { url: 'http://x' },
    'listening on http://x',
  );
  return stream.lines;
}

describe('createLogger', () => {
  it('writes readable lines on a terminal: time, level, message, then the fields', async () => {
    const [line] = await logOnce(true, undefined);
    // eslint-disable-next-line no-control-regex
    const plain = line!.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening on http:\/\/x /);
    expect(plain).toContain('"url":"http://x"');
  });

  it('writes JSON when not on a terminal, or on a terminal when asked', async () => {
    for (const [tty, format] of [
      [false, undefined],
      [true, 'json'],
    ] as const) {
      const [line] = await logOnce(tty, format);
      expect(JSON.parse(line!)).toMatchObject({
        level: 30,
        msg: 'listening on http://x',
        url: 'http://x',
      });
    }
  });

  it('writes readable lines into a pipe when asked, without colour codes', async () => {
    const [line] = await logOnce(false, 'pretty');
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening on http:\/\/x /);
    expect(line).not.toContain('\u001b[');
  });
});
