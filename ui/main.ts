/**
 * The dashboard's entry: asks `/session` whether a token is needed, shows the token form when it
 * is, then routes `#/…` to a view and keeps the view current from the live change stream.
 *
 * Live refresh: a change the current view cares about schedules one re-render (changes arriving
 * together are coalesced, and never more than one render runs at a time). Focus and scroll stay
 * where they were, so reading or typing is not interrupted.
 */
import { get, startSession, Unauthorized, type Change, type Session } from './api.js';
import { h } from './dom.js';
import { connectLive, type LiveState } from './live.js';
import { accountView } from './views/account.js';
import { accountsView } from './views/accounts.js';
import { overviewView } from './views/overview.js';
import { runsView, runView } from './views/runs.js';
import type { Route, View } from './view.js';

const main = document.getElementById('main') as HTMLElement;
const liveBadge = document.getElementById('live') as HTMLElement;
// Changes arriving within this window make one re-render, however many there are.
const COALESCE_MS = 250;

function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.indexOf('?');
  const path = (q < 0 ? hash : hash.slice(0, q)).split('/').filter((p) => p !== '');
  return {
    path: path.map((p) => decodeURIComponent(p)),
    query: new URLSearchParams(q < 0 ? '' : hash.slice(q + 1)),
  };
}

function viewFor(route: Route): View | undefined {
  const [section, id] = route.path;
  if (section === undefined) return overviewView;
  if (section === 'accounts') return id === undefined ? accountsView : accountView;
  if (section === 'runs') return id === undefined ? runsView : runView;
  return undefined;
}

let rendering = false;
let again = false;
let againNavigated = false;
let generation = 0;
let refreshTimer: number | undefined;
let stopLive: (() => void) | undefined;

/** Renders the current route; `navigated` moves focus to the new page's heading. */
async function render(navigated: boolean): Promise<void> {
  if (rendering) {
    again = true;
    againNavigated ||= navigated;
    return;
  }
  rendering = true;
  const mine = ++generation;
  const route = currentRoute();
  const view = viewFor(route);
  document.querySelectorAll('[data-nav]').forEach((a) => {
    const here = (a as HTMLElement).dataset.nav === (route.path[0] ?? 'overview');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  try {
    if (!view) {
      main.replaceChildren(
        h('h1', {}, 'Not found'),
        h('p', {}, h('a', { href: '#/' }, 'Back to the overview')),
      );
      return;
    }
    document.title = `${view.title(route)} · truto-state`;
    const focused = focusKey(document.activeElement);
    const scroll = window.scrollY;
    const content = await view.render(route);
    if (mine !== generation) return;
    main.replaceChildren(content);
    if (navigated) {
      main.querySelector('h1')?.setAttribute('tabindex', '-1');
      (main.querySelector('h1') as HTMLElement | null)?.focus();
    } else {
      if (focused) main.querySelector<HTMLElement>(focused)?.focus();
      window.scrollTo(0, scroll);
    }
    main.dataset.rendered = String(mine);
    // For the benchmark (and the browser's performance panel): when a page's content is in.
    performance.mark('truto:rendered', { detail: route.path[0] ?? 'overview' });
    scheduleRefresh(view);
  } catch (error) {
    if (error instanceof Unauthorized) return void signIn();
    main.replaceChildren(
      h('h1', {}, 'Something went wrong'),
      h(
        'p',
        { role: 'alert', class: 'bad' },
        `Could not load this page: ${(error as Error).message}`,
      ),
      h('p', {}, h('a', { href: '#/' }, 'Back to the overview')),
    );
  } finally {
    rendering = false;
    if (again) {
      const navigatedMeanwhile = againNavigated;
      again = false;
      againNavigated = false;
      void render(navigatedMeanwhile);
    }
  }
}

/**
 * A selector that finds the focused element again in the re-rendered page: by id, or for a
 * link by where it goes (cards and table links have no id), so a live refresh never takes the
 * focus away from someone moving through the page with the keyboard.
 */
function focusKey(element: Element | null): string | undefined {
  if (!element || !main.contains(element)) return undefined;
  if (element.id) return `#${CSS.escape(element.id)}`;
  const href = element.getAttribute('href');
  return element instanceof HTMLAnchorElement && href ? `a[href="${CSS.escape(href)}"]` : undefined;
}

function scheduleRefresh(view: View): void {
  window.clearTimeout(refreshTimer);
  if (view.refreshMs) refreshTimer = window.setTimeout(() => void render(false), view.refreshMs);
}

let pending: number | undefined;
function onChange(change: Change): void {
  const route = currentRoute();
  if (!viewFor(route)?.wants(change, route) || pending !== undefined) return;
  pending = window.setTimeout(() => {
    pending = undefined;
    void render(false);
  }, COALESCE_MS);
}

function onLiveState(state: LiveState): void {
  liveBadge.dataset.state = state;
  liveBadge.textContent =
    state === 'live' ? '● live' : state === 'reconnecting' ? '◌ reconnecting…' : '○ offline';
  // The server refused the stream: most likely the session is no longer valid (start() then
  // asks for the token); otherwise try again a little later, as EventSource itself would.
  if (state === 'closed') window.setTimeout(() => void start(), 2000);
}

/** The token form: shown once; the server keeps the session in an HttpOnly cookie. */
function signIn(message?: string): void {
  stopLive?.();
  stopLive = undefined;
  // Nothing refreshes behind the form (a refresh would ask again and clear what was typed).
  window.clearTimeout(refreshTimer);
  window.clearTimeout(pending);
  pending = undefined;
  liveBadge.dataset.state = 'signed-out';
  liveBadge.textContent = '○ signed out';
  const error = h(
    'p',
    { id: 'token-error', role: 'alert', class: 'bad', 'data-testid': 'token-error' },
    message ?? '',
  );
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-describedby': 'token-help token-error',
  });
  const form = h(
    'form',
    {
      class: 'signin',
      'data-testid': 'signin',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void (async () => {
          const result = await startSession(input.value);
          if (result.ok) return start();
          error.textContent = `That token was refused: ${result.message}`;
          input.select();
        })().catch((e: unknown) => {
          error.textContent = `Could not reach the service: ${(e as Error).message}`;
        });
      },
    },
    h('h1', {}, 'Sign in'),
    h(
      'p',
      { id: 'token-help' },
      'This service needs its API token. It is asked once: the service keeps your session in a cookie no script can read.',
    ),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  main.replaceChildren(form);
  input.focus();
}

async function start(): Promise<void> {
  let session: Session;
  try {
    session = await get<Session>('/session');
  } catch (error) {
    main.replaceChildren(
      h('h1', {}, 'Service unreachable'),
      h('p', { role: 'alert', class: 'bad' }, (error as Error).message),
    );
    return;
  }
  if (session.tokenRequired && !session.authenticated) return signIn();
  stopLive?.();
  stopLive = connectLive(onChange, onLiveState);
  await render(false);
}

window.addEventListener('hashchange', () => void render(true));
// The skip link focuses the content instead of changing the route (routes live in the hash).
document.querySelector('.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
// Keyboard: "/" jumps to the search field of the page, when it has one.
document.addEventListener('keydown', (event) => {
  const target = event.target as HTMLElement;
  if (event.key !== '/' || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
  const search = document.querySelector<HTMLInputElement>('input[type=search], #r-account');
  if (search) {
    event.preventDefault();
    search.focus();
  }
});
void start();
