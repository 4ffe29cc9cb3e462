/**
 * `accounts`: the integrated-account state machine (shared/docs/projections.md).
 *
 * Key: `payload.id` of `integrated_account:*` events (stream `integrated_account:<id>`).
 *
 * Fields: `id`, `status`, `usable`, `deleted`, `tenantId`, `integration`,
 * `environmentIntegrationId`, `lastError`, `lastForbiddenError`, `formSubmittedAt`, `statusSince`,
 * `transitions` (`[{ from, to, at, event }]`), `firstSeenAt`, `lastEventAt`, `eventCount`,
 * `ignoredEvents`. Times are ISO-8601 UTC strings with milliseconds; absent values are `null`.
 *
 * Choices where the specification is silent:
 * - Before any event has determined a status (e.g. the first event seen is `forbidden_error`, or an
 *   `updated` without a usable status) the account shows `connecting` with `statusSince: null`.
 *   The first event that does determine a status sets it without recording a transition: a
 *   transition is only recorded from a status that was actually observed.
 * - `statusSince` moves only when the status changes: `active` then `active` again keeps the time
 *   of the first.
 * - `event` in a transition is the action name (`authentication_error`), not the full type.
 * - `lastError` / `lastForbiddenError` keep the latest non-null value (the facts drop nulls, so a
 *   cleared error is not seen); they are JSON values as Truto sent them.
 * - `formSubmittedAt` is the source time of the latest `post_connect_form_submitted`.
 * - `deleted` is final in fold order, i.e. by (source time, id): an event at the same source time
 *   as the deletion but with a greater id is also ignored. Ignored events change nothing but
 *   `ignoredEvents`: not `lastEventAt`, not `eventCount`.
 * - The payload of a `deleted` event (`{ id }` only) carries nothing else, so the descriptive
 *   fields keep their last values.
 * - An event type the reducer does not know leaves the status unchanged but is still counted.
 */
import { INTEGRATED_ACCOUNT_EVENTS, TRUTO_ACCOUNT_STATUSES } from '../catalogue.js';
import { defineTrutoProjection, type IntegratedAccountEvent } from '../events.js';
import type { AccountFacts } from '../facts.js';
import { accountStream } from '../streams.js';
import { toIsoTime } from '../time.js';
import { actionOf, isOneOf } from './shared.js';

/** Every status the `accounts` projection can show. */
export const ACCOUNT_STATUSES = [
  'connecting',
  'active',
  'reactivated',
  'needs_reauth',
  'post_install_error',
  'validation_error',
  'deleted',
] as const;

export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/** Statuses in which the account can be used (`usable: true`). */
export const USABLE_ACCOUNT_STATUSES: readonly AccountStatus[] = ['active', 'reactivated'];

export interface AccountTransition {
  readonly from: AccountStatus;
  readonly to: AccountStatus;
  readonly at: string;
  /** The action that caused it, e.g. `authentication_error`. */
  readonly event: string;
}

export interface AccountState {
  readonly id: string;
  readonly status: AccountStatus;
  readonly usable: boolean;
  readonly deleted: boolean;
  readonly tenantId: string | null;
  /** The `integration.name` slug, e.g. `salesforce`. */
  readonly integration: string | null;
  readonly environmentIntegrationId: string | null;
  /** Latest non-null `last_error` seen (a JSON value). */
  readonly lastError: unknown;
  /** Latest non-null `last_forbidden_error` seen (a JSON value). */
  readonly lastForbiddenError: unknown;
  readonly formSubmittedAt: string | null;
  /** Source time of the event that set the current status; `null` while no event has set one. */
  readonly statusSince: string | null;
  readonly transitions: readonly AccountTransition[];
  readonly firstSeenAt: string | null;
  readonly lastEventAt: string | null;
  /** Distinct events applied (ignored ones excluded). */
  readonly eventCount: number;
  /** Events after the deletion, which change nothing else. */
  readonly ignoredEvents: number;
}

/** The state before an account's first event. */
export function initialAccountState(id: string): AccountState {
  return {
    id,
    status: 'connecting',
    usable: false,
    deleted: false,
    tenantId: null,
    integration: null,
    environmentIntegrationId: null,
    lastError: null,
    lastForbiddenError: null,
    formSubmittedAt: null,
    statusSince: null,
    transitions: [],
    firstSeenAt: null,
    lastEventAt: null,
    eventCount: 0,
    ignoredEvents: 0,
  };
}

/**
 * The status an event moves an account to, or `null` for "unchanged" (the table of
 * projections.md).
 */
export function accountStatusAfter(
  current: AccountStatus,
  action: string,
  payloadStatus: string | undefined,
): AccountStatus | null {
  switch (action) {
    case 'created':
      return isOneOf(TRUTO_ACCOUNT_STATUSES, payloadStatus) ? payloadStatus : 'connecting';
    case 'active':
      return 'active';
    case 'reactivated':
      return 'reactivated';
    case 'authentication_error':
      return 'needs_reauth';
    case 'post_install_error':
      return 'post_install_error';
    case 'validation_error':
      return 'validation_error';
    case 'updated':
      if (!isOneOf(TRUTO_ACCOUNT_STATUSES, payloadStatus)) return null;
      // Truto itself says `active` for a reactivated account; keep the finer status.
      return payloadStatus === 'active' && current === 'reactivated'
        ? 'reactivated'
        : payloadStatus;
    case 'deleted':
      return 'deleted';
    default:
      // post_connect_form_submitted, forbidden_error, and anything Truto adds later.
      return null;
  }
}

/** Folds one integrated-account event into the account's state. */
export function evolveAccount(state: AccountState, event: IntegratedAccountEvent): AccountState {
  const facts = event.facts;
  if (facts?.kind !== 'account') return state;
  // Deletion is final: later events are only counted.
  if (state.deleted) return { ...state, ignoredEvents: state.ignoredEvents + 1 };

  const at = toIsoTime(event.sourceTime);
  const action = actionOf(event.type);
  const next = accountStatusAfter(state.status, action, facts.status);
  const statusKnown = state.statusSince !== null;

  let status = state.status;
  let statusSince = state.statusSince;
  let transitions = state.transitions;
  if (next !== null && (!statusKnown || next !== state.status)) {
    if (statusKnown)
      transitions = [...transitions, { from: state.status, to: next, at, event: action }];
    status = next;
    statusSince = at;
  }

  return {
    ...state,
    ...snapshotFields(facts),
    status,
    usable: USABLE_ACCOUNT_STATUSES.includes(status),
    deleted: status === 'deleted',
    formSubmittedAt: action === 'post_connect_form_submitted' ? at : state.formSubmittedAt,
    statusSince,
    transitions,
    firstSeenAt: state.firstSeenAt ?? at,
    lastEventAt: at,
    eventCount: state.eventCount + 1,
  };
}

/** The descriptive fields a payload carries; absent ones keep their previous value. */
function snapshotFields(facts: AccountFacts): Partial<AccountState> {
  const fields: { -readonly [K in keyof AccountState]?: AccountState[K] } = {};
  if (facts.tenantId !== undefined) fields.tenantId = facts.tenantId;
  if (facts.integration !== undefined) fields.integration = facts.integration;
  if (facts.environmentIntegrationId !== undefined) {
    fields.environmentIntegrationId = facts.environmentIntegrationId;
  }
  if (facts.lastError !== undefined && facts.lastError !== null) fields.lastError = facts.lastError;
  if (facts.lastForbiddenError !== undefined && facts.lastForbiddenError !== null) {
    fields.lastForbiddenError = facts.lastForbiddenError;
  }
  return fields;
}

/**
 * The `accounts` projection.
 *
 * @example
 * const state = foldEvents(accountsProjection, [eventFor(createdBody), eventFor(activeBody)]);
 * state.status; // 'active'
 */
export const accountsProjection = defineTrutoProjection({
  name: 'accounts',
  version: 1,
  eventTypes: INTEGRATED_ACCOUNT_EVENTS,
  // Facts hold every field the fold reads: rebuilds never load bodies.
  reads: 'facts',
  keyOf: (event) => (event.facts?.kind === 'account' ? event.facts.accountId : null),
  initialState: initialAccountState,
  streamOf: accountStream,
  evolve: evolveAccount,
});
