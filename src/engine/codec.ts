/**
 * The event codec: how a domain's raw bodies become events to append, and how stored events
 * become what reducers see. The core knows no domain; the Truto domain supplies `trutoCodec`.
 *
 * Facts are an optimisation: compact fields a codec extracts at ingest and stores beside the
 * body, so folds that only need them never read or parse bodies. They carry a version: stored
 * facts of another version are derived again from the stored body, never trusted.
 */
import type { EventToAppend } from '../store/port.js';
import type { EventEnvelope } from './projection.js';

export type CodecParseResult<Parsed extends EventToAppend = EventToAppend> =
  | { readonly ok: true; readonly event: Parsed }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** What a codec decodes from a stored body. */
export interface DecodedBody {
  readonly envelope: EventEnvelope;
  readonly payload: unknown;
}

export interface EventCodec<Parsed extends EventToAppend = EventToAppend> {
  /** Parses one raw body (no signature check) into an event to append, or a refusal. */
  parse(body: Uint8Array | string): CodecParseResult<Parsed>;
  /** The envelope and payload of a stored event, from its body. */
  decode(body: Uint8Array): DecodedBody;
  /** Whether stored facts were made by this codec's current facts version. */
  factsAreCurrent(facts: unknown): boolean;
  /** Facts again, from the stored body (when the stored ones are of another version). */
  deriveFacts(body: Uint8Array): unknown;
  /** Whether the domain knows this event type (an unknown one is reported at start). */
  isKnownType(type: string): boolean;
}

const decoder = new TextDecoder();

/**
 * The codec of an engine given none: bodies are JSON documents whose whole value is the payload;
 * stored `data` are the facts, always current. `ingest` needs a real codec.
 */
export const plainJsonCodec: EventCodec = {
  parse: () => ({
    ok: false,
    code: 'no_codec',
    message: 'this engine has no event codec: pass `codec` to createEngine, or use append()',
  }),
  decode: (body) => ({ envelope: {}, payload: JSON.parse(decoder.decode(body)) as unknown }),
  factsAreCurrent: () => true,
  deriveFacts: () => null,
  isKnownType: () => true,
};
