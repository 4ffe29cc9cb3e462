/**
 * Truto events as projections see them: one member per event type, so `switch (event.type)`
 * narrows `event.payload` (typed from the zod schemas) and `event.facts`.
 */
import type { ProjectionEvent } from '../engine/projection.js';
import { projectionsOver } from '../engine/projection.js';
import type {
  IntegratedAccountEventType,
  OtherKnownEventType,
  RecordEventType,
  SyncJobRunEventType,
} from './catalogue.js';
import type { AccountFacts, RecordFacts, RunFacts } from './facts.js';
import type {
  IntegratedAccountPayload,
  RecordPayload,
  SyncJobRunPayload,
  SyncJobRunRecordPayload,
} from './schemas.js';

/** The envelope fields of a Truto delivery beyond id, event and created_at. */
export interface TrutoEnvelope {
  readonly [field: string]: unknown;
  readonly environmentId: string | null;
  readonly webhookId: string | null;
}

/**
 * A payload as projections see it: the fields the schema knows, typed and normalised (ids as
 * strings), and every other field Truto sent, as `unknown` until the projection checks it.
 */
export type Payload<Known> = Known & { readonly [field: string]: unknown };

/** A Truto event of type `T` with payload `P` and facts `F`. */
export type TrutoEventOf<T extends string, P, F> = ProjectionEvent<T, P, F, TrutoEnvelope>;

type Each<T extends string, P, F> = { [K in T]: TrutoEventOf<K, P, F> }[T];

type RunRecordEventType = 'sync_job_run:record' | 'sync_job_run:record_error';

/** The payload of a known Truto event type. Payloads keep every field Truto sent. */
export type IntegratedAccountEvent = Each<
  IntegratedAccountEventType,
  Payload<IntegratedAccountPayload>,
  AccountFacts
>;
export type SyncJobRunEvent =
  | Each<Exclude<SyncJobRunEventType, RunRecordEventType>, Payload<SyncJobRunPayload>, RunFacts>
  | Each<RunRecordEventType, Payload<SyncJobRunRecordPayload>, RunFacts>;
export type RecordEvent = Each<RecordEventType, Payload<RecordPayload>, RecordFacts>;
/** Known types the Truto projections do not read: payload as sent, no facts. */
export type OtherKnownEvent = Each<OtherKnownEventType, unknown, null>;

/** Every event type of Truto's catalogue. */
export type TrutoEvent = IntegratedAccountEvent | SyncJobRunEvent | RecordEvent | OtherKnownEvent;

/**
 * Truto's events plus an application's own: `{ 'batch_job:completed': MyPayload }` adds (or
 * retypes) those names, so projections over them type-check.
 */
export type TrutoEventWith<Extra extends Record<string, unknown>> =
  | Exclude<TrutoEvent, { readonly type: keyof Extra }>
  | { [K in keyof Extra & string]: TrutoEventOf<K, Extra[K], null> }[keyof Extra & string];

/**
 * Defines a projection over Truto events: `eventTypes` must be catalogue names and `evolve`
 * narrows by type. For names outside the catalogue use `projectionsOver<TrutoEventWith<…>>()`.
 *
 * @example
 * const contacts = defineTrutoProjection({
 *   name: 'contacts', version: 1, eventTypes: ['record:created'],
 *   keyOf: (event) => event.payload.integrated_account_id,
 *   initialState: () => ({ created: 0 }),
 *   evolve: (state) => ({ created: state.created + 1 }),
 * });
 */
export const defineTrutoProjection = projectionsOver<TrutoEvent>();
