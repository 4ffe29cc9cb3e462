/** The README's library example runs, and the README shows it as it is in examples/library.ts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { example } from '../examples/library.js';

const at = (seconds: number) => new Date(Date.UTC(2024, 8, 10, 12, 0, seconds)).toISOString();
const body = (id: string, event: string, seconds: number, status?: string) =>
  JSON.stringify({
    id,
    event: `integrated_account:${event}`,
    created_at: at(seconds),
    payload: { id: 'acc-1', ...(status ? { status } : {}) },
  });

describe('the README example', () => {
  it('ingests, queries, time-travels and watches', async () => {
    const result = await example([
      body('e1', 'created', 0, 'connecting'),
      body('e3', 'authentication_error', 40),
      body('e2', 'active', 20), // late
    ]);
    expect(result.account?.status).toBe('needs_reauth');
    expect(result.usable).toEqual([]);
    expect(result.before?.status).toBe('active');
    expect(result.history[0]).toBeUndefined();
    expect(result.history.at(-1)).toBe('needs_reauth');
  });

  it('is quoted verbatim in README.md', () => {
    const source = readFileSync(new URL('../examples/library.ts', import.meta.url), 'utf8');
    const snippet = /\/\/ README:start\n([\s\S]*?)\s*\/\/ README:end/.exec(source)?.[1];
    expect(snippet).toBeTruthy();
    const dedented = (snippet as string).replace(/^ {2}/gm, '');
    expect(readFileSync(new URL('../README.md', import.meta.url), 'utf8')).toContain(dedented);
  });
});
