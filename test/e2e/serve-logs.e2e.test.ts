/** `serve` logs: JSON lines into a pipe, readable lines with `--log-format pretty`, usage error otherwise. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli, startServe } from '../http/support/serve.js';

const dir = mkdtempSync(join(tmpdir(), 'truto-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const args = ['--port', '0', '--db', join(dir, 'logs.db'), '--secret', 's'];

it('writes JSON lines into a pipe, and readable lines when asked', async () => {
  const json = await startServe(args);
  await json.stop();
  expect(JSON.parse(json.lines.find((l) => l.includes('listening on'))!)).toMatchObject({
    level: 30,
    url: json.url,
  });

  const pretty = await startServe([...args, '--log-format', 'pretty']);
  await pretty.stop();
  const line = pretty.lines.find((l) => l.includes('listening on'))!;
  expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening on http:\/\/127\.0\.0\.1:\d+ /);
  expect(pretty.lines.some((l) => l.startsWith('{'))).toBe(false);
});

it('refuses an unknown log format', async () => {
  const result = await runCli(['serve', ...args, '--log-format', 'xml']);
  expect(result.code).toBe(64);
  expect(result.stderr).toMatch(/--log-format must be one of pretty, json/);
});
