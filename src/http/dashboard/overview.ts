/**
 * `GET /overview`: what the dashboard's first page shows that the list routes cannot answer in
 * one request: accounts counted by status, the accounts that need attention, and sync runs
 * counted by status, overall and for the last 24 hours.
 *
 * Counts come from the projection store's own count; the 24-hour window walks the runs in pages
 * (the read model has no time index), so its cost grows with the number of runs kept.
 */
import { RUN_STATUSES } from '../../truto/catalogue.js';
import type { TrutoEngine as Engine } from '../../truto/engine.js';
import { ACCOUNT_STATUSES } from '../../truto/projections/accounts.js';
import { json, type BufferedResponse } from '../types.js';

/** Statuses a person must act on, most urgent first. */
const ATTENTION = ['needs_reauth', 'post_install_error', 'validation_error'] as const;
const ATTENTION_LIMIT = 20;
const DAY = 24 * 60 * 60 * 1000;

/**
 * @example
 * await overviewHandler(engine, Date.now)(); // { accounts: { total, byStatus, attention }, runs: … }
 */
export function overviewHandler(
  engine: Engine,
  now: () => number,
): () => Promise<BufferedResponse> {
  return async () => {
    const to = now();
    const from = to - DAY;
    const count = async (projection: 'accounts' | 'runs', statuses: readonly string[]) =>
      Object.fromEntries(
        await Promise.all(
          statuses.map(
            async (status) => [status, await engine.count(projection, { status })] as const,
          ),
        ),
      );
    const attention = (
      await Promise.all(
        ATTENTION.map(
          async (status) =>
            (await engine.list('accounts', { where: { status }, limit: ATTENTION_LIMIT })).items,
        ),
      )
    )
      .flat()
      .slice(0, ATTENTION_LIMIT);

    const recent: Record<string, number> = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0]));
    let after: string | undefined;
    do {
      const page = await engine.list('runs', {
        limit: 1000,
        ...(after ? { afterKey: after } : {}),
      });
      for (const run of page.items) {
        const created = run.createdAt ? Date.parse(run.createdAt) : NaN;
        if (created >= from && created <= to) recent[run.status] = (recent[run.status] ?? 0) + 1;
      }
      after = page.nextKey;
    } while (after !== undefined);

    const accounts = await count('accounts', ACCOUNT_STATUSES);
    const runs = await count('runs', RUN_STATUSES);
    const sum = (counts: Record<string, number>) =>
      Object.values(counts).reduce((a, b) => a + b, 0);
    return json(200, {
      accounts: { total: sum(accounts), byStatus: accounts, attention },
      runs: {
        total: sum(runs),
        byStatus: runs,
        lastDay: {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          byStatus: recent,
        },
      },
    });
  };
}
