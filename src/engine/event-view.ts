/**
 * Stored events as reducers see them. The payload and envelope are decoded from the body on
 * first access, once; facts of another version are derived again from the body.
 */
import type { EventStore, StoredEvent } from '../store/port.js';
import type { DecodedBody, EventCodec } from './codec.js';
import { EngineError } from './errors.js';
import type { EventEnvelope, ProjectionEvent } from './projection.js';

class StoredEventView implements ProjectionEvent {
  readonly position: number;
  readonly id: string;
  readonly type: string;
  readonly sourceTime: number;
  readonly stream: string;
  readonly facts: unknown;
  // Private fields, not properties: a view spreads, compares and freezes as plain event data.
  readonly #codec: EventCodec;
  readonly #body: Uint8Array | undefined;
  #decoded: DecodedBody | undefined;

  constructor(stored: StoredEvent, codec: EventCodec) {
    this.#codec = codec;
    this.position = stored.position;
    this.id = stored.id;
    this.type = stored.type;
    this.sourceTime = stored.sourceTime;
    this.stream = stored.stream ?? '';
    this.#body = stored.body;
    this.facts = codec.factsAreCurrent(stored.data)
      ? stored.data
      : codec.deriveFacts(this.#requireBody('facts'));
  }

  get envelope(): EventEnvelope {
    return this.#decode().envelope;
  }

  get payload(): unknown {
    return this.#decode().payload;
  }

  #decode(): DecodedBody {
    this.#decoded ??= this.#codec.decode(this.#requireBody('payload'));
    return this.#decoded;
  }

  #requireBody(what: string): Uint8Array {
    if (this.#body) return this.#body;
    throw new EngineError(
      'payload_not_loaded',
      `event ${this.id}: its ${what} needs the stored body, which was not loaded ` +
        `(a projection declared reads: 'facts' reads event.payload or event.envelope?)`,
    );
  }

  toJSON(): object {
    return {
      position: this.position,
      id: this.id,
      type: this.type,
      sourceTime: this.sourceTime,
      stream: this.stream,
      facts: this.facts,
    };
  }
}

/** What a reducer sees of a stored event (body needed for payloads and stale facts). */
export function toProjectionEvent(stored: StoredEvent, codec: EventCodec): ProjectionEvent {
  return new StoredEventView(stored, codec);
}

/**
 * The events with the body each needs: an event whose stored facts are of another version is
 * read again with its body (rare: after a facts version bump), so its facts can be derived anew.
 */
export async function withBodiesForStaleFacts(
  store: Pick<EventStore, 'readEvent'>,
  codec: EventCodec,
  events: readonly StoredEvent[],
): Promise<readonly StoredEvent[]> {
  const stale = (event: StoredEvent) => !event.body && !codec.factsAreCurrent(event.data);
  if (!events.some(stale)) return events;
  return Promise.all(
    events.map(async (event) =>
      stale(event) ? ((await store.readEvent(event.id)) ?? event) : event,
    ),
  );
}
