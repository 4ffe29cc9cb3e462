/**
 * One account: its state, its status history as a band, time travel (the state as it was at a
 * chosen moment, read from `/accounts/:id?at=`), its runs as bars, sync health and record counts.
 *
 * The chosen moment lives in the URL (`#/accounts/<id>?at=<epoch ms>`), so a view of the past can
 * be shared; moving the control replaces the URL without re-rendering the page.
 */
import {
  get,
  getAll,
  liveRecords,
  type Account,
  type RecordCounts,
  type Run,
  type SyncHealth,
} from '../api.js';
import { h } from '../dom.js';
import { badge, count, duration, time, timeElement } from '../format.js';
import { bandEnd, runBars, statusBand } from '../timeline.js';
import { definitions, href, runLink, section, table, type View } from '../view.js';

function stateFacts(account: Account): HTMLDListElement {
  return definitions([
    ['Status', badge(account.status)],
    ['Since', timeElement(account.statusSince)],
    ['Usable', account.usable ? '✓ yes' : '✕ no'],
    ['Integration', account.integration ?? '—'],
    ['Tenant', account.tenantId ?? '—'],
    ['Events', count(account.eventCount)],
    ['Last error', account.lastError ?? '—'],
    ['Last 403', account.lastForbiddenError ?? '—'],
    ['First seen', timeElement(account.firstSeenAt)],
    ['Last event', timeElement(account.lastEventAt)],
  ]);
}

/** The time-travel control and the state it shows. */
function timeTravel(account: Account, at: number | null): HTMLElement {
  const id = account.id;
  const start = Date.parse(account.firstSeenAt);
  const end = bandEnd(account);
  const moments = [start, ...account.transitions.map((t) => Date.parse(t.at)), end];
  const output = h('div', { class: 'as-of', 'aria-live': 'polite', 'data-testid': 'state-at' });
  const band = h('div', {});
  const label = h('output', { for: 'travel', 'data-testid': 'travel-time' });
  const slider = h('input', {
    id: 'travel',
    type: 'range',
    min: start,
    max: end,
    step: 1,
    value: at ?? end,
    'aria-describedby': 'travel-help',
  });
  let asked = 0;

  const show = async (moment: number): Promise<void> => {
    const mine = ++asked;
    label.textContent = time(new Date(moment).toISOString());
    band.replaceChildren(statusBand(account, moment));
    history.replaceState(
      null,
      '',
      href(`accounts/${encodeURIComponent(id)}`, { at: String(moment) }),
    );
    const state = await get<Account>(`/accounts/${encodeURIComponent(id)}?at=${moment}`).catch(
      (error: unknown) => error as Error,
    );
    if (mine !== asked) return; // a later move already asked again
    if (state instanceof Error) {
      output.replaceChildren(
        h('p', { class: 'muted' }, `No state at that moment: ${state.message}`),
      );
      return;
    }
    output.replaceChildren(
      h('p', {}, 'As of ', h('strong', {}, time(new Date(moment).toISOString())), ':'),
      stateFacts(state),
      h(
        'details',
        {},
        h('summary', {}, 'State as JSON'),
        h('pre', { 'data-testid': 'state-json' }, JSON.stringify(state, null, 2)),
      ),
    );
    output.dataset.at = String(moment);
  };
  const jump = (direction: 1 | -1) => () => {
    const value = Number(slider.value);
    const target =
      direction > 0
        ? moments.find((m) => m > value)
        : [...moments].reverse().find((m) => m < value);
    if (target !== undefined) {
      slider.value = String(target);
      void show(target);
    }
  };
  slider.addEventListener('input', () => void show(Number(slider.value)));
  void show(at ?? end);

  // Or type a moment: any time the API takes (ISO-8601; without a zone it is read as UTC).
  const typed = h('input', {
    id: 'travel-to',
    name: 'at',
    placeholder: '2024-09-10 12:00:00',
    autocomplete: 'off',
    'aria-describedby': 'travel-to-error',
  });
  const typedError = h('span', { id: 'travel-to-error', class: 'bad', role: 'alert' });
  const goTo = (event: Event): void => {
    event.preventDefault();
    const text = typed.value.trim();
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
    const moment = Date.parse(iso);
    if (Number.isNaN(moment)) {
      typedError.textContent = 'Not a time: try 2024-09-10 12:00:00 (UTC).';
      return;
    }
    typedError.textContent = '';
    slider.value = String(Math.min(Math.max(moment, start), end));
    void show(moment);
  };

  return h(
    'div',
    { class: 'travel' },
    band,
    h(
      'div',
      { class: 'travel-controls' },
      h('label', { for: 'travel' }, 'Time travel'),
      slider,
      label,
    ),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'button', onclick: jump(-1) }, '← Previous change'),
      h('button', { type: 'button', onclick: jump(1) }, 'Next change →'),
      h(
        'form',
        { class: 'goto', onsubmit: goTo },
        h('label', { for: 'travel-to' }, 'Go to (UTC)'),
        typed,
        h('button', { type: 'submit' }, 'Go'),
        typedError,
      ),
    ),
    h(
      'p',
      { id: 'travel-help', class: 'muted' },
      'Drag, or use the arrow keys (Page Up/Down for bigger steps), to see the account as it was.',
    ),
    output,
  );
}

function runsTable(runs: readonly Run[]): HTMLElement {
  return table(
    'Sync runs',
    ['Run', 'Outcome', 'Started', 'Duration', 'Records', 'Errors', 'Rate-limited'],
    [...runs]
      .reverse()
      .map((r) => [
        runLink(r.id),
        badge(r.status),
        timeElement(r.startedAt ?? r.createdAt),
        duration(r.durationMs),
        count(r.recordsReceived),
        r.errors > 0 ? h('span', { class: 'bad' }, `⚠ ${r.errors}`) : '0',
        r.rateLimited > 0 ? `‖ ${r.rateLimited}×` : '—',
      ]),
    { 'data-testid': 'runs' },
  );
}

export const accountView: View = {
  title: (route) => `Account ${route.path[1] ?? ''}`,
  wants: (change, route) => {
    const id = route.path[1];
    return (
      change.key === id ||
      change.key.startsWith(`${id}/`) ||
      change.after?.integratedAccountId === id
    );
  },
  async render(route) {
    const id = route.path[1] ?? '';
    const key = encodeURIComponent(id);
    const [account, runs, records] = await Promise.all([
      get<Account>(`/accounts/${key}`),
      getAll<Run>(`/runs?account=${key}`),
      getAll<RecordCounts>(`/records?account=${key}`),
    ]);
    runs.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
    // Only asked when there are runs: an account without runs has no sync health (404).
    const sync = runs.length > 0 ? await get<SyncHealth>(`/account-sync/${key}`) : undefined;
    const atText = route.query.get('at');
    const at = atText !== null && /^\d+$/.test(atText) ? Number(atText) : null;

    return h(
      'div',
      {},
      h('p', { class: 'crumbs' }, h('a', { href: href('accounts') }, 'Accounts'), ' / '),
      h('h1', { class: 'mono' }, account.id),
      h('div', { 'data-testid': 'current' }, stateFacts(account)),
      section('Status history', timeTravel(account, at)),
      section('Sync runs', runBars(runs), runs.length > 0 ? runsTable(runs) : null),
      section(
        'Sync health',
        sync
          ? definitions([
              ['Runs', count(sync.runs)],
              ['Completed', count(sync.completed)],
              [
                'Failed',
                sync.failed > 0 ? h('span', { class: 'bad' }, `✕ ${count(sync.failed)}`) : '0',
              ],
              ['Stopped', count(sync.stopped)],
              ['Running', count(sync.running)],
              ['Last run', sync.lastRunStatus ? badge(sync.lastRunStatus) : '—'],
              ['Last run started', timeElement(sync.lastRunStartedAt)],
              ['Last success', sync.lastSuccessAt ? timeElement(sync.lastSuccessAt) : 'never'],
              [
                'Consecutive failures',
                sync.consecutiveFailures > 0
                  ? h('span', { class: 'bad' }, `⚠ ${sync.consecutiveFailures}`)
                  : '0',
              ],
            ])
          : h('p', { class: 'muted' }, 'No sync runs yet.'),
      ),
      section(
        'Records by resource',
        records.length === 0
          ? h('p', { class: 'muted' }, 'No record changes seen for this account.')
          : table(
              'Records by resource',
              ['Resource', 'Live', 'Created', 'Updated', 'Deleted', 'Last change'],
              records.map((r) => [
                h('span', { class: 'mono' }, r.resource),
                count(liveRecords(r)),
                count(r.created),
                count(r.updated),
                count(r.deleted),
                timeElement(r.lastChangeAt),
              ]),
            ),
      ),
    );
  },
};
