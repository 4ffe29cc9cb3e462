/**
 * The first look: `npm start` (its command, in a fresh directory, no configuration) answers
 * /health, generates and keeps a webhook secret, and `truto-state demo` against it shows accounts
 * and runs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanEnv, CLI, getJson, REPO, runCli, startServe } from '../http/support/serve.js';

const cwd = mkdtempSync(join(tmpdir(), 'truto-first-look-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** `npm start`'s command line, with the CLI path made absolute (we run it from another directory). */
function startCommand(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const [node, script, ...args] = pkg.scripts.start!.split(/\s+/);
  expect(node).toBe('node');
  expect(join(REPO, script!)).toBe(CLI);
  return [CLI, ...args];
}

it('npm start answers /health on the embedded default; demo shows accounts and runs', async () => {
  // PORT=0: a free port (the default 8080 may be taken on this machine).
  const env = cleanEnv({ PORT: '0' });
  const served = await startServe([], { cwd, env, argv0: startCommand() });
  let secret: string;
  try {
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await getJson(served.url, '/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: 'ok', store: { kind: 'sqlite', ok: true } });
    expect(existsSync(join(cwd, 'data', 'truto-state.db'))).toBe(true);

    // No secret configured: one was generated, kept next to the database (0600) and printed.
    const secretFile = join(cwd, 'data', 'webhook-secret');
    secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f-]{36}$/);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(served.lines.join('\n')).toContain(secret);
    expect(served.lines.join('\n')).toMatch(/--secret|TRUTO_WEBHOOK_SECRETS/);

    const demo = await runCli(['demo', '--url', served.url, '--secret', secret], { cwd, env });
    expect(demo.code, demo.stderr).toBe(0);
    const accounts = /^accounts: (\d+) \((.+)\)$/m.exec(demo.stdout);
    const runs = /^runs: +(\d+) \((.+)\)$/m.exec(demo.stdout);
    expect(accounts, demo.stdout).not.toBeNull();
    expect(runs, demo.stdout).not.toBeNull();
    expect(Number(accounts![1])).toBeGreaterThan(0);
    expect(Number(runs![1])).toBeGreaterThan(0);
    // The history shows every account state, and failing and rate-limited runs.
    for (const status of [
      'connecting',
      'active',
      'reactivated',
      'needs_reauth',
      'post_install_error',
      'validation_error',
      'deleted',
    ]) {
      expect(accounts![2], status).toMatch(new RegExp(`\\b${status} \\d+`));
    }
    expect(runs![2]).toMatch(/\bfailed \d+/);
    expect(runs![2]).toMatch(/\brate_limited \d+/);
    expect(demo.stdout).toMatch(/posted 300 deliveries .*: \d+ stored/);
    expect(demo.stdout).toMatch(/runs \d+ \(\d+ completed, \d+ failed, \d+ running\)/);
    // What demo printed is what the API holds.
    const listed = await getJson(served.url, '/accounts?limit=1000');
    expect(listed.json.items).toHaveLength(Number(accounts![1]));
  } finally {
    expect(await served.stop('SIGINT')).toBe(0);
  }

  // Restarted, it reuses the kept secret.
  const again = await startServe([], { cwd, env, argv0: startCommand() });
  try {
    expect(readFileSync(join(cwd, 'data', 'webhook-secret'), 'utf8').trim()).toBe(secret);
    expect(again.lines.join('\n')).toContain(secret);
    const demo = await runCli(
      ['demo', '--url', again.url, '--secret', secret, '--events', '20', '--seed', '9'],
      { cwd, env },
    );
    expect(demo.code, demo.stderr).toBe(0);
  } finally {
    expect(await again.stop()).toBe(0);
  }
});

it('demo refuses to run without --url or --secret (usage error)', async () => {
  expect((await runCli(['demo', '--secret', 's'])).code).toBe(64);
  expect((await runCli(['demo', '--url', 'http://127.0.0.1:1'])).code).toBe(64);
});

it('demo reads through an API token', async () => {
  const served = await startServe([
    '--port',
    '0',
    '--db',
    join(cwd, 'token.db'),
    '--secret',
    's',
    '--api-token',
    'tok',
  ]);
  try {
    const without = await runCli(['demo', '--url', served.url, '--secret', 's', '--events', '30']);
    expect(without.code).not.toBe(0);
    const withToken = await runCli([
      'demo',
      '--url',
      served.url,
      '--secret',
      's',
      '--events',
      '30',
      '--api-token',
      'tok',
    ]);
    expect(withToken.code, withToken.stderr).toBe(0);
    expect(withToken.stdout).toMatch(/^accounts: \d+/m);
  } finally {
    await served.stop();
  }
});
