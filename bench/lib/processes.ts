/** Child servers for the HTTP benchmarks: start, wait until ready, stop (by pid, SIGTERM then SIGKILL). */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  stop(): Promise<void>;
}

export function start(args: readonly string[]): Running {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timeout = sleep(10_000).then(() => 'timeout');
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** A port that was free a moment ago (the kernel's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `url` until it answers 200 (the server is up), or fails after `timeoutMs`. */
export async function waitUntilUp(
  url: string,
  running: Running,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null)
      throw new Error(
        `server exited ${running.child.exitCode}: ${running.output().trim().split('\n').slice(-3).join(' | ')}`,
      );
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(
    `server not up after ${timeoutMs} ms: ${running.output().trim().split('\n').slice(-3).join(' | ')}`,
  );
}

/** The first line a child prints (the floor server prints its port). */
export async function firstLine(running: Running, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = running.output();
    const nl = text.indexOf('\n');
    if (nl !== -1) return text.slice(0, nl).trim();
    if (running.child.exitCode !== null) break;
    await sleep(20);
  }
  throw new Error(`no output from child: ${running.output()}`);
}
