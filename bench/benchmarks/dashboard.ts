/**
 * Issue 12: the dashboard's accounts page with 10k accounts, in Debian's Chromium (playwright-core)
 * against the real service. Measures, over several fresh loads, the time from navigation to the
 * first render of the table (the page's own `truto:rendered` mark, so the figure is the page's,
 * not the driver's polling), the time to render the next page, and the page's memory (JS heap and
 * DOM nodes from the DevTools protocol).
 *
 * The accounts are plain `integrated_account:created` deliveries (statuses, integrations and
 * tenants spread), imported through the CLI: the page's cost depends on the number of accounts,
 * not on their histories.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, chromiumAvailable, launchChromium } from '../lib/chromium.js';
import { runCliTimed } from '../lib/cli.js';
import { failed, latencyFields, notRun } from '../lib/measure.js';
import { freePort, start, waitUntilUp } from '../lib/processes.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';

const BENCH = 'dashboard';
const LOADS = 10;
const STATUSES = ['connecting', 'active', 'post_install_error', 'validation_error', 'needs_reauth'];
const INTEGRATIONS = ['salesforce', 'hubspot', 'zendesk', 'jira', 'xero', 'pipedrive'];

export const dashboardBenchmark: Benchmark = {
  name: BENCH,
  description: 'dashboard accounts page in Chromium: time to first render and memory (issue 12)',
  defaultSizes: [10_000],
  async run(context) {
    if (!existsSync(join(context.root, 'dist/ui/index.html')))
      return [notRun(BENCH, 'accounts page', 'dist/ui missing: npm run build')];
    if (!chromiumAvailable())
      return [notRun(BENCH, 'accounts page', `no ${CHROMIUM}: apt-get install chromium`)];
    const rows: Row[] = [];
    for (const accounts of context.sizes ?? this.defaultSizes) {
      try {
        rows.push(...(await measure(context, accounts)));
      } catch (error) {
        rows.push(failed(BENCH, 'accounts page', error, accounts));
      }
    }
    return rows;
  },
};

function accountsFile(path: string, accounts: number): void {
  const lines: string[] = [];
  const start = Date.UTC(2024, 8, 1);
  for (let i = 0; i < accounts; i++) {
    lines.push(
      JSON.stringify({
        id: `evt-${i}`,
        event: 'integrated_account:created',
        created_at: new Date(start + i * 1000).toISOString(),
        payload: {
          id: `acc-${String(i).padStart(6, '0')}`,
          tenant_id: `tenant-${i % 300}`,
          status: STATUSES[i % STATUSES.length],
          integration: { id: `int-${i % 6}`, name: INTEGRATIONS[i % 6], category: 'crm' },
        },
      }),
    );
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

async function measure(context: BenchContext, accounts: number): Promise<Row[]> {
  const db = join(context.tmp, 'dashboard.db');
  const file = join(context.tmp, 'accounts.ndjson');
  accountsFile(file, accounts);
  context.log(`dashboard: importing ${accounts} accounts`);
  await runCliTimed(context.root, ['import', file, '--db', db]);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = start([
    join(context.root, 'dist/src/cli/main.js'),
    'serve',
    '--port',
    String(port),
    '--db',
    db,
    '--secret',
    'bench',
  ]);
  const browser = await launchChromium();
  try {
    await waitUntilUp(`${url}/health`, server);
    const listed = (await (await fetch(`${url}/overview`)).json()) as {
      accounts: { total: number };
    };
    if (listed.accounts.total !== accounts)
      throw new Error(`expected ${accounts} accounts, the service has ${listed.accounts.total}`);

    const first: number[] = [];
    const next: number[] = [];
    let heapMb = 0;
    let nodes = 0;
    context.log(`dashboard: ${LOADS} fresh loads of the accounts page`);
    for (let i = 0; i < LOADS; i++) {
      // A fresh context each time: nothing cached, as on a first visit.
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${url}/#/accounts`);
      await page.locator('[data-testid=accounts] tbody tr').first().waitFor();
      first.push(await renderedAt(page, 0));
      const before = await page.evaluate(() => performance.now());
      await page.click('a[rel=next]');
      await page.waitForFunction(() => performance.getEntriesByName('truto:rendered').length >= 2);
      next.push((await renderedAt(page, 1)) - before);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Performance.enable');
      const { metrics } = await cdp.send('Performance.getMetrics');
      const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0;
      heapMb = Math.max(heapMb, metric('JSHeapUsedSize') / 2 ** 20);
      nodes = Math.max(nodes, metric('Nodes'));
      await page.context().close();
    }
    const memory = `JS heap ${heapMb.toFixed(1)} MB, ${nodes} DOM nodes`;
    return [
      {
        bench: BENCH,
        case: 'accounts page: navigation to first render',
        status: 'ok',
        events: accounts,
        ...latencyFields(first),
        note: `${accounts} accounts, ${LOADS} fresh loads; ${memory}`,
      },
      {
        bench: BENCH,
        case: 'accounts page: next page rendered',
        status: 'ok',
        events: accounts,
        ...latencyFields(next),
        note: 'click to render, key-ordered cursor',
      },
    ];
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** When the page's `n`-th render finished, in ms since its navigation started. */
async function renderedAt(page: import('playwright-core').Page, n: number): Promise<number> {
  await page.waitForFunction((i) => performance.getEntriesByName('truto:rendered').length > i, n);
  return page.evaluate((i) => performance.getEntriesByName('truto:rendered')[i]!.startTime, n);
}
