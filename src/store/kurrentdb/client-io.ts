/**
 * `KurrentIo` on the official client: apart from opening the connection, the only place the
 * store meets the driver. Client errors become `StoreError`s here, once; a wrong expected
 * version is an answer, not an error.
 *
 * Every read is served by the leader (`requiresLeader`): the protocol reads right after its own
 * or a rival's write (a refused claim, a scan after a refused append), and a follower that has
 * not caught up would show it an older stream and make it retry, or answer from stale state.
 */
import {
  BACKWARDS,
  END,
  FORWARDS,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  binaryEvent,
  convertToCommandError,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type EventData,
  type JSONType,
  type KurrentDBClient,
  type ReadRevision,
  type RecordedEvent,
} from '@kurrent/kurrentdb-client';
import { appendAnswerOf } from './decisions.js';
import { translateKurrentError } from './errors.js';
import type { KurrentIo, Proposed, Recorded, Revision } from './io.js';
import { watchSubscription } from './live.js';
import { numberToPosition, positionToNumber } from './positions.js';

/** Options of every read the adapter makes: see the module comment. */
export const LEADER_READ = { requiresLeader: true } as const;

export function createClientIo(client: KurrentDBClient): KurrentIo {
  async function* readEvents(
    stream: string,
    from: ReadRevision,
    direction: typeof FORWARDS | typeof BACKWARDS,
    max?: number,
  ): AsyncGenerator<Recorded> {
    try {
      const read = client.readStream(stream, {
        fromRevision: from,
        direction,
        ...(max !== undefined ? { maxCount: max } : {}),
        ...LEADER_READ,
      });
      for await (const resolved of read) if (resolved.event) yield recorded(resolved.event);
    } catch (error) {
      // A missing stream is empty; the client raises that while iterating.
      if (convertToCommandError(error as Error) instanceof StreamNotFoundError) return;
      throw translateKurrentError(error, `reading ${stream}`);
    }
  }

  return {
    async append(stream, events, expected) {
      try {
        const result = await client.appendToStream(stream, events.map(toEventData), {
          streamState: expected,
        });
        return appendAnswerOf(result);
      } catch (error) {
        if (convertToCommandError(error as Error) instanceof WrongExpectedVersionError)
          return { kind: 'wrong_expected_version' };
        throw translateKurrentError(error, `appending to ${stream}`);
      }
    },
    read: (stream, from, max) => readEvents(stream, from, FORWARDS, max),
    async last(stream): Promise<Revision> {
      for await (const event of readEvents(stream, END, BACKWARDS, 1)) return event.revision;
      return 'no_stream';
    },
    async *readAll(read) {
      try {
        const events = client.readAll({
          fromPosition: read.from === 'start' ? START : read.from === 'end' ? END : read.from,
          direction: read.direction === 'forwards' ? FORWARDS : BACKWARDS,
          ...(read.max !== undefined ? { maxCount: read.max } : {}),
          filter: streamNameFilter({ prefixes: [...read.prefixes] }),
          ...LEADER_READ,
        });
        for await (const resolved of events) {
          const event = resolved.event;
          if (event) yield { ...recorded(event), stream: event.streamId, position: event.position };
        }
      } catch (error) {
        throw translateKurrentError(error, 'reading $all');
      }
    },
    subscribeAll(from, prefixes, on) {
      const sub = client.subscribeToAll({
        fromPosition: from > 0 ? numberToPosition(from) : START,
        filter: streamNameFilter({ prefixes: [...prefixes] }),
      });
      return watchSubscription<AllStreamResolvedEvent>(
        sub,
        (resolved) => (resolved.event ? positionToNumber(resolved.event.position) : undefined),
        on,
      );
    },
  };
}

function toEventData(event: Proposed): EventData {
  return 'json' in event
    ? jsonEvent({ id: event.id, type: event.type, data: event.json as JSONType })
    : binaryEvent({ id: event.id, type: event.type, data: event.bytes });
}

/** A client event as the protocol sees it. */
export function recorded(event: RecordedEvent): Recorded {
  const base = {
    id: event.id,
    revision: event.revision,
    ...(event.position ? { position: event.position } : {}),
  };
  return event.isJson
    ? { ...base, json: event.data }
    : { ...base, bytes: event.data instanceof Uint8Array ? event.data : new Uint8Array() };
}
