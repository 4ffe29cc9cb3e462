/**
 * Test helpers for the built CLI as a real process: spawn `truto-state serve`, wait for the URL it
 * logs, stop it with a signal or SIGKILL; run one-shot commands; post signed webhooks over HTTP.
 *
 * Needs `npm run build` first (the e2e tier runs after it: `pretest`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { signBody } from '../../../src/http/signature.js';

export const CLI = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A clean environment: none of the service's variables leak in from the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

// Servers left running by a failed or timed-out test are killed when the test worker exits.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface Served {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every stdout/stderr line so far (pino JSON lines, mostly). */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}

/**
 * Spawns `truto-state serve <args>` and resolves once it logs the URL it listens on.
 *
 * @example
 * const served = await startServe(['--port', '0', '--db', db, '--secret', 's']);
 * await fetch(`${served.url}/health`);
 * await served.stop();
 */
export function startServe(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; argv0?: readonly string[] } = {},
): Promise<Served> {
  assertBuilt();
  const child = spawn(process.execPath, [...(options.argv0 ?? [CLI, 'serve']), ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const onLine = (line: string): void => {
      lines.push(line);
      // JSON lines (`…on http://…"`) and readable ones (`…on http://… {…}`) alike.
      const match = /listening on (http:\/\/[^\s"]+)/.exec(line);
      if (match?.[1]) {
        resolve({
          url: match[1],
          child,
          lines,
          exited,
          stop: (signal: NodeJS.Signals = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) =>
      reject(new Error(`serve exited (${code}) before listening:\n${lines.join('\n')}`)),
    );
  });
}

/** Runs a one-shot CLI command; resolves with its exit code and output. */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Posted {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
}

/** POSTs a body to the webhook, signed with `secret` unless a `signature` is given. */
export async function postWebhook(
  base: string,
  body: string | Uint8Array,
  options: { secret?: string; signature?: string; headers?: Record<string, string> } = {},
): Promise<Posted> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...options.headers,
  };
  const signature =
    options.signature ??
    (options.secret === undefined ? undefined : signBody(body, options.secret));
  if (signature !== undefined) headers['x-truto-signature'] = signature;
  const response = await fetch(`${base}/webhooks/truto`, { method: 'POST', headers, body });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** GETs JSON (with an optional bearer token). */
export async function getJson(
  base: string,
  path: string,
  token?: string,
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Prometheus text and the like stay text.
  }
  return { status: response.status, json };
}

/**
 * Polls /stats until every projection has caught up (/health is liveness only). Give the API
 * token of a server that has one.
 */
export async function waitCaughtUp(base: string, token?: string): Promise<void> {
  for (;;) {
    const { status, json } = await getJson(base, '/stats', token);
    if (status === 401) throw new Error('waitCaughtUp: this server needs its API token');
    if (json?.projections?.every((p: { lag: number }) => p.lag === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
