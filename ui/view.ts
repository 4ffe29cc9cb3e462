/** What a page of the dashboard is, and the small building blocks they share. */
import type { Change } from './api.js';
import { h, type Child } from './dom.js';

export interface Route {
  /** The hash path split on `/`: `#/accounts/acc-1` is `['accounts', 'acc-1']`. */
  readonly path: readonly string[];
  readonly query: URLSearchParams;
}

export interface View {
  /** The page's title (also the document's). */
  title(route: Route): string;
  render(route: Route): Promise<Node>;
  /** Whether a live change makes this page stale (it is then re-rendered in place). */
  wants(change: Change, route: Route): boolean;
  /** Re-render every so often even without changes (counts that move without a change). */
  readonly refreshMs?: number;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** A table in a box that scrolls sideways on narrow screens. */
export function table(
  caption: string,
  headers: readonly string[],
  rows: readonly (readonly Child[])[],
  attrs: Record<string, string> = {},
): HTMLElement {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      attrs,
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, ...headers.map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c))))),
    ),
  );
}

/** A `#/…` link with a query. */
export function href(path: string, query: Record<string, string | null | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  const search = params.toString();
  return `#/${path}${search ? `?${search}` : ''}`;
}

export function accountLink(id: string): HTMLAnchorElement {
  return h('a', { href: href(`accounts/${encodeURIComponent(id)}`), class: 'mono' }, id);
}

export function runLink(id: string): HTMLAnchorElement {
  return h('a', { href: href(`runs/${encodeURIComponent(id)}`), class: 'mono' }, id);
}

export function definitions(pairs: readonly (readonly [string, Child])[]): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}
