/**
 * A Truto-ready engine in one call: the Truto codec (webhook bodies in, typed payloads out) and
 * the four Truto projections, plus any projections of the application's own beside them.
 */
import { createEngine } from '../engine/engine.js';
import type { AnyProjection } from '../engine/projection.js';
import type { Engine, EngineOptions } from '../engine/types.js';
import { trutoCodec } from './codec.js';
import type { WebhookEvent } from './parse.js';
import { trutoProjections, type TrutoProjections } from './projections/index.js';

/** The Truto projections followed by the application's own. */
export type WithTrutoProjections<Extra extends readonly AnyProjection[]> = readonly [
  ...TrutoProjections,
  ...Extra,
];

/** An engine over the Truto projections (and `Extra`), typed by name and state. */
export type TrutoEngine<Extra extends readonly AnyProjection[] = readonly []> = Engine<
  WithTrutoProjections<Extra>,
  WebhookEvent
>;

export interface TrutoEngineOptions<Extra extends readonly AnyProjection[]> extends Omit<
  EngineOptions<WithTrutoProjections<Extra>, WebhookEvent>,
  'projections' | 'codec'
> {
  /** The application's own projections, registered after the Truto ones. */
  readonly projections?: Extra;
}

/**
 * Opens an engine with the Truto codec and projections.
 *
 * @example
 * const store = await createSqliteEventStore({ path: './data/truto-state.db' });
 * const engine = await createTrutoEngine({ store, projections: [contacts] as const });
 * await engine.ingest(rawBody);
 * await engine.catchUp();
 * (await engine.get('accounts', 'acc-1'))?.status; // AccountStatus | undefined
 */
export function createTrutoEngine<const Extra extends readonly AnyProjection[]>(
  options: TrutoEngineOptions<Extra> & { readonly projections: Extra },
): Promise<TrutoEngine<Extra>>;
export function createTrutoEngine(options: TrutoEngineOptions<readonly []>): Promise<TrutoEngine>;
// The implementation is untyped by name: the overloads above carry the types.
export function createTrutoEngine(
  options: TrutoEngineOptions<readonly AnyProjection[]>,
): Promise<any> {
  const projections = [...trutoProjections, ...(options.projections ?? [])] as const;
  return createEngine({ ...options, projections, codec: trutoCodec });
}
