/** The runs: a live list with filters (status, account), and one run's timeline of events. */
import { get, type Page, type Run } from '../api.js';
import { h } from '../dom.js';
import { badge, count, duration, RUN_STATUSES, timeElement } from '../format.js';
import { runEvents } from '../timeline.js';
import { accountLink, definitions, href, runLink, section, table, type View } from '../view.js';

const PAGE = 50;

function filters(query: URLSearchParams): HTMLFormElement {
  const apply = (event: Event): void => {
    event.preventDefault();
    const data = new FormData((event.target as HTMLElement).closest('form')!);
    const next: Record<string, string> = {};
    for (const name of ['status', 'account']) {
      const v = String(data.get(name) ?? '').trim();
      if (v) next[name] = v;
    }
    location.hash = href('runs', next).slice(1);
  };
  return h(
    'form',
    { class: 'filters', role: 'search', onsubmit: apply },
    h(
      'label',
      {},
      'Outcome',
      h(
        'select',
        { name: 'status', id: 'r-status', onchange: apply },
        h('option', { value: '' }, 'any'),
        ...Object.entries(RUN_STATUSES).map(([value, { label }]) =>
          h('option', { value, selected: query.get('status') === value }, label),
        ),
      ),
    ),
    h(
      'label',
      {},
      'Account id',
      h('input', {
        name: 'account',
        id: 'r-account',
        value: query.get('account') ?? '',
        autocomplete: 'off',
      }),
    ),
    h('button', { type: 'submit' }, 'Apply'),
  );
}

export const runsView: View = {
  title: () => 'Runs',
  wants: (change) => change.projection === 'runs',
  async render(route) {
    const params = new URLSearchParams({ limit: String(PAGE) });
    for (const name of ['status', 'account', 'after']) {
      const v = route.query.get(name);
      if (v) params.set(name, v);
    }
    const page = await get<Page<Run>>(`/runs?${params}`);
    const nextQuery = new URLSearchParams(route.query);
    if (page.next) nextQuery.set('after', page.next);
    return h(
      'div',
      {},
      h('h1', {}, 'Runs'),
      filters(route.query),
      page.items.length === 0
        ? h(
            'p',
            { class: 'empty' },
            'No sync job runs match. Runs appear with the first sync_job_run webhook.',
          )
        : table(
            'Sync job runs',
            [
              'Run',
              'Outcome',
              'Account',
              'Created',
              'Duration',
              'Records',
              'Errors',
              'Rate-limited',
            ],
            page.items.map((r) => [
              runLink(r.id),
              badge(r.status),
              r.integratedAccountId ? accountLink(r.integratedAccountId) : '—',
              timeElement(r.createdAt),
              duration(r.durationMs),
              count(r.recordsReceived),
              r.errors > 0 ? h('span', { class: 'bad' }, `⚠ ${r.errors}`) : '0',
              r.rateLimited > 0 ? `‖ ${r.rateLimited}×` : '—',
            ]),
            { 'data-testid': 'runs' },
          ),
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages' },
        route.query.get('after')
          ? h(
              'a',
              {
                href: href('runs', {
                  status: route.query.get('status'),
                  account: route.query.get('account'),
                }),
              },
              '← First page',
            )
          : null,
        page.next
          ? h('a', { href: href('runs', Object.fromEntries(nextQuery)), rel: 'next' }, 'Next →')
          : null,
      ),
    );
  },
};

export const runView: View = {
  title: (route) => `Run ${route.path[1] ?? ''}`,
  wants: (change, route) => change.projection === 'runs' && change.key === route.path[1],
  async render(route) {
    const run = await get<Run>(`/runs/${encodeURIComponent(route.path[1] ?? '')}`);
    return h(
      'div',
      {},
      h('p', { class: 'crumbs' }, h('a', { href: href('runs') }, 'Runs'), ' / '),
      h('h1', { class: 'mono' }, run.id),
      definitions([
        ['Outcome', badge(run.status)],
        ['Account', run.integratedAccountId ? accountLink(run.integratedAccountId) : '—'],
        ['Created', timeElement(run.createdAt)],
        ['Started', timeElement(run.startedAt)],
        ['Finished', timeElement(run.finishedAt)],
        ['Duration', duration(run.durationMs)],
        ['Records', `${count(run.recordsReceived)} in ${count(run.recordBatches)} batches`],
        ['Errors', run.errors > 0 ? h('span', { class: 'bad' }, `⚠ ${run.errors}`) : '0'],
        ['Rate-limited', run.rateLimited > 0 ? `‖ ${run.rateLimited}×` : 'never'],
      ]),
      section(
        'Events',
        runEvents(run),
        table(
          'Events of this run',
          ['Time', 'Event', 'Status after'],
          run.timeline.map((e) => [
            timeElement(e.at),
            h('span', { class: 'mono' }, e.event),
            badge(e.status),
          ]),
          { 'data-testid': 'run-events' },
        ),
      ),
      section(
        'Records by resource',
        Object.keys(run.recordsByResource).length === 0
          ? h('p', { class: 'muted' }, 'No records received.')
          : table(
              'Records by resource',
              ['Resource', 'Records'],
              Object.entries(run.recordsByResource).map(([k, v]) => [
                h('span', { class: 'mono' }, k),
                count(v),
              ]),
            ),
      ),
    );
  },
};
