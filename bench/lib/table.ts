/** Prints rows as one aligned text table (stdout), leaving out columns no row filled. */
import type { Row } from './types.js';

interface Column {
  readonly title: string;
  readonly value: (row: Row) => string | undefined;
  readonly right?: boolean;
}

const fixed = (n: number | undefined, digits: number): string | undefined =>
  n === undefined ? undefined : n.toFixed(digits);
const grouped = (n: number | undefined): string | undefined =>
  n === undefined ? undefined : Math.round(n).toLocaleString('en-US');

const COLUMNS: readonly Column[] = [
  { title: 'bench', value: (r) => r.bench },
  { title: 'case', value: (r) => r.case },
  { title: 'bodies', value: (r) => r.bodies },
  { title: 'events', value: (r) => grouped(r.events), right: true },
  {
    title: 'MB',
    value: (r) => fixed(r.bytes === undefined ? undefined : r.bytes / 1e6, 1),
    right: true,
  },
  { title: 'secs', value: (r) => fixed(r.seconds, 2), right: true },
  { title: 'events/s', value: (r) => grouped(r.eventsPerSec), right: true },
  { title: 'MB/s', value: (r) => fixed(r.mbPerSec, 1), right: true },
  {
    title: '% floor',
    value: (r) => (r.ofFloor === undefined ? undefined : `${(r.ofFloor * 100).toFixed(0)}%`),
    right: true,
  },
  { title: 'p50 ms', value: (r) => fixed(r.p50Ms, 2), right: true },
  { title: 'p99 ms', value: (r) => fixed(r.p99Ms, 2), right: true },
  { title: 'max ms', value: (r) => fixed(r.maxMs, 2), right: true },
  { title: 'peak RSS MB', value: (r) => fixed(r.peakRssMb, 0), right: true },
  {
    title: 'non-200',
    value: (r) => (r.non200 === undefined ? undefined : String(r.non200)),
    right: true,
  },
  {
    title: 'target',
    value: (r) =>
      r.target === undefined
        ? undefined
        : `${r.target}${r.met === undefined ? '' : r.met ? ' ✓' : ' ✗'}`,
  },
  {
    title: 'status / note',
    value: (r) =>
      r.status === 'ok' ? r.note : `${r.status.toUpperCase()}${r.note ? `: ${r.note}` : ''}`,
  },
];

export function formatTable(rows: readonly Row[]): string {
  const used = COLUMNS.filter((c) => rows.some((r) => c.value(r) !== undefined));
  const cells = rows.map((r) => used.map((c) => c.value(r) ?? ''));
  const widths = used.map((c, i) =>
    Math.max(c.title.length, ...cells.map((line) => line[i]!.length)),
  );
  const pad = (text: string, i: number) =>
    used[i]!.right ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const lines = [
    used.map((c, i) => pad(c.title, i)).join('  '),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map((line) => line.map(pad).join('  ')),
  ];
  return lines.map((l) => l.trimEnd()).join('\n');
}
