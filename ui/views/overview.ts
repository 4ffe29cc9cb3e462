/**
 * The overview: accounts by status, the accounts that need attention, runs of the last 24 hours
 * by outcome, and the service's health. A fresh install (no events) says how to send some.
 */
import { get, type Overview, type Stats } from '../api.js';
import { h } from '../dom.js';
import { ACCOUNT_STATUSES, badge, count, RUN_STATUSES, time, timeElement } from '../format.js';
import { accountLink, definitions, href, section, table, type View } from '../view.js';

/** The previous sample of the event count, for the ingest rate. */
let sample: { at: number; events: number; rate: number | null } | undefined;

function ingestRate(events: number): string {
  const at = performance.now();
  if (sample && at - sample.at >= 1000) {
    sample = { at, events, rate: ((events - sample.events) * 1000) / (at - sample.at) };
  } else if (!sample) {
    sample = { at, events, rate: null };
  }
  return sample.rate === null ? 'measuring…' : `${sample.rate.toFixed(1)} events/s`;
}

function emptyState(): HTMLElement {
  const origin = location.origin;
  return h(
    'section',
    { class: 'empty', 'data-testid': 'empty' },
    h('h2', {}, 'No events yet'),
    h('p', {}, 'This service has not received a webhook. Point a Truto webhook at'),
    h('pre', {}, h('code', {}, `${origin}/webhooks/truto`)),
    h(
      'p',
      {},
      'or post a realistic demo history (accounts in every state, failing and rate-limited runs):',
    ),
    h('pre', {}, h('code', {}, `npx truto-state demo --url ${origin} --secret <webhook secret>`)),
    h(
      'p',
      { class: 'muted' },
      'The webhook secret is the one the service was started with; without one, serve printed the secret it generated when it started.',
    ),
  );
}

export const overviewView: View = {
  title: () => 'Overview',
  wants: () => true,
  refreshMs: 5000,
  async render() {
    const [overview, stats] = await Promise.all([get<Overview>('/overview'), get<Stats>('/stats')]);
    const title = h('h1', {}, 'Overview');
    if (stats.store.events === 0) return h('div', {}, title, emptyState());
    const { accounts, runs } = overview;
    const lag = stats.projections.reduce((n, p) => n + p.lag, 0);
    const deadLetters = stats.projections.reduce((n, p) => n + p.deadLetters, 0);

    return h(
      'div',
      {},
      title,
      section(
        'Accounts by status',
        h('p', { class: 'muted' }, `${count(accounts.total)} accounts`),
        h(
          'ul',
          { class: 'cards', 'data-testid': 'account-counts' },
          ...Object.keys(ACCOUNT_STATUSES).map((status) =>
            h(
              'li',
              {},
              h(
                'a',
                { class: 'card', href: href('accounts', { status }), 'data-count-status': status },
                badge(status),
                h('strong', { class: 'count' }, count(accounts.byStatus[status] ?? 0)),
              ),
            ),
          ),
        ),
      ),
      section(
        'Needs attention',
        accounts.attention.length === 0
          ? h('p', { class: 'ok' }, '✓ No account needs re-authorization or has an install error.')
          : table(
              'Accounts that need attention',
              ['Account', 'Status', 'Integration', 'Tenant', 'Since', 'Last error'],
              accounts.attention.map((a) => [
                accountLink(a.id),
                badge(a.status),
                a.integration ?? '—',
                a.tenantId ?? '—',
                timeElement(a.statusSince),
                a.lastError ?? '—',
              ]),
              { 'data-testid': 'attention' },
            ),
      ),
      section(
        'Sync runs, last 24 hours',
        h(
          'p',
          { class: 'muted' },
          `${time(runs.lastDay.from)} to ${time(runs.lastDay.to)}; ${count(runs.total)} runs in all`,
        ),
        h(
          'ul',
          { class: 'cards', 'data-testid': 'run-counts' },
          ...Object.keys(RUN_STATUSES).map((status) =>
            h(
              'li',
              {},
              h(
                'a',
                { class: 'card', href: href('runs', { status }), 'data-run-status': status },
                badge(status),
                h('strong', { class: 'count' }, count(runs.lastDay.byStatus[status] ?? 0)),
                h('span', { class: 'muted' }, ` of ${count(runs.byStatus[status] ?? 0)}`),
              ),
            ),
          ),
        ),
      ),
      section(
        'Service health',
        h(
          'div',
          { 'data-testid': 'health' },
          definitions([
            ['Events stored', h('span', { 'data-stat': 'events' }, count(stats.store.events))],
            ['Ingest rate', ingestRate(stats.store.events)],
            ['Projection lag', h('span', { 'data-stat': 'lag' }, `${count(lag)} events`)],
            [
              'Dead letters',
              h(
                'span',
                { 'data-stat': 'deadLetters', class: deadLetters > 0 ? 'bad' : '' },
                deadLetters > 0 ? `⚠ ${count(deadLetters)}` : '0',
              ),
            ],
            ['Conflicts', h('span', { 'data-stat': 'conflicts' }, count(stats.store.conflicts))],
            ['Rejects', h('span', { 'data-stat': 'rejects' }, count(stats.store.rejects))],
            ['Duplicates', h('span', { 'data-stat': 'duplicates' }, count(stats.store.duplicates))],
          ]),
          table(
            'Projections',
            ['Projection', 'Position', 'Lag', 'Entities', 'Dead letters'],
            stats.projections.map((p) => [
              p.name,
              count(p.position),
              h('span', { 'data-lag': p.name }, p.lag === 0 ? '✓ 0' : `⧗ ${count(p.lag)}`),
              count(p.entities),
              p.deadLetters === 0 ? '0' : `⚠ ${count(p.deadLetters)}`,
            ]),
          ),
        ),
      ),
    );
  },
};
