/**
 * Every sequence of integrated-account events up to length 4, over every event type with payload
 * statuses varied, all at the SAME source time (so the envelope id alone decides the order):
 * - the fold never throws and always yields a valid, self-consistent status;
 * - `deleted` is final: the state is the state at the deletion, plus `ignoredEvents`;
 * - every arrival order (all permutations, and with a duplicate delivery), folded the way the
 *   engine meets events live (in order, or refolding on a late one), gives the sorted fold's state.
 */
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_STATUSES,
  USABLE_ACCOUNT_STATUSES,
  accountsProjection,
  type AccountState,
} from '../../src/truto/projections/index.js';
import type { IntegratedAccountEvent } from '../../src/truto/events.js';
import { foldEvents, foldInArrivalOrder } from '../../src/testing/index.js';
import { accountEvent } from './builders.js';

/** One template per (type, payload status) variant; ids and times are set per sequence. */
const VARIANTS: readonly IntegratedAccountEvent[] = [
  accountEvent('created', { status: 'connecting' }),
  accountEvent('created', { status: 'active' }),
  accountEvent('created', {}),
  accountEvent('updated', { status: 'connecting' }),
  accountEvent('updated', { status: 'active' }),
  accountEvent('updated', { status: 'needs_reauth' }),
  accountEvent('updated', { status: 'no_such_status' }),
  accountEvent('active', { status: 'active' }),
  accountEvent('reactivated', { status: 'active' }),
  accountEvent('authentication_error', { status: 'needs_reauth', last_error: 'expired' }),
  accountEvent('post_install_error', { status: 'post_install_error' }),
  accountEvent('validation_error', { status: 'validation_error' }),
  accountEvent('post_connect_form_submitted', { status: 'connecting' }),
  accountEvent('forbidden_error', { last_forbidden_error: '403' }),
  accountEvent('deleted'),
];
const SOURCE_TIME = Date.UTC(2024, 8, 10, 12);

function* sequences(maxLength: number): Generator<number[]> {
  const stack: number[][] = VARIANTS.map((_, i) => [i]);
  while (stack.length > 0) {
    const seq = stack.pop() as number[];
    yield seq;
    if (seq.length < maxLength) for (let i = 0; i < VARIANTS.length; i++) stack.push([...seq, i]);
  }
}

/**
 * Events of a sequence, ids `e0` < `e1` < … in sequence order, all at one source time. The copies
 * keep the templates' stored columns and facts, not the payload and envelope decoded lazily from
 * the body: `accounts` reads facts only (`reads: 'facts'`), as the engine folds it without bodies.
 */
function eventsOf(seq: readonly number[]): IntegratedAccountEvent[] {
  return seq.map((v, i) => ({
    ...(VARIANTS[v] as IntegratedAccountEvent),
    id: `e${i}`,
    sourceTime: SOURCE_TIME,
    position: i + 1,
  }));
}

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) yield [items[i] as T, ...tail];
  }
}

/** The invariants every folded account satisfies; returns the broken ones (plain code: fast). */
function brokenInvariants(
  state: AccountState,
  events: readonly IntegratedAccountEvent[],
): string[] {
  const broken: string[] = [];
  if (!ACCOUNT_STATUSES.includes(state.status)) broken.push(`invalid status ${state.status}`);
  if (state.usable !== USABLE_ACCOUNT_STATUSES.includes(state.status))
    broken.push('usable disagrees with status');
  if (state.deleted !== (state.status === 'deleted')) broken.push('deleted disagrees with status');
  if (state.eventCount + state.ignoredEvents !== events.length)
    broken.push('events not all counted');
  // Transitions form a chain of real changes ending in the current status.
  let previous: string | null = null;
  for (const t of state.transitions) {
    if (t.from === t.to) broken.push(`transition to the same status ${t.to}`);
    if (previous !== null && t.from !== previous)
      broken.push(`transition from ${t.from} after one to ${previous}`);
    previous = t.to;
  }
  if (previous !== null && previous !== state.status)
    broken.push('last transition is not to the status');
  // `deleted` is final: the state at the first deletion, plus the events after it counted.
  const deletion = events.findIndex((e) => e.type === 'integrated_account:deleted');
  if (deletion !== -1) {
    const atDeletion = foldEvents(accountsProjection, events.slice(0, deletion + 1));
    const expected = { ...atDeletion, ignoredEvents: events.length - deletion - 1 };
    if (JSON.stringify(expected) !== JSON.stringify(state)) broken.push('deleted is not final');
  }
  return broken;
}

describe('accounts: every event sequence up to length 4', () => {
  const n = VARIANTS.length;
  it(`folds ${n} event variants in every sequence of length 1 to 4: invariants and arrival orders`, () => {
    let checked = 0;
    for (const seq of sequences(4)) {
      const events = eventsOf(seq);
      let state: AccountState;
      try {
        state = foldEvents(accountsProjection, events);
      } catch (error) {
        throw new Error(`fold threw on ${describeSeq(seq)}: ${String(error)}`, { cause: error });
      }
      const broken = brokenInvariants(state, events);
      if (broken.length > 0) expect(broken, describeSeq(seq)).toEqual([]);
      // Arrival orders: every permutation up to length 3; for length 4 the reverse (every order
      // of length 4 is the subject of the next test, on the order-sensitive types).
      const orders = seq.length <= 3 ? [...permutations(events)] : [[...events].reverse()];
      const expected = JSON.stringify(state);
      for (const order of orders) {
        // The first arrival delivered again at the end: a duplicate must change nothing.
        const arrived = foldInArrivalOrder(accountsProjection, [
          ...order,
          order[0] as IntegratedAccountEvent,
        ]);
        if (JSON.stringify(arrived) !== expected) {
          expect(
            arrived,
            `arrival ${order.map((e) => e.id).join(',')} of ${describeSeq(seq)}`,
          ).toEqual(state);
        }
      }
      checked += 1;
    }
    expect(checked).toBe(n + n ** 2 + n ** 3 + n ** 4);
  }, 120_000);

  it('all 24 arrival orders of every length-4 sequence over the order-sensitive types', () => {
    const core = [
      ['integrated_account:created', 'connecting'],
      ['integrated_account:updated', 'active'],
      ['integrated_account:updated', 'connecting'],
      ['integrated_account:reactivated', 'active'],
      ['integrated_account:authentication_error', 'needs_reauth'],
      ['integrated_account:deleted', undefined],
    ].map(([type, status]) =>
      VARIANTS.findIndex((e) => e.type === type && e.facts.status === status),
    );
    expect(core).not.toContain(-1);
    for (const seq of sequences(4)) {
      if (seq.length !== 4 || !seq.every((v) => core.includes(v))) continue;
      const events = eventsOf(seq);
      const expected = JSON.stringify(foldEvents(accountsProjection, events));
      for (const order of permutations(events)) {
        const arrived = JSON.stringify(foldInArrivalOrder(accountsProjection, order));
        if (arrived !== expected) expect(arrived, describeSeq(seq)).toBe(expected);
      }
    }
  }, 60_000);
});

function describeSeq(seq: readonly number[]): string {
  return seq
    .map((v) => `${VARIANTS[v]?.type}(${JSON.stringify(VARIANTS[v]?.facts.status)})`)
    .join(' → ');
}
