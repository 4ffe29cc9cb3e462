/**
 * The layering, enforced: the generic core (engine, store port and adapters) imports nothing of
 * the Truto domain, the service or the CLI; drivers are imported only inside their adapter; only
 * the CLI reads the environment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every module specifier a file imports, statically or dynamically. */
function specifiers(file: string): string[] {
  // Comments hold examples (`import('better-sqlite3')` in a JSDoc): only code counts.
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const found = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm),
    ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ];
  return found.map((match) => match[1] as string);
}

/** The `src/` folder a relative specifier lands in (`truto`, `engine`, …), or null. */
function layerOf(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const target = relative(SRC, resolve(dirname(file), specifier));
  return target.startsWith('..') ? null : (target.split(/[\\/]/)[0] ?? null);
}

const rel = (file: string) => relative(SRC, file);

describe('layering', () => {
  it('the core (engine, store) imports nothing of truto, http, cli or workload', () => {
    const core = [...sources(join(SRC, 'engine')), ...sources(join(SRC, 'store'))];
    expect(core.length).toBeGreaterThan(20);
    const violations = core.flatMap((file) =>
      specifiers(file)
        .filter((s) => ['truto', 'http', 'cli', 'workload'].includes(layerOf(file, s) ?? ''))
        .map((s) => `${rel(file)} imports ${s}`),
    );
    expect(violations).toEqual([]);
  });

  it('the Truto domain imports the core only through its modules, never the service or CLI', () => {
    const violations = sources(join(SRC, 'truto')).flatMap((file) =>
      specifiers(file)
        .filter((s) => ['http', 'cli', 'workload'].includes(layerOf(file, s) ?? ''))
        .map((s) => `${rel(file)} imports ${s}`),
    );
    expect(violations).toEqual([]);
  });

  it('drivers are imported only inside their adapter', () => {
    const adapterOf: Record<string, string> = {
      'better-sqlite3': 'store/sqlite/',
      pg: 'store/postgres/',
      '@kurrent/kurrentdb-client': 'store/kurrentdb/',
    };
    const violations = sources(SRC).flatMap((file) =>
      specifiers(file)
        .filter((s) => s in adapterOf && !rel(file).startsWith(adapterOf[s] as string))
        .map((s) => `${rel(file)} imports ${s}`),
    );
    expect(violations).toEqual([]);
  });

  it('only the CLI reads the environment or argv', () => {
    const violations = sources(SRC)
      .filter((file) => !rel(file).startsWith('cli/'))
      .filter((file) => /process\.(env|argv)\b/.test(readFileSync(file, 'utf8')))
      .map(rel);
    expect(violations).toEqual([]);
  });
});
