/**
 * How statuses and times read. Every status is shown as an icon *and* words, with its colour
 * from a class: colour is never the only carrier of meaning.
 */
import { h } from './dom.js';

interface StatusLook {
  readonly label: string;
  readonly icon: string;
}

export const ACCOUNT_STATUSES: Readonly<Record<string, StatusLook>> = {
  connecting: { label: 'Connecting', icon: '◌' },
  active: { label: 'Active', icon: '✓' },
  reactivated: { label: 'Reactivated', icon: '↻' },
  needs_reauth: { label: 'Needs re-authorization', icon: '⚠' },
  post_install_error: { label: 'Post-install error', icon: '✕' },
  validation_error: { label: 'Validation error', icon: '✕' },
  deleted: { label: 'Deleted', icon: '⊘' },
};

export const RUN_STATUSES: Readonly<Record<string, StatusLook>> = {
  created: { label: 'Created', icon: '◌' },
  running: { label: 'Running', icon: '▶' },
  rate_limited: { label: 'Rate-limited', icon: '‖' },
  completed: { label: 'Completed', icon: '✓' },
  failed: { label: 'Failed', icon: '✕' },
  stopped: { label: 'Stopped', icon: '■' },
};

function look(status: string): StatusLook {
  return ACCOUNT_STATUSES[status] ?? RUN_STATUSES[status] ?? { label: status, icon: '•' };
}

export function statusLabel(status: string): string {
  return look(status).label;
}

/** A status badge: icon (hidden from screen readers), words, colour class. */
export function badge(status: string): HTMLSpanElement {
  const { label, icon } = look(status);
  return h(
    'span',
    { class: `badge st-${status}`, 'data-status': status },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, icon),
    ` ${label}`,
  );
}

/** An ISO time as `2024-09-01 12:00:05 UTC` (the API's times are UTC; so is the display). */
export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function timeElement(iso: string | null | undefined): HTMLElement {
  return iso ? h('time', { datetime: iso }, time(iso)) : h('span', { class: 'muted' }, '—');
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}
