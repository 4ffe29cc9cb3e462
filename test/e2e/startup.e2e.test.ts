/**
 * What a process loads before it does anything: the built package entry (what a library user
 * imports, and what every CLI command starts from) must not load rxjs's index, which requires the
 * whole library (225 files, about 40 ms of start-up; see src/engine/rx.ts).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

function loadedAfterImport(entry: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(join(ROOT, entry))});
    const cache = createRequire(import.meta.url).cache;
    process.stdout.write(JSON.stringify(Object.keys(cache)));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[];
}

describe('start-up', () => {
  it("loads rxjs's operators and classes it uses, not its index", () => {
    const loaded = loadedAfterImport('dist/src/index.js').filter((path) =>
      path.includes(`${join('node_modules', 'rxjs')}`),
    );
    // The engine does use rxjs: the check below must be looking at the right modules.
    expect(loaded.some((path) => path.endsWith(join('internal', 'Observable.js')))).toBe(true);
    expect(loaded.filter((path) => path.endsWith(join('cjs', 'index.js')))).toEqual([]);
    expect(loaded.length).toBeLessThan(60);
  });
});
