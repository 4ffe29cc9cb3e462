/**
 * The timelines, drawn as SVG scaled to the page width: an account's status band (one segment
 * per status, from its first event to its last), its runs as bars from start to finish, and one
 * run's events on a line. Each drawing has a text twin (a list or table) for screen readers and
 * for reading exact times.
 */
import type { Account, Run } from './api.js';
import { h, svg } from './dom.js';
import { duration, statusLabel, time } from './format.js';

const WIDTH = 1000;

export interface Segment {
  readonly status: string;
  readonly from: string;
  /** `null` for the current status. */
  readonly to: string | null;
}

/** The account's statuses over time, from its transitions. */
export function statusSegments(account: Account): Segment[] {
  const segments: Segment[] = [];
  let status = account.transitions[0]?.from ?? account.status;
  let from = account.firstSeenAt;
  for (const t of account.transitions) {
    segments.push({ status, from, to: t.at });
    status = t.to;
    from = t.at;
  }
  segments.push({ status, from, to: null });
  return segments;
}

function segmentText(s: Segment): string {
  return s.to === null
    ? `${statusLabel(s.status)} since ${time(s.from)} (now)`
    : `${statusLabel(s.status)}, ${time(s.from)} – ${time(s.to)}`;
}

function scale(start: number, end: number): (iso: string) => number {
  const span = Math.max(end - start, 1);
  return (iso) => ((Date.parse(iso) - start) / span) * WIDTH;
}

/**
 * Where the band ends: the current status holds until now, but an old history would shrink to
 * a sliver against today, so the band runs on past the last event by at most its own length.
 */
export function bandEnd(account: Account): number {
  const start = Date.parse(account.firstSeenAt);
  const last = Math.max(Date.parse(account.lastEventAt), start + 1000);
  return Math.max(last, Math.min(Date.now(), last + (last - start)));
}

/** The status band, with a marker at `at` (time travel) when given. */
export function statusBand(account: Account, at?: number): HTMLElement {
  const segments = statusSegments(account);
  const start = Date.parse(account.firstSeenAt);
  const end = bandEnd(account);
  const x = scale(start, end);
  const drawing = svg(
    'svg',
    {
      class: 'band',
      viewBox: `0 0 ${WIDTH} 24`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': `Status history: ${segments.map((s) => statusLabel(s.status)).join(', then ')}`,
    },
    ...segments.map((s) => {
      const left = x(s.from);
      const right = s.to === null ? WIDTH : x(s.to);
      return svg(
        'rect',
        {
          class: `fill st-${s.status}`,
          x: left,
          y: 0,
          width: Math.max(right - left, 2),
          height: 24,
        },
        svg('title', {}, segmentText(s)),
      );
    }),
    at === undefined
      ? null
      : svg('rect', {
          class: 'marker',
          x: Math.min(Math.max(x(new Date(at).toISOString()), 0), WIDTH - 3),
          y: 0,
          width: 3,
          height: 24,
        }),
  );
  return h(
    'figure',
    { class: 'timeline' },
    drawing,
    h(
      'div',
      { class: 'axis' },
      h('span', {}, time(account.firstSeenAt)),
      h('span', {}, time(new Date(end).toISOString())),
    ),
    h(
      'ol',
      { class: 'segments', 'data-testid': 'status-segments' },
      ...segments.map((s) =>
        h(
          'li',
          { 'data-status': s.status, 'data-from': s.from },
          h('span', { class: `swatch st-${s.status}`, 'aria-hidden': 'true' }),
          segmentText(s),
        ),
      ),
    ),
  );
}

function runStart(run: Run): string | null {
  return run.startedAt ?? run.createdAt ?? run.timeline[0]?.at ?? null;
}

function runEnd(run: Run): string | null {
  return run.finishedAt ?? run.lastEventAt ?? run.timeline[run.timeline.length - 1]?.at ?? null;
}

/** One bar per run from start to finish (or to its last event while unfinished). */
export function runBars(runs: readonly Run[]): HTMLElement {
  const drawn = runs.filter((r) => runStart(r) && runEnd(r)).slice(-200);
  if (drawn.length === 0) return h('p', { class: 'muted' }, 'No sync runs yet.');
  const start = Math.min(...drawn.map((r) => Date.parse(runStart(r)!)));
  const end = Math.max(...drawn.map((r) => Date.parse(runEnd(r)!)), start + 1000);
  const x = scale(start, end);
  const row = 14;
  return h(
    'figure',
    { class: 'timeline' },
    svg(
      'svg',
      {
        class: 'bars',
        viewBox: `0 0 ${WIDTH} ${drawn.length * row}`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-label': `${drawn.length} sync runs over time, coloured by outcome (listed in the table below)`,
      },
      ...drawn.map((run, i) => {
        const left = x(runStart(run)!);
        return svg(
          'rect',
          {
            class: `fill st-${run.status}`,
            x: left,
            y: i * row + 2,
            width: Math.max(x(runEnd(run)!) - left, 3),
            height: row - 4,
          },
          svg(
            'title',
            {},
            `${statusLabel(run.status)} run ${run.id}: ${run.recordsReceived} records, ${run.errors} errors, ${duration(run.durationMs)}`,
          ),
        );
      }),
    ),
    h(
      'div',
      { class: 'axis' },
      h('span', {}, time(new Date(start).toISOString())),
      h('span', {}, time(new Date(end).toISOString())),
    ),
  );
}

/** One run's events on a line, each a tick coloured by the status it left the run in. */
export function runEvents(run: Run): HTMLElement {
  const first = run.timeline[0]?.at;
  const last = run.timeline[run.timeline.length - 1]?.at;
  if (!first || !last) return h('p', { class: 'muted' }, 'No events.');
  const start = Date.parse(first);
  const x = scale(start, Math.max(Date.parse(last), start + 1000));
  return h(
    'figure',
    { class: 'timeline' },
    svg(
      'svg',
      {
        class: 'ticks',
        viewBox: `0 0 ${WIDTH} 24`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-label': `${run.timeline.length} events (listed below)`,
      },
      svg('rect', { class: 'rail', x: 0, y: 11, width: WIDTH, height: 2 }),
      ...run.timeline.map((e) =>
        svg(
          'rect',
          {
            class: `fill st-${e.status}`,
            x: Math.min(x(e.at), WIDTH - 4),
            y: 2,
            width: 4,
            height: 20,
          },
          svg('title', {}, `${e.event} at ${time(e.at)}: ${statusLabel(e.status)}`),
        ),
      ),
    ),
    h('div', { class: 'axis' }, h('span', {}, time(first)), h('span', {}, time(last))),
  );
}
