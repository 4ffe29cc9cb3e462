/**
 * Type-level tests of the public API (run by vitest's typecheck project): projection names and
 * states are inferred from the registry, event types are checked against the catalogue (open to
 * an application's own), `evolve` narrows by type, and the testing helpers take narrowed
 * projections. Each `@ts-expect-error` fails the run if its line ever compiles.
 */
import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import {
  ACCOUNT_STATUSES,
  createEngine,
  createTrutoEngine,
  defineDerivedProjection,
  defineProjection,
  defineTrutoProjection,
  envelopeSchema,
  INTEGRATED_ACCOUNT_EVENTS,
  integratedAccountPayloadSchema,
  projectionsOver,
  RUN_STATUSES,
  type AccountState,
  type AccountStatus,
  type AccountSyncState,
  type Change,
  type Engine,
  type ListResult,
  type PartitionSource,
  type ProjectionEvent,
  type ProjectionReset,
  type RecordFacts,
  type RecordState,
  type RecordsState,
  type RunState,
  type RunStatus,
  type TrutoEngine,
  type TrutoEventWith,
  type TrutoEventType,
} from '../../src/index.js';
import { eventsFor, foldEvents, givenEvents } from '../../src/testing/index.js';

const contacts = defineTrutoProjection({
  name: 'contacts',
  version: 1,
  eventTypes: ['record:created', 'integrated_account:deleted'],
  keyOf: (event) => event.payload.id,
  initialState: () => ({ created: 0 }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'record:created':
        expectTypeOf(event.payload.resource).toEqualTypeOf<string>();
        expectTypeOf(event.facts).toEqualTypeOf<RecordFacts>();
        // Fields the schema does not know are there, as unknown until checked.
        expectTypeOf(event.payload.record).toEqualTypeOf<unknown>();
        return { created: state.created + 1 };
      case 'integrated_account:deleted':
        expectTypeOf(event.payload.status).toEqualTypeOf<string | null | undefined>();
        return state;
    }
  },
});

declare const engine: TrutoEngine<readonly [typeof contacts]>;

describe('an engine typed by its projections', () => {
  it('infers each state from the projection name', () => {
    expectTypeOf(engine.get('accounts', 'a')).resolves.toEqualTypeOf<AccountState | undefined>();
    expectTypeOf(engine.get('contacts', 'c')).resolves.toEqualTypeOf<
      { created: number } | undefined
    >();
    expectTypeOf(engine.list('runs')).resolves.toEqualTypeOf<ListResult<RunState>>();
    expectTypeOf(engine.watch('account-sync', 'a')).toEqualTypeOf<
      Observable<AccountSyncState | undefined>
    >();
    expectTypeOf(engine.stateAt('records', 'k', { position: 1 })).resolves.toEqualTypeOf<
      RecordsState | undefined
    >();
    // An aggregate and its members are typed like any projection.
    expectTypeOf(engine.get('records', 'k')).resolves.toEqualTypeOf<RecordsState | undefined>();
    expectTypeOf(engine.get('record-states', 'k')).resolves.toEqualTypeOf<
      RecordState | undefined
    >();
    expectTypeOf(engine.changesOf('accounts')).toEqualTypeOf<
      Observable<Change<AccountState, 'accounts'> | ProjectionReset<'accounts'>>
    >();
  });

  it('refuses unknown projection names', () => {
    // @ts-expect-error: 'acounts' is no projection of this engine
    void engine.get('acounts', 'a');
    // @ts-expect-error: same for list
    void engine.list('acounts');
    // @ts-expect-error: same for watch
    engine.watch('acounts', 'a');
    // @ts-expect-error: same for changesOf
    engine.changesOf('acounts');
    // @ts-expect-error: same for stateAt
    void engine.stateAt('acounts', 'a', { position: 1 });
    // @ts-expect-error: same for rebuild
    void engine.rebuild(['acounts']);
  });

  it('narrows changes by their kind and projection', () => {
    engine.changes$.subscribe((change) => {
      if (change.kind === 'change' && change.projection === 'accounts') {
        expectTypeOf(change.after).toEqualTypeOf<AccountState>();
      }
    });
  });

  it('types createTrutoEngine without extra projections too', async () => {
    const plain = await createTrutoEngine({ store: null as never });
    expectTypeOf(plain.get('runs', 'r')).resolves.toEqualTypeOf<RunState | undefined>();
    // @ts-expect-error: no custom projection registered
    void plain.get('contacts', 'c');
  });

  it('types the core engine from any projection list', async () => {
    const counter = defineProjection({
      name: 'counter',
      version: 1,
      eventTypes: ['order:placed'],
      keyOf: (event) => event.stream,
      initialState: () => 0,
      evolve: (n) => n + 1,
    });
    const core = await createEngine({ store: null as never, projections: [counter] as const });
    expectTypeOf(core).toEqualTypeOf<Engine<readonly [typeof counter]>>();
    expectTypeOf(core.get('counter', 'k')).resolves.toEqualTypeOf<number | undefined>();
  });
});

describe('event types', () => {
  it('are checked against the catalogue', () => {
    defineTrutoProjection({
      name: 'typo',
      version: 1,
      // @ts-expect-error: not a Truto event type
      eventTypes: ['integrated_acount:active'],
      keyOf: () => null,
      initialState: () => 0,
      evolve: (n) => n,
    });
  });

  it("accept an application's own event names, typed", () => {
    type Batches = TrutoEventWith<{ 'batch_job:completed': { id: string; processed: number } }>;
    projectionsOver<Batches>()({
      name: 'batches',
      version: 1,
      eventTypes: ['batch_job:completed'],
      keyOf: (event) => event.payload.id,
      initialState: () => 0,
      evolve: (total, event) => {
        expectTypeOf(event.payload.processed).toEqualTypeOf<number>();
        return total + event.payload.processed;
      },
    });
    type Custom = ProjectionEvent<'order:placed', { total: number }>;
    projectionsOver<Custom>()({
      name: 'revenue',
      version: 1,
      eventTypes: ['order:placed'],
      keyOf: () => 'all',
      initialState: () => 0,
      evolve: (sum, event) => sum + event.payload.total,
    });
  });
});

describe('derived projections and testing helpers', () => {
  it('infer the source state of a derived projection', () => {
    const perAccount = defineDerivedProjection({
      name: 'contact-groups',
      version: 1,
      from: contacts,
      groupOf: (state) => {
        expectTypeOf(state).toEqualTypeOf<{ created: number }>();
        return null;
      },
      derive: (key, states) => ({ key, groups: states.length }),
    });
    expectTypeOf(perAccount.derive('k', [])).toEqualTypeOf<{ key: string; groups: number }>();
  });

  it('take a projection narrowed to some event types', () => {
    expectTypeOf(foldEvents(contacts, eventsFor([]))).toEqualTypeOf<{ created: number }>();
    givenEvents(contacts)
      .when(...eventsFor([]))
      .thenMatches({ created: 1 });
  });
});

describe('public exports', () => {
  it('include the schemas, the catalogue and the status unions', () => {
    expectTypeOf(envelopeSchema.parse).returns.toHaveProperty('id');
    expectTypeOf(integratedAccountPayloadSchema.parse).returns.toHaveProperty('tenant_id');
    expectTypeOf(INTEGRATED_ACCOUNT_EVENTS[0]).toEqualTypeOf<'integrated_account:created'>();
    expectTypeOf<(typeof ACCOUNT_STATUSES)[number]>().toEqualTypeOf<AccountStatus>();
    expectTypeOf<(typeof RUN_STATUSES)[number]>().toEqualTypeOf<RunStatus>();
    expectTypeOf<'test'>().toExtend<TrutoEventType>();
    expectTypeOf<PartitionSource['count']>().toEqualTypeOf<number>();
  });
});
