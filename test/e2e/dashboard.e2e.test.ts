/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * `truto-state serve` on a real port, filled by `truto-state demo`. Everything the page shows is
 * compared with what the API answers at that moment; nothing is waited for by time, only by
 * condition. Every page is watched: a console error, a failed request or an error response
 * that the test did not announce fails it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumAvailable,
  launchChromium,
  NO_CHROMIUM,
  watchPage,
  type PageWatch,
} from '../support/browser.js';
import {
  getJson,
  postWebhook,
  REPO,
  runCli,
  startServe,
  waitCaughtUp,
  type Served,
} from '../http/support/serve.js';
import { accountEvent } from '../http/support/webhooks.js';

const SECRET = 'dashboard-secret';
const TOKEN = 'dashboard-token-1234';
const ACCOUNT_STATUSES = [
  'connecting',
  'active',
  'reactivated',
  'needs_reauth',
  'post_install_error',
  'validation_error',
  'deleted',
];
const RUN_STATUSES = ['created', 'running', 'rate_limited', 'completed', 'failed', 'stopped'];
const DOCS = join(REPO, 'docs');

// The functions given to `page.evaluate` and `waitForFunction` run in the page, where these
// globals exist; the test program itself is typed without the DOM.
interface PageElement {
  readonly id: string;
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  readonly activeElement: PageElement | null;
  readonly body: PageElement;
  readonly cookie: string;
};
declare function getComputedStyle(element: PageElement): { readonly backgroundColor: string };
declare const window: Record<string, unknown>;
declare const location: { readonly hash: string };

interface AccountState {
  id: string;
  status: string;
  firstSeenAt: string;
  lastEventAt: string;
  transitions: { from: string; to: string; at: string; event: string }[];
}

/** Every item of a list route, following `next`. */
async function listAll<T>(base: string, path: string, token?: string): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const cursor = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    const { status, json } = await getJson(base, `${path}${sep}limit=1000${cursor}`, token);
    expect(status).toBe(200);
    items.push(...(json.items as T[]));
    after = json.next as string | null;
  } while (after !== null);
  return items;
}

/** The number shown in an element (`1,234` reads 1234). */
async function shownNumber(page: Page, selector: string): Promise<number> {
  return Number((await page.locator(selector).textContent())!.replace(/[^\d]/g, ''));
}

if (!chromiumAvailable()) {
  describe('dashboard in a browser', () => {
    // Printed at collection so the run's output says so, not only the skip count.
    console.warn(`[dashboard] ${NO_CHROMIUM}. The browser tests of the dashboard were skipped.`);
    it('runs in Chromium', (context) => context.skip(NO_CHROMIUM));
  });
} else {
  let dir: string;
  let served: Served;
  let browser: Browser;
  let context: BrowserContext;
  const opened: { page: Page; watch: PageWatch }[] = [];

  const open = async (ctx: BrowserContext = context): Promise<{ page: Page; watch: PageWatch }> => {
    const page = await ctx.newPage();
    const watch = watchPage(page);
    opened.push({ page, watch });
    return { page, watch };
  };

  /**
   * Stops watching the pages opened so far, then closes them (each holds a change stream: none
   * is left open for the next test). Resolves with what went wrong in them, unannounced.
   */
  const settle = async (): Promise<string[]> => {
    const problems: string[] = [];
    for (const { page, watch } of opened.splice(0)) {
      watch.stop();
      problems.push(...watch.unexpected());
      await page.close();
    }
    return problems;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'truto-dashboard-'));
    served = await startServe(['--port', '0', '--db', join(dir, 'd.db'), '--secret', SECRET]);
    const demo = await runCli(['demo', '--url', served.url, '--secret', SECRET]);
    expect(demo.code, demo.stderr).toBe(0);
    await waitCaughtUp(served.url);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });

  afterEach(async () => {
    // No console error, no failed request, no error response the test did not announce.
    expect(await settle()).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    if (served) expect(await served.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('dashboard in a browser', () => {
    it('serves the page with a CSP that allows no inline script or style, and hashed assets cached for good', async () => {
      const response = await fetch(`${served.url}/`);
      expect(response.status).toBe(200);
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/style-src 'self'(;|$)/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      const html = await response.text();
      expect(html).not.toMatch(/<script>|<style|style=/);
      const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length).toBeGreaterThanOrEqual(2);
      for (const asset of assets) {
        const file = await fetch(`${served.url}${asset}`);
        expect(file.status).toBe(200);
        expect(file.headers.get('cache-control')).toContain('immutable');
        const again = await fetch(`${served.url}${asset}`, {
          headers: { 'if-none-match': file.headers.get('etag')! },
        });
        expect(again.status).toBe(304);
      }
    });

    it('overview: counts equal /stats and the /accounts and /runs filters', async () => {
      const { page } = await open();
      await page.goto(`${served.url}/`);
      await page.locator('[data-count-status]').first().waitFor();

      for (const status of ACCOUNT_STATUSES) {
        const api = await listAll<AccountState>(served.url, `/accounts?status=${status}`);
        // The demo history shows every state the product knows.
        expect(api.length, status).toBeGreaterThan(0);
        expect(await shownNumber(page, `[data-count-status=${status}] .count`), status).toBe(
          api.length,
        );
      }
      const runs = await listAll<{ status: string; createdAt: string }>(served.url, '/runs');
      const dayAgo = Date.now() - 24 * 60 * 60 * 1000;
      for (const status of RUN_STATUSES) {
        const recent = runs.filter((r) => r.status === status && Date.parse(r.createdAt) >= dayAgo);
        expect(await shownNumber(page, `[data-run-status=${status}] .count`), status).toBe(
          recent.length,
        );
      }
      const stats = (await getJson(served.url, '/stats')).json;
      expect(await shownNumber(page, '[data-stat=events]')).toBe(stats.store.events);
      expect(await shownNumber(page, '[data-stat=conflicts]')).toBe(stats.store.conflicts);
      expect(await shownNumber(page, '[data-stat=rejects]')).toBe(stats.store.rejects);
      expect(await shownNumber(page, '[data-stat=duplicates]')).toBe(stats.store.duplicates);
      const deadLetters = stats.projections.reduce(
        (n: number, p: { deadLetters: number }) => n + p.deadLetters,
        0,
      );
      expect(await shownNumber(page, '[data-stat=deadLetters]')).toBe(deadLetters);

      // The attention list: accounts needing re-authorization first, then install errors.
      const attention = (
        await Promise.all(
          ['needs_reauth', 'post_install_error', 'validation_error'].map((s) =>
            listAll<AccountState>(served.url, `/accounts?status=${s}`),
          ),
        )
      )
        .flat()
        .slice(0, 20)
        .map((a) => a.id);
      expect(
        await page.locator('[data-testid=attention] tbody tr td:first-child').allTextContents(),
      ).toEqual(attention);

      // Status is carried by words and an icon, not by colour alone.
      for (const badge of await page.locator('[data-count-status] .badge').allTextContents())
        expect(badge).toMatch(/^\S+ [A-Z][a-z-]+/);

      mkdirSync(DOCS, { recursive: true });
      await page.screenshot({ path: join(DOCS, 'dashboard-overview.png'), fullPage: true });

      // Dark follows the system setting.
      const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const light = await background();
      await page.emulateMedia({ colorScheme: 'dark' });
      expect(await background()).not.toBe(light);
      await page.emulateMedia({ colorScheme: 'light' });
    });

    it('accounts: the status filter lists what /accounts?status= lists, and "/" jumps to the search', async () => {
      const { page } = await open();
      // From the overview by keyboard: a status card is a link to the accounts in that status.
      await page.goto(`${served.url}/`);
      await page.focus('[data-count-status=validation_error]');
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.hash === '#/accounts?status=validation_error');
      const invalid = await listAll<AccountState>(served.url, '/accounts?status=validation_error');
      await page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid=accounts] tbody tr').length === n,
        invalid.length,
      );
      expect(
        await page.locator('[data-testid=accounts] tbody tr td:first-child').allTextContents(),
      ).toEqual(invalid.map((a) => a.id));
      // The new page's heading has the focus, for screen readers and the next Tab.
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Accounts');

      await page.selectOption('#f-status', 'needs_reauth');
      await page.waitForFunction(() => location.hash.includes('status=needs_reauth'));
      const expected = (
        await listAll<AccountState>(served.url, '/accounts?status=needs_reauth')
      ).map((a) => a.id);
      await page.waitForFunction(
        (n) =>
          document.querySelectorAll('[data-testid=accounts] tbody tr').length === n &&
          [...document.querySelectorAll('[data-testid=accounts] [data-status]')].every(
            (e) => (e as unknown as PageElement).dataset.status === 'needs_reauth',
          ),
        expected.length,
      );
      expect(
        await page.locator('[data-testid=accounts] tbody tr td:first-child').allTextContents(),
      ).toEqual(expected);
      await page.locator('body').focus();
      await page.keyboard.press('/');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('f-q');

      // The id search: every account whose id starts with what was typed, and only those.
      await page.selectOption('#f-status', '');
      await page.waitForURL((u) => !u.hash.includes('status='));
      const all = (await listAll<AccountState>(served.url, '/accounts')).map((a) => a.id);
      const prefix = all[Math.floor(all.length / 2)]!.slice(0, 2);
      const matching = all.filter((id) => id.startsWith(prefix)).slice(0, 50);
      await page.fill('#f-q', prefix);
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.hash.includes(`q=${prefix}`));
      await page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid=accounts] tbody tr').length === n,
        matching.length,
      );
      expect(
        await page.locator('[data-testid=accounts] tbody tr td:first-child').allTextContents(),
      ).toEqual(matching);
    });

    it('account page: status and timeline match /accounts/:id; time travel shows exactly /accounts/:id?at=', async () => {
      const [reactivated] = await listAll<AccountState>(served.url, '/accounts?status=reactivated');
      const id = reactivated!.id;
      const account = (await getJson(served.url, `/accounts/${id}`)).json as AccountState;
      expect(account.transitions.length).toBeGreaterThanOrEqual(3);
      const { page } = await open();
      await page.goto(`${served.url}/#/accounts/${encodeURIComponent(id)}`);
      await page.locator('[data-testid=current] [data-status]').waitFor();
      expect(await page.getAttribute('[data-testid=current] [data-status]', 'data-status')).toBe(
        account.status,
      );
      const segments = page.locator('[data-testid=status-segments] li');
      expect(
        await segments.evaluateAll((items) =>
          items.map((li) => (li as unknown as PageElement).dataset.status),
        ),
      ).toEqual([account.transitions[0]!.from, ...account.transitions.map((t) => t.to)]);
      expect(
        await segments.evaluateAll((items) =>
          items.map((li) => (li as unknown as PageElement).dataset.from),
        ),
      ).toEqual([account.firstSeenAt, ...account.transitions.map((t) => t.at)]);
      const runs = await listAll<{ id: string }>(served.url, `/runs?account=${id}`);
      expect(await page.locator('[data-testid=runs] tbody tr').count()).toBe(runs.length);

      // Moments inside each status the account went through: before, between and after transitions.
      const times = [account.firstSeenAt, ...account.transitions.map((t) => t.at)].map(Date.parse);
      const moments = times.map((t, i) => Math.floor((t + (times[i + 1] ?? t + 60_000)) / 2));
      for (const moment of moments) {
        await page.fill('#travel', String(moment));
        await page.locator(`[data-testid=state-at][data-at="${moment}"]`).waitFor();
        const api = (await getJson(served.url, `/accounts/${id}?at=${moment}`)).json;
        const shown = JSON.parse((await page.locator('[data-testid=state-json]').textContent())!);
        expect(shown).toEqual(api);
        expect(await page.getAttribute('[data-testid=state-at] [data-status]', 'data-status')).toBe(
          api.status,
        );
        expect(page.url()).toContain(`at=${moment}`);
      }
      // The control works from the keyboard: Home goes to the account's first moment.
      await page.focus('#travel');
      await page.keyboard.press('Home');
      const first = Date.parse(account.firstSeenAt);
      await page.locator(`[data-testid=state-at][data-at="${first}"]`).waitFor();
      const shown = JSON.parse((await page.locator('[data-testid=state-json]').textContent())!);
      expect(shown).toEqual((await getJson(served.url, `/accounts/${id}?at=${first}`)).json);

      // Or by typing a moment: the instant of the second transition.
      const typed = account.transitions[1]!.at;
      await page.fill('#travel-to', typed);
      await page.press('#travel-to', 'Enter');
      await page.locator(`[data-testid=state-at][data-at="${Date.parse(typed)}"]`).waitFor();
      expect(JSON.parse((await page.locator('[data-testid=state-json]').textContent())!)).toEqual(
        (await getJson(served.url, `/accounts/${id}?at=${encodeURIComponent(typed)}`)).json,
      );

      await page.fill('#travel-to', '');
      await page.fill('#travel', String(moments[1]));
      await page.locator(`[data-testid=state-at][data-at="${moments[1]}"]`).waitFor();
      await page.screenshot({ path: join(DOCS, 'dashboard-account.png'), fullPage: true });
    });

    it('runs: one run page shows its events as /runs/:id has them', async () => {
      const [failed] = await listAll<{ id: string }>(served.url, '/runs?status=failed');
      const run = (await getJson(served.url, `/runs/${failed!.id}`)).json;
      const { page } = await open();
      await page.goto(`${served.url}/#/runs?status=failed`);
      await page.locator(`[data-testid=runs] a[href="#/runs/${run.id}"]`).click();
      await page.locator('[data-testid=run-events]').waitFor();
      expect(
        await page.locator('[data-testid=run-events] tbody tr td:nth-child(2)').allTextContents(),
      ).toEqual(run.timeline.map((e: { event: string }) => e.event));
    });

    it('a fresh install says how to send an event, pointing at demo', async () => {
      const fresh = await startServe([
        '--port',
        '0',
        '--db',
        join(dir, 'empty.db'),
        '--secret',
        SECRET,
      ]);
      try {
        const { page } = await open();
        await page.goto(`${fresh.url}/`);
        const empty = page.locator('[data-testid=empty]');
        await empty.waitFor();
        const text = (await empty.textContent())!;
        expect(text).toContain(`${fresh.url}/webhooks/truto`);
        expect(text).toContain(`truto-state demo --url ${fresh.url}`);
        await page.goto(`${fresh.url}/#/accounts`);
        await page.locator('[data-testid=no-accounts]').waitFor();
        // Checked and closed before the server stops: a page left open would see it go.
        expect(await settle()).toEqual([]);
      } finally {
        expect(await fresh.stop()).toBe(0);
      }
    });

    it('a webhook posted while the page is open changes the board without a reload', async () => {
      const { page } = await open();
      await page.goto(`${served.url}/`);
      await page.locator('#live[data-state=live]').waitFor();
      await page.evaluate(() => (window.marker = 1));
      const before = await shownNumber(page, '[data-count-status=connecting] .count');

      const posted = await postWebhook(
        served.url,
        accountEvent('live-acc-1', 'integrated_account:created', {
          createdAt: new Date().toISOString(),
        }),
        { secret: SECRET },
      );
      expect(posted.status).toBe(200);
      await waitCaughtUp(served.url);
      const expected = (await listAll(served.url, '/accounts?status=connecting')).length;
      expect(expected).toBe(before + 1);
      await page.waitForFunction(
        (n) =>
          document
            .querySelector('[data-count-status=connecting] .count')
            ?.textContent?.replace(/\D/g, '') === String(n),
        expected,
      );
      expect(await page.evaluate(() => window.marker)).toBe(1);

      // An account page follows its account live too.
      await page.goto(`${served.url}/#/accounts/live-acc-1`);
      await page.locator('[data-testid=current] [data-status=connecting]').waitFor();
      await postWebhook(
        served.url,
        accountEvent('live-acc-1', 'integrated_account:authentication_error', {
          createdAt: new Date(Date.now() + 1000).toISOString(),
        }),
        { secret: SECRET },
      );
      await page.locator('[data-testid=current] [data-status=needs_reauth]').waitFor();
      expect((await getJson(served.url, '/accounts/live-acc-1')).json.status).toBe('needs_reauth');
      expect(await page.evaluate(() => window.marker)).toBe(1);
    });
  });

  describe('dashboard with an API token', () => {
    let guarded: Served;
    beforeAll(async () => {
      guarded = await startServe([
        '--port',
        '0',
        '--db',
        join(dir, 'token.db'),
        '--secret',
        SECRET,
        '--api-token',
        TOKEN,
      ]);
      const posted = await postWebhook(guarded.url, accountEvent('tok-acc-1'), { secret: SECRET });
      expect(posted.status).toBe(200);
      await waitCaughtUp(guarded.url, TOKEN);
    });
    afterAll(async () => {
      if (guarded) expect(await guarded.stop()).toBe(0);
    });

    it('asks for the token once, refuses a wrong one with a message, and the right one opens the page and the live stream', async () => {
      const ctx = await browser.newContext();
      try {
        const { page, watch } = await open(ctx);
        await page.goto(`${guarded.url}/`);
        await page.locator('[data-testid=signin]').waitFor();

        // The wrong token: refused by the service (the one 401 this test expects), said so.
        watch.expect(/response 401: POST .*\/session$/);
        watch.expect(/console error: Failed to load resource: .*401/);
        await page.fill('#token', 'not-the-token');
        await page.click('[data-testid=signin] button');
        await page.locator('[data-testid=token-error]:has-text("refused")').waitFor();
        expect(await page.locator('[data-testid=signin]').isVisible()).toBe(true);

        await page.fill('#token', TOKEN);
        await page.click('[data-testid=signin] button');
        await page.locator('[data-count-status=connecting]').waitFor();
        expect(await shownNumber(page, '[data-count-status=connecting] .count')).toBe(
          (await listAll(guarded.url, '/accounts?status=connecting', TOKEN)).length,
        );

        // The session is an HttpOnly, SameSite=Strict cookie that is not the token itself.
        const cookies = await ctx.cookies(guarded.url);
        expect(cookies).toHaveLength(1);
        expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
        expect(cookies[0]!.value).not.toContain(TOKEN);
        expect(await page.evaluate(() => document.cookie)).toBe('');

        // The live stream works with the cookie.
        await page.locator('#live[data-state=live]').waitFor();
        await postWebhook(guarded.url, accountEvent('tok-acc-2'), { secret: SECRET });
        await waitCaughtUp(guarded.url, TOKEN);
        const expected = (await listAll(guarded.url, '/accounts?status=connecting', TOKEN)).length;
        await page.waitForFunction(
          (n) =>
            document
              .querySelector('[data-count-status=connecting] .count')
              ?.textContent?.replace(/\D/g, '') === String(n),
          expected,
        );

        // Asked once: another tab of the same browser goes straight to the overview.
        const { page: second } = await open(ctx);
        await second.goto(`${guarded.url}/#/accounts`);
        await second.locator('[data-testid=accounts]').waitFor();
        expect(await second.locator('[data-testid=signin]').count()).toBe(0);

        // The cookie authorises reads only; the API still takes the bearer header, and nothing else.
        const cookie = `${cookies[0]!.name}=${cookies[0]!.value}`;
        expect((await fetch(`${guarded.url}/stats`, { headers: { cookie } })).status).toBe(200);
        expect((await fetch(`${guarded.url}/stats`)).status).toBe(401);
        expect((await getJson(guarded.url, '/stats', TOKEN)).status).toBe(200);
        const webhook = await fetch(`${guarded.url}/webhooks/truto`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: accountEvent('tok-acc-3'),
        });
        expect(webhook.status).toBe(401);
      } finally {
        expect(await settle()).toEqual([]);
        await ctx.close();
      }
    });
  });
}
