/**
 * The accounts table: filters (status, integration, tenant) and an id search, all in the URL;
 * one page of 50 at a time through the API's key-ordered cursor, so 10k accounts cost the same
 * as 50. The id search is a prefix search on the same cursor: ids are the list's order.
 */
import { get, type Account, type Page } from '../api.js';
import { h } from '../dom.js';
import { ACCOUNT_STATUSES, badge, timeElement } from '../format.js';
import { accountLink, href, table, type Route, type View } from '../view.js';

const PAGE = 50;
const FILTERS = ['status', 'integration', 'tenant'] as const;

/** Cursors of the pages visited, per filter, so "Previous" can go back. */
const visited = new Map<string, (string | null)[]>();
/** Integrations and tenants seen so far, offered as suggestions. */
const seen = { integration: new Set<string>(), tenant: new Set<string>() };

/** The largest key below every key starting with `prefix` (the cursor is exclusive). */
function beforePrefix(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return `${prefix.slice(0, -1)}${String.fromCharCode(last - 1)}\uffff`;
}

function listPath(query: URLSearchParams, after: string | null): string {
  const params = new URLSearchParams();
  for (const f of FILTERS) {
    const v = query.get(f);
    if (v) params.set(f, v);
  }
  params.set('limit', String(PAGE));
  const q = query.get('q');
  const cursor = after ?? (q ? beforePrefix(q) : null);
  if (cursor) params.set('after', cursor);
  return `/accounts?${params}`;
}

function navigate(query: URLSearchParams): void {
  location.hash = href('accounts', Object.fromEntries(query)).slice(1);
}

function filterForm(route: Route): HTMLFormElement {
  const current = (name: string) => route.query.get(name) ?? '';
  const apply = (event: Event): void => {
    event.preventDefault();
    const form = (event.target as HTMLElement).closest('form')!;
    const data = new FormData(form);
    const query = new URLSearchParams();
    for (const name of [...FILTERS, 'q']) {
      const v = String(data.get(name) ?? '').trim();
      if (v) query.set(name, v);
    }
    navigate(query);
  };
  const text = (name: 'integration' | 'tenant', label: string) =>
    h(
      'label',
      {},
      label,
      h('input', {
        name,
        id: `f-${name}`,
        value: current(name),
        list: `l-${name}`,
        autocomplete: 'off',
        onchange: apply,
      }),
      h(
        'datalist',
        { id: `l-${name}` },
        ...[...seen[name]].sort().map((v) => h('option', { value: v })),
      ),
    );
  return h(
    'form',
    { class: 'filters', role: 'search', onsubmit: apply },
    h(
      'label',
      {},
      'Status',
      h(
        'select',
        { name: 'status', id: 'f-status', onchange: apply },
        h('option', { value: '' }, 'any'),
        ...Object.entries(ACCOUNT_STATUSES).map(([value, { label }]) =>
          h('option', { value, selected: current('status') === value }, label),
        ),
      ),
    ),
    text('integration', 'Integration'),
    text('tenant', 'Tenant'),
    h(
      'label',
      {},
      'Account id starts with',
      h('input', {
        name: 'q',
        id: 'f-q',
        type: 'search',
        value: current('q'),
        placeholder: 'press / to search',
        autocomplete: 'off',
      }),
    ),
    h('button', { type: 'submit' }, 'Apply'),
  );
}

export const accountsView: View = {
  title: () => 'Accounts',
  wants: (change) => change.projection === 'accounts',
  async render(route) {
    const after = route.query.get('after');
    const filterKey = [...FILTERS, 'q'].map((f) => route.query.get(f) ?? '').join('|');
    const stack = visited.get(filterKey) ?? [null];
    visited.set(filterKey, stack);
    const page = await get<Page<Account>>(listPath(route.query, after));
    const q = route.query.get('q');
    // A prefix search ends where the ids stop matching.
    const items = q ? page.items.filter((a) => a.id.startsWith(q)) : page.items;
    const next = q && items.length < page.items.length ? null : page.next;
    for (const a of items) {
      if (a.integration) seen.integration.add(a.integration);
      if (a.tenantId) seen.tenant.add(a.tenantId);
    }
    const at = stack.indexOf(after);
    if (at < 0) stack.push(after);
    const index = stack.indexOf(after);
    const pageLink = (cursor: string | null | undefined, label: string, rel: string) => {
      if (cursor === undefined)
        return h('span', { class: 'muted', 'aria-disabled': 'true' }, label);
      const query = new URLSearchParams(route.query);
      if (cursor === null) query.delete('after');
      else query.set('after', cursor);
      return h('a', { href: href('accounts', Object.fromEntries(query)), rel }, label);
    };
    const filtered = [...FILTERS, 'q'].some((f) => route.query.get(f));

    return h(
      'div',
      {},
      h('h1', {}, 'Accounts'),
      filterForm(route),
      items.length === 0
        ? h(
            'p',
            { class: 'empty', 'data-testid': 'no-accounts' },
            filtered
              ? 'No account matches these filters.'
              : 'No accounts yet: they appear with the first integrated_account webhook.',
          )
        : table(
            'Accounts',
            ['Account', 'Status', 'Integration', 'Tenant', 'Status since', 'Last event', 'Events'],
            items.map((a) => [
              accountLink(a.id),
              badge(a.status),
              a.integration ?? '—',
              a.tenantId ?? '—',
              timeElement(a.statusSince),
              timeElement(a.lastEventAt),
              String(a.eventCount),
            ]),
            { 'data-testid': 'accounts' },
          ),
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages' },
        pageLink(index > 0 ? (stack[index - 1] ?? null) : undefined, '← Previous', 'prev'),
        h('span', {}, `Page ${index + 1}`),
        pageLink(next ?? undefined, 'Next →', 'next'),
      ),
    );
  },
};
