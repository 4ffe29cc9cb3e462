/** The README's library example runs, and the README shows it as it is in examples/library.ts. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tenantHealthOf } from '../examples/derived-projection.js';
import { example } from '../examples/library.js';
import { AccountMirror } from '../examples/subscribe.js';
import { createMemoryEventStore, createTrutoEngine } from '../src/index.js';

const at = (seconds: number) => new Date(Date.UTC(2024, 8, 10, 12, 0, seconds)).toISOString();
const body = (id: string, event: string, seconds: number, status?: string) =>
  JSON.stringify({
    id,
    event: `integrated_account:${event}`,
    created_at: at(seconds),
    payload: { id: 'acc-1', ...(status ? { status } : {}) },
  });
const record = (id: string, event: string, seconds: number, name?: string) =>
  JSON.stringify({
    id,
    event: `record:${event}`,
    created_at: at(seconds),
    payload: {
      id: 'c-1',
      integrated_account_id: 'acc-1',
      resource: 'crm/contacts',
      ...(name ? { record: { id: 'c-1', name } } : {}),
    },
  });

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the README example', () => {
  it('ingests, queries, time-travels, watches, and folds a custom projection on payload fields', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'truto-state-example-'));
    dirs.push(dir);
    const result = await example(join(dir, 'app.db'), [
      body('e1', 'created', 0, 'connecting'),
      body('e3', 'authentication_error', 40),
      body('e2', 'active', 20), // late
      record('r1', 'created', 10, 'Ada Lovelace'),
    ]);
    expect(result.account?.status).toBe('needs_reauth');
    expect(result.usable).toEqual([]);
    expect(result.before?.status).toBe('active');
    expect(result.contact).toEqual({ id: 'c-1', name: 'Ada Lovelace', deleted: false });
    expect(result.history[0]).toBeUndefined();
    expect(result.history.at(-1)).toBe('needs_reauth');
  });

  it('is quoted in README.md as a complete program, with the package import paths', () => {
    const source = readFileSync(new URL('../examples/library.ts', import.meta.url), 'utf8');
    const snippet = /\/\/ README:start\n([\s\S]*?)\n\/\/ README:end/.exec(source)?.[1];
    expect(snippet).toBeTruthy();
    const published = (snippet as string)
      .replace("'../src/index.js'", "'truto-state'")
      .replace("'../src/store/sqlite/index.js'", "'truto-state/sqlite'");
    expect(published).toContain("from 'truto-state'");
    expect(readFileSync(new URL('../README.md', import.meta.url), 'utf8')).toContain(published);
  });
});

describe('the derived-projection example', () => {
  it('derives per-tenant health from the account states', async () => {
    const account = (id: string, event: string, seconds: number, account: string) =>
      JSON.stringify({
        id,
        event: `integrated_account:${event}`,
        created_at: at(seconds),
        payload: { id: account, tenant_id: 'tenant-1' },
      });
    const health = await tenantHealthOf(
      [
        account('a1', 'active', 1, 'acc-1'),
        account('a2', 'active', 2, 'acc-2'),
        account('a3', 'authentication_error', 3, 'acc-2'),
        JSON.stringify({
          id: 'a4',
          event: 'integrated_account:active',
          created_at: at(4),
          payload: { id: 'acc-3', tenant_id: 'tenant-2' },
        }),
      ],
      'tenant-1',
    );
    expect(health).toEqual({
      tenantId: 'tenant-1',
      accounts: 2,
      usable: 1,
      needsReauth: ['acc-2'],
    });
  });
});

describe('the subscribe example', () => {
  it('mirrors the accounts from the change stream, and reloads after a rebuild', async () => {
    const store = createMemoryEventStore();
    const engine = await createTrutoEngine({ store });
    try {
      await engine.ingest(body('e1', 'created', 0, 'connecting'));
      await engine.catchUp();
      const mirror = new AccountMirror(engine);
      await mirror.reload();
      expect(mirror.accounts.get('acc-1')?.status).toBe('connecting');
      await engine.ingest(body('e2', 'active', 10));
      await engine.catchUp();
      await waitFor(() => mirror.accounts.get('acc-1')?.status === 'active');
      await engine.rebuild(['accounts']);
      await engine.ingest(body('e3', 'authentication_error', 20));
      await engine.catchUp();
      await waitFor(() => mirror.accounts.get('acc-1')?.status === 'needs_reauth');
      expect(mirror.lastSeq).toBe(await engine.lastChangeSeq());
      mirror.stop();
    } finally {
      await engine.close();
      await store.close();
    }
  });
});

/** Lets deliveries run until the condition holds (bounded: fails rather than hangs). */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(condition()).toBe(true);
}
