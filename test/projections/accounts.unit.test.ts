/**
 * `accounts`: one test per row of the status table and per field of projections.md, then the
 * hand-written fixture scenarios end to end (bodies → parseWebhook → fold).
 */
import { describe, expect, it } from 'vitest';
import { accountsProjection, type AccountState } from '../../src/truto/projections/index.js';
import { TRUTO_ACCOUNT_STATUSES } from '../../src/truto/catalogue.js';
import type { IntegratedAccountEvent } from '../../src/truto/events.js';
import { eventsFor, foldEvents, givenEvents } from '../../src/testing/index.js';
import {
  QUICKBOOKS_ACCOUNT,
  SALESFORCE_ACCOUNT,
  authenticationErrorThenReactivated,
  authenticationErrorThenUserReconnect,
  deletionThenStrayEvents,
  reconnectAfterPostInstallError,
  HUBSPOT_ACCOUNT,
  PIPEDRIVE_ACCOUNT,
} from '../fixtures/accounts.js';
import { ACCOUNT, accountEvent, at } from './builders.js';

const given = () => givenEvents(accountsProjection, ACCOUNT);
/** An account made active at minute 0, so the event under test is a transition. */
const activeFirst = () => accountEvent('active', { status: 'active' }, { minute: 0 });

describe('accounts: the status table', () => {
  describe('created', () => {
    it.each(TRUTO_ACCOUNT_STATUSES)(
      'takes payload.status %s when it is one of the five',
      (status) => {
        given()
          .when(accountEvent('created', { status }))
          .thenMatches({ status, statusSince: at(0) });
      },
    );
    it.each([['archived'], [null], [undefined]])(
      'is connecting when payload.status is %s',
      (status) => {
        const payload = status === undefined ? {} : { status };
        given()
          .when(accountEvent('created', payload))
          .thenMatches({ status: 'connecting', statusSince: at(0) });
      },
    );
    it('`reactivated` in the payload is not one of the five: connecting', () => {
      given()
        .when(accountEvent('created', { status: 'reactivated' }))
        .thenMatches({ status: 'connecting' });
    });
  });

  it.each([
    ['active', 'active'],
    ['reactivated', 'reactivated'],
    ['authentication_error', 'needs_reauth'],
    ['post_install_error', 'post_install_error'],
    ['validation_error', 'validation_error'],
  ] as const)('%s → %s, whatever the payload says', (action, expected) => {
    given()
      .when(
        accountEvent('created', { status: 'connecting' }, { minute: 0 }),
        accountEvent(action, { status: 'connecting' }, { minute: 1 }),
      )
      .thenMatches({ status: expected, statusSince: at(1) });
  });

  describe('updated', () => {
    it.each(TRUTO_ACCOUNT_STATUSES.filter((s) => s !== 'active'))(
      'moves to payload.status %s',
      (status) => {
        given()
          .when(activeFirst(), accountEvent('updated', { status }, { minute: 1 }))
          .thenMatches({ status, statusSince: at(1) });
      },
    );
    it('moves to active from needs_reauth', () => {
      given()
        .when(
          accountEvent('authentication_error', {}, { minute: 0 }),
          accountEvent('updated', { status: 'active' }, { minute: 1 }),
        )
        .thenMatches({ status: 'active', statusSince: at(1) });
    });
    it('`active` leaves reactivated as it is', () => {
      given()
        .when(
          accountEvent('reactivated', {}, { minute: 0 }),
          accountEvent('updated', { status: 'active' }, { minute: 1 }),
        )
        .thenMatches({ status: 'reactivated', statusSince: at(0), transitions: [] });
    });
    it.each([['archived'], ['reactivated'], ['deleted'], [null], [undefined]])(
      'leaves the status unchanged when payload.status is %s',
      (status) => {
        const payload = status === undefined ? {} : { status };
        given()
          .when(
            accountEvent('validation_error', {}, { minute: 0 }),
            accountEvent('updated', payload, { minute: 1 }),
          )
          .thenMatches({
            status: 'validation_error',
            statusSince: at(0),
            transitions: [],
            eventCount: 2,
          });
      },
    );
  });

  describe('deleted', () => {
    it('moves to deleted, with the transition', () => {
      given()
        .when(activeFirst(), accountEvent('deleted', {}, { minute: 1 }))
        .thenMatches({
          status: 'deleted',
          deleted: true,
          usable: false,
          transitions: [{ from: 'active', to: 'deleted', at: at(1), event: 'deleted' }],
        });
    });
    it('is final: later events change nothing and are counted in ignoredEvents', () => {
      const before = foldEvents(accountsProjection, [
        activeFirst(),
        accountEvent('deleted', {}, { minute: 1 }),
      ]);
      given()
        .when(
          activeFirst(),
          accountEvent('deleted', {}, { minute: 1 }),
          accountEvent('active', { status: 'active', tenant_id: 'other' }, { minute: 2 }),
          accountEvent('created', { status: 'active' }, { minute: 3 }),
          accountEvent('updated', { status: 'connecting', last_error: 'late' }, { minute: 4 }),
        )
        .then({ ...before, ignoredEvents: 3 });
    });
    it('an event at the deletion time but with a greater id comes after it: ignored', () => {
      given()
        .when(
          accountEvent('active', {}, { minute: 1, id: 'b' }),
          accountEvent('deleted', {}, { minute: 1, id: 'a' }),
        )
        .thenMatches({ status: 'deleted', eventCount: 1, ignoredEvents: 1 });
    });
  });

  it.each([
    ['post_connect_form_submitted', { status: 'needs_reauth' }],
    ['forbidden_error', { status: 'needs_reauth' }],
  ])('%s leaves the status unchanged (even with a payload status)', (action, payload) => {
    given()
      .when(activeFirst(), accountEvent(action, payload, { minute: 1 }))
      .thenMatches({ status: 'active', statusSince: at(0), transitions: [], eventCount: 2 });
  });

  it('an event type the reducer does not know leaves the status unchanged', () => {
    // The engine only shows `eventTypes`; a name added later must still not throw or move status.
    const state = foldEvents(accountsProjection, [activeFirst()]);
    // The type system refuses a name outside the catalogue, hence the cast: this is the runtime
    // guarantee for a type Truto adds before the catalogue knows it.
    const next = accountsProjection.evolve(state, {
      ...accountEvent('updated', { status: 'connecting' }, { minute: 1 }),
      type: 'integrated_account:re_authenticated',
    } as unknown as IntegratedAccountEvent);
    expect(next).toMatchObject({ status: 'active', eventCount: 2, lastEventAt: at(1) });
  });
});

describe('accounts: fields', () => {
  it('the first status is not a transition; each change of status is one, in source order', () => {
    given()
      .when(
        accountEvent('authentication_error', {}, { minute: 2 }),
        accountEvent('created', { status: 'connecting' }, { minute: 0 }),
        accountEvent('active', {}, { minute: 1 }),
        accountEvent('active', {}, { minute: 1.5 }),
      )
      .thenMatches({
        status: 'needs_reauth',
        statusSince: at(2),
        transitions: [
          { from: 'connecting', to: 'active', at: at(1), event: 'active' },
          { from: 'active', to: 'needs_reauth', at: at(2), event: 'authentication_error' },
        ],
      });
  });

  it('before any event sets a status: connecting, statusSince null; the first one sets it without a transition', () => {
    const first = given().when(
      accountEvent('forbidden_error', { last_forbidden_error: { code: 403 } }),
    );
    first.thenMatches({ status: 'connecting', statusSince: null, transitions: [] });
    given()
      .when(
        accountEvent('forbidden_error', {}, { minute: 0 }),
        accountEvent('updated', { status: 'needs_reauth' }, { minute: 1 }),
      )
      .thenMatches({ status: 'needs_reauth', statusSince: at(1), transitions: [] });
  });

  it('usable is true exactly for active and reactivated', () => {
    const usable = (action: string) =>
      foldEvents(accountsProjection, [accountEvent(action)]).usable;
    expect(usable('active')).toBe(true);
    expect(usable('reactivated')).toBe(true);
    for (const action of [
      'created',
      'authentication_error',
      'post_install_error',
      'validation_error',
      'deleted',
    ]) {
      expect(usable(action), action).toBe(false);
    }
  });

  it('tenantId, integration, environmentIntegrationId come from the latest payload (in source time) that has them', () => {
    given()
      .when(
        accountEvent('updated', { tenant_id: 't-late' }, { minute: 3 }),
        accountEvent(
          'created',
          {
            tenant_id: 't-1',
            environment_integration_id: 'ei-1',
            integration: { id: 'i', name: 'hubspot' },
          },
          { minute: 0 },
        ),
        accountEvent(
          'active',
          { tenant_id: 't-2', integration: { name: 'salesforce' } },
          { minute: 1 },
        ),
        accountEvent('forbidden_error', { tenant_id: null }, { minute: 2 }),
      )
      .thenMatches({
        tenantId: 't-late',
        integration: 'salesforce',
        environmentIntegrationId: 'ei-1',
      });
  });

  it('lastError and lastForbiddenError keep the latest non-null value; formSubmittedAt the latest submission', () => {
    given()
      .when(
        accountEvent('post_install_error', { last_error: { message: 'first' } }, { minute: 0 }),
        accountEvent('post_connect_form_submitted', {}, { minute: 1 }),
        accountEvent('validation_error', { last_error: { message: 'second' } }, { minute: 2 }),
        accountEvent('forbidden_error', { last_forbidden_error: 'no scope' }, { minute: 3 }),
        accountEvent('post_connect_form_submitted', {}, { minute: 4 }),
        accountEvent('active', { last_error: null, last_forbidden_error: null }, { minute: 5 }),
      )
      .thenMatches({
        lastError: { message: 'second' },
        lastForbiddenError: 'no scope',
        formSubmittedAt: at(4),
      });
  });

  it('firstSeenAt, lastEventAt, eventCount count distinct applied events', () => {
    const created = accountEvent('created', {}, { minute: 0 });
    given()
      .when(
        accountEvent('active', {}, { minute: 7 }),
        created,
        created,
        accountEvent('updated', {}, { minute: 3 }),
      )
      .thenMatches({ firstSeenAt: at(0), lastEventAt: at(7), eventCount: 3, ignoredEvents: 0 });
  });

  it('the complete state of a short history', () => {
    given()
      .when(
        accountEvent(
          'created',
          {
            status: 'connecting',
            tenant_id: 'acme',
            integration: { name: 'hubspot' },
            environment_integration_id: 'ei',
          },
          { minute: 0 },
        ),
        accountEvent('active', {}, { minute: 1 }),
      )
      .then({
        id: ACCOUNT,
        status: 'active',
        usable: true,
        deleted: false,
        tenantId: 'acme',
        integration: 'hubspot',
        environmentIntegrationId: 'ei',
        lastError: null,
        lastForbiddenError: null,
        formSubmittedAt: null,
        statusSince: at(1),
        transitions: [{ from: 'connecting', to: 'active', at: at(1), event: 'active' }],
        firstSeenAt: at(0),
        lastEventAt: at(1),
        eventCount: 2,
        ignoredEvents: 0,
      } satisfies AccountState);
  });
});

describe('accounts: the fixture scenarios', () => {
  it('a reconnect after a post-install error', () => {
    givenEvents(accountsProjection, HUBSPOT_ACCOUNT)
      .when(...eventsFor(reconnectAfterPostInstallError))
      .then({
        id: HUBSPOT_ACCOUNT,
        status: 'active',
        usable: true,
        deleted: false,
        tenantId: 'acme-corp',
        integration: 'hubspot',
        environmentIntegrationId: 'e1e1e1e1-0000-4000-8000-00000000e001',
        lastError: {
          message: 'Post install step "fetch_owner" failed: 403 Forbidden',
          step: 'fetch_owner',
        },
        lastForbiddenError: null,
        formSubmittedAt: null,
        statusSince: '2024-09-10T09:30:12.500Z',
        transitions: [
          {
            from: 'connecting',
            to: 'post_install_error',
            at: '2024-09-10T09:00:05.000Z',
            event: 'post_install_error',
          },
          {
            from: 'post_install_error',
            to: 'connecting',
            at: '2024-09-10T09:30:00.000Z',
            event: 'updated',
          },
          { from: 'connecting', to: 'active', at: '2024-09-10T09:30:12.500Z', event: 'active' },
        ],
        firstSeenAt: '2024-09-10T09:00:00.120Z',
        lastEventAt: '2024-09-10T09:30:12.500Z',
        eventCount: 4,
        ignoredEvents: 0,
      });
  });

  it('an authentication error followed by reactivation (the later `updated: active` keeps reactivated)', () => {
    givenEvents(accountsProjection, SALESFORCE_ACCOUNT)
      .when(...eventsFor(authenticationErrorThenReactivated))
      .thenMatches({
        status: 'reactivated',
        usable: true,
        statusSince: '2024-09-10T14:00:00.000Z',
        lastForbiddenError: { message: 'INSUFFICIENT_ACCESS: Opportunity', status: 403 },
        lastError: { message: 'invalid_grant: expired access/refresh token', status: 401 },
        transitions: [
          { from: 'connecting', to: 'active', at: '2024-09-09T08:00:04.000Z', event: 'active' },
          {
            from: 'active',
            to: 'needs_reauth',
            at: '2024-09-10T13:00:00.000Z',
            event: 'authentication_error',
          },
          {
            from: 'needs_reauth',
            to: 'reactivated',
            at: '2024-09-10T14:00:00.000Z',
            event: 'reactivated',
          },
        ],
        eventCount: 6,
      });
  });

  it('an authentication error followed by a user reconnect (updated, then active)', () => {
    givenEvents(accountsProjection, PIPEDRIVE_ACCOUNT)
      .when(...eventsFor(authenticationErrorThenUserReconnect))
      .thenMatches({
        status: 'active',
        tenantId: 'initech',
        integration: 'pipedrive',
        formSubmittedAt: '2024-09-08T10:01:00.000Z',
        transitions: [
          { from: 'connecting', to: 'active', at: '2024-09-08T10:01:03.000Z', event: 'active' },
          {
            from: 'active',
            to: 'needs_reauth',
            at: '2024-09-11T07:15:00.000Z',
            event: 'authentication_error',
          },
          {
            from: 'needs_reauth',
            to: 'connecting',
            at: '2024-09-11T09:00:00.000Z',
            event: 'updated',
          },
          { from: 'connecting', to: 'active', at: '2024-09-11T09:00:02.000Z', event: 'active' },
        ],
      });
  });

  it('a deletion followed by stray late events (and a duplicate deletion)', () => {
    givenEvents(accountsProjection, QUICKBOOKS_ACCOUNT)
      .when(...eventsFor(deletionThenStrayEvents))
      .thenMatches({
        status: 'deleted',
        deleted: true,
        usable: false,
        tenantId: 'umbrella',
        integration: 'quickbooks',
        lastError: { message: 'Company file is not a QuickBooks Online Plus subscription' },
        statusSince: '2024-09-12T16:00:00.000Z',
        lastEventAt: '2024-09-12T16:00:00.000Z',
        eventCount: 4,
        ignoredEvents: 2,
      });
  });
});
