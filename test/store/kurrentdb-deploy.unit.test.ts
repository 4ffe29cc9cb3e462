/**
 * docker-compose.yml and the Dockerfile, checked without Docker (no engine runs here): the compose
 * file parses, names KurrentDB, PostgreSQL and the service, and configures the service for
 * KurrentDB with the env names the CLI actually reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serveOptions } from '../../src/cli/commands/serve.js';
import { parseCommandArgs, readStoreConfig } from '../../src/cli/config.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

type Yaml = string | null | Yaml[] | { [key: string]: Yaml };

/**
 * A small block-YAML reader, enough for the compose file's subset: nested mappings, sequences of
 * scalars, plain / single-quoted / double-quoted scalars, full-line comments. Anything outside
 * that subset throws, so the test fails rather than reading the file wrongly.
 */
function parseYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, index) => ({ raw, number: index + 1 }))
    .filter(({ raw }) => raw.trim() !== '' && !raw.trimStart().startsWith('#'))
    .map(({ raw, number }) => {
      if (raw.includes('\t')) throw new Error(`line ${number}: tab`);
      return { indent: raw.length - raw.trimStart().length, text: raw.trim(), number };
    });
  let i = 0;

  function scalar(value: string, number: number): string {
    if (value.startsWith('"')) {
      if (!value.endsWith('"') || value.length < 2)
        throw new Error(`line ${number}: unterminated "`);
      return JSON.parse(value) as string;
    }
    if (value.startsWith("'")) {
      if (!value.endsWith("'") || value.length < 2)
        throw new Error(`line ${number}: unterminated '`);
      return value.slice(1, -1).replace(/''/g, "'");
    }
    if (/^[[{&*!|>%@`]/.test(value) || value.includes(': ') || value.includes(' #')) {
      throw new Error(`line ${number}: outside the supported subset: ${value}`);
    }
    return value;
  }

  function block(indent: number): Yaml {
    const first = lines[i];
    if (!first || first.indent < indent) return null;
    if (first.text.startsWith('- ')) {
      const list: Yaml[] = [];
      while (lines[i] && lines[i]!.indent === first.indent && lines[i]!.text.startsWith('- ')) {
        list.push(scalar(lines[i]!.text.slice(2).trim(), lines[i]!.number));
        i += 1;
      }
      return list;
    }
    const map: Record<string, Yaml> = {};
    while (lines[i] && lines[i]!.indent === first.indent) {
      const { text: line, number } = lines[i]!;
      const match = /^([A-Za-z0-9_.-]+):(?: (.*))?$/.exec(line);
      if (!match) throw new Error(`line ${number}: not a mapping entry: ${line}`);
      const key = match[1]!;
      if (key in map) throw new Error(`line ${number}: duplicate key ${key}`);
      i += 1;
      const rest = match[2]?.trim();
      map[key] = rest
        ? scalar(rest, number)
        : lines[i] && lines[i]!.indent > first.indent
          ? block(lines[i]!.indent)
          : null;
    }
    if (lines[i] && lines[i]!.indent > first.indent)
      throw new Error(`line ${lines[i]!.number}: bad indentation`);
    return map;
  }

  const doc = block(0);
  if (i !== lines.length) throw new Error(`line ${lines[i]!.number}: unexpected`);
  return doc;
}

const asMap = (value: Yaml | undefined): Record<string, Yaml> => {
  if (value === null || value === undefined || typeof value === 'string' || Array.isArray(value))
    throw new Error('not a mapping');
  return value;
};

describe('docker-compose.yml', () => {
  const compose = asMap(parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8')));
  const services = asMap(compose.services);

  it('the reader rejects what it does not understand', () => {
    expect(() => parseYaml('a: [1, 2]')).toThrow();
    expect(() => parseYaml('a:\n  b: 1\n c: 2')).toThrow();
    expect(parseYaml('a:\n  b: "x: y"\n  c:\n    - \'1\'\n')).toEqual({
      a: { b: 'x: y', c: ['1'] },
    });
  });

  it('runs KurrentDB as a single insecure node with projections off, with a health check and a volume', () => {
    const kurrent = asMap(services.kurrentdb);
    expect(kurrent.image).toMatch(
      /^(docker\.kurrent\.io\/kurrent-latest\/kurrentdb|kurrentplatform\/kurrentdb)(:|$)/,
    );
    const env = asMap(kurrent.environment);
    expect(env).toMatchObject({
      KURRENTDB_INSECURE: 'true',
      KURRENTDB_CLUSTER_SIZE: '1',
      KURRENTDB_RUN_PROJECTIONS: 'None',
    });
    expect(asMap(kurrent.healthcheck).test).toContain('2113/health/live');
    expect(kurrent.volumes).toContain('kurrentdb-data:/var/lib/kurrentdb');
  });

  it('runs PostgreSQL with a health check and a volume', () => {
    const postgres = asMap(services.postgres);
    expect(postgres.image).toMatch(/^postgres:/);
    expect(asMap(postgres.healthcheck).test).toContain('pg_isready');
    expect(postgres.volumes).toContain('postgres-data:/var/lib/postgresql/data');
  });

  it('builds truto-state from the Dockerfile and configures it for KurrentDB, once its stores are healthy', () => {
    const service = asMap(services['truto-state']);
    expect(service.build).toBe('.');
    const env = asMap(service.environment);
    expect(env.TRUTO_STATE_STORE).toBe('kurrentdb');
    expect(env.KURRENTDB_URL).toBe('kurrentdb://kurrentdb:2113?tls=false');
    expect(env.TRUTO_STATE_PG_URL).toMatch(/@postgres:5432\//);
    expect(env.HOST).toBe('0.0.0.0');
    // Secrets come from the caller's environment, never from the file.
    expect(env.TRUTO_WEBHOOK_SECRETS).toMatch(/^\$\{TRUTO_WEBHOOK_SECRETS:\?/);
    expect(env.TRUTO_STATE_API_TOKEN).toMatch(/^\$\{TRUTO_STATE_API_TOKEN:\?/);
    const depends = asMap(service.depends_on);
    expect(asMap(depends.kurrentdb).condition).toBe('service_healthy');
    expect(asMap(depends.postgres).condition).toBe('service_healthy');
    expect(asMap(service.healthcheck).test).toContain('/health');
    expect(service.volumes).toContain('truto-state-data:/data');
    expect(Object.keys(asMap(compose.volumes)).sort()).toEqual([
      'kurrentdb-data',
      'kurrentdb-logs',
      'postgres-data',
      'truto-state-data',
    ]);
  });

  it('uses only env names the CLI reads', () => {
    const cli = readdirSync(join(root, 'src/cli'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(root, 'src/cli', f), 'utf8'))
      .join('\n');
    for (const name of Object.keys(asMap(asMap(services['truto-state']).environment))) {
      expect(cli, name).toContain(`env.${name}`);
    }
  });
});

describe('docker-compose.yml: scale-out on PostgreSQL', () => {
  const compose = asMap(parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8')));
  const services = asMap(compose.services);
  const instances = Object.keys(services).filter((name) => name.startsWith('truto-state-pg-'));

  it('defines three instances under the scale-out profile, each on its own host port', () => {
    expect(instances).toEqual(['truto-state-pg-1', 'truto-state-pg-2', 'truto-state-pg-3']);
    const ports = instances.map((name) => {
      const service = asMap(services[name]);
      expect(service.profiles).toEqual(['scale-out']);
      expect(service.build).toBe('.');
      expect(asMap(asMap(service.depends_on).postgres).condition).toBe('service_healthy');
      expect(asMap(service.healthcheck).test).toContain('/health');
      return service.ports;
    });
    expect(ports).toEqual([['8081:8080'], ['8082:8080'], ['8083:8080']]);
  });

  it("runs `serve` with flags the CLI's own parser accepts: one database, one partition count", () => {
    const configs = instances.map((name) => {
      const service = asMap(services[name]);
      const command = service.command as string[];
      expect(command[0]).toBe('serve');
      // Strict parsing: an unknown or misspelt flag throws here as it would in the container.
      const { values } = parseCommandArgs(command.slice(1), serveOptions);
      const env = asMap(service.environment) as Record<string, string>;
      expect(env.TRUTO_WEBHOOK_SECRETS).toMatch(/^\$\{TRUTO_WEBHOOK_SECRETS:\?/);
      expect(env.TRUTO_STATE_API_TOKEN).toMatch(/^\$\{TRUTO_STATE_API_TOKEN:\?/);
      expect(values.host).toBe('0.0.0.0');
      expect(values.port).toBe('8080');
      return readStoreConfig(values, env);
    });
    for (const config of configs) {
      expect(config).toMatchObject({ kind: 'postgres' });
      // No count given: each instance takes the one the database has, so they all agree.
      expect(config.partitions).toBeUndefined();
      expect(config.pgUrl).toBe(configs[0]?.pgUrl);
      expect(config.pgUrl).toMatch(/@postgres:5432\//);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

  it('builds on node:20-slim with npm ci, compiles better-sqlite3 and runs `serve` on 0.0.0.0', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
    expect(dockerfile).toMatch(/npm ci\b/);
    expect(dockerfile).toMatch(/npm rebuild better-sqlite3/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/src\/cli\/main\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('keeps the PostgreSQL and KurrentDB drivers (dev dependencies here) in the image', () => {
    // Runs the Dockerfile's own manifest edit on a copy of package.json, as the build stage does
    // before `npm install --omit=dev`.
    const script = /node -e "([^"]*)"/.exec(dockerfile.replace(/\\\n/g, ''))?.[1];
    expect(script).toBeDefined();
    expect(dockerfile).toMatch(/npm install --omit=dev/);
    const dir = mkdtempSync(join(tmpdir(), 'truto-state-docker-'));
    try {
      writeFileSync(join(dir, 'package.json'), readFileSync(join(root, 'package.json')));
      execFileSync(process.execPath, ['-e', script ?? ''], { cwd: dir });
      const image = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      for (const driver of ['pg', '@kurrent/kurrentdb-client']) {
        expect(image.dependencies[driver], driver).toBeDefined();
        expect(image.devDependencies[driver], driver).toBeUndefined();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('points at the binary package.json declares', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin['truto-state']).toBe('dist/src/cli/main.js');
  });
});
