/**
 * The KurrentDB (EventStoreDB) adapter of the EventStore port, on the official client.
 *
 * Appending one event, with the project's own de-duplication (KurrentDB's by event id is only
 * best effort under `ANY`):
 *
 * 1. Note the entity stream's last revision (cached; read once per stream otherwise).
 * 2. Claim the id: append the full record to `<prefix>_id-<uuid>` expecting NO_STREAM. A wrong
 *    expected version means the id is taken: compare sha256 of the bodies -> duplicate or conflict.
 * 3. Append the event to its entity stream at the exact revision noted in 1. On a wrong expected
 *    version, scan what was written since: our event there means another writer finished our work
 *    (see 5); otherwise retry at the new revision. Exact revisions are what make this idempotent.
 * 4. Record where it landed as the index stream's second event (expecting revision 0).
 * 5. A claim without a location is a writer that crashed (or, in another process, is still)
 *    between 2 and 4. Whoever meets it finishes the claimed record (the first body, always):
 *    scan the entity stream for it, append it only if absent, record the location. Because every
 *    writer appends at an exact revision observed before the claim (or after a full scan), two
 *    writers can never both add it.
 *
 * Reading: `readAll` follows `$all` with a server-side filter on `<prefix>-`; `onAppend` is one
 * live filtered `$all` subscription (resumed from the last position seen if it drops) plus the
 * immediate notification of this process's own appends.
 *
 * Projected state does not live here: pair this store with a ProjectionStore (SQLite or
 * PostgreSQL), as the CLI does.
 */
import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  convertToCommandError,
  jsonEvent,
  streamNameFilter,
  type AllStreamSubscription,
  type AppendResult,
  type EventData,
  type Position,
  type RecordedEvent,
} from '@kurrent/kurrentdb-client';
import { StoreError } from '../errors.js';
import type {
  AppendOutcome,
  EventStore,
  EventStoreStats,
  ReadOptions,
  StoredEvent,
} from '../port.js';
import { createAppendNotifier } from '../shared/notifier.js';
import { rejectDigest } from '../shared/rejects.js';
import { toEventRow, type EventRow } from '../shared/rows.js';
import {
  EVENT_TYPES,
  parseLocation,
  parseLogRecord,
  toLogRecord,
  toStoredEvent,
  type LocationRecord,
  type LogRecord,
} from './codec.js';
import { translateKurrentError } from './errors.js';
import { ID_NAMESPACE, toEventUuid, uuidV5 } from './ids.js';
import { createKeyedQueue, createLimiter } from './locks.js';
import { DEFAULT_STREAM_PREFIX, streamNames } from './names.js';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  numberToPosition,
  positionToNumber,
} from './positions.js';

export interface KurrentDbEventStoreOptions {
  /** e.g. `kurrentdb://localhost:2113?tls=false`. */
  readonly connectionString: string;
  /** Names every stream this store writes (default `truto`): `<prefix>-<entity>`, `<prefix>_id-…`. */
  readonly streamPrefix?: string;
  /** Appends in flight at once for one store (default 32). */
  readonly concurrency?: number;
  /** Retries of an entity append that keeps losing races before `store_busy` (default 50). */
  readonly maxAppendRetries?: number;
  /** Wait before re-subscribing when the live `$all` subscription drops, ms (default 1000). */
  readonly resubscribeDelayMs?: number;
}

export interface KurrentDbEventStore extends EventStore {
  readonly kind: 'kurrentdb';
}

type Revision = bigint | typeof NO_STREAM;

interface Landed {
  readonly stream: string;
  readonly revision: bigint;
  readonly position: Position;
  /** Whether this call appended it (false: found it already there). */
  readonly wrote: boolean;
}

const DEFAULT_BATCH = 1000;
const REVISION_CACHE_LIMIT = 10_000;

/**
 * Opens a KurrentDB-backed event log. No connection is made until the first call.
 *
 * @example
 * const store = createKurrentDbEventStore({ connectionString: 'kurrentdb://localhost:2113?tls=false' });
 * const [outcome] = await store.append([event]); // { status: 'stored', position: … }
 */
export function createKurrentDbEventStore(
  options: KurrentDbEventStoreOptions,
): KurrentDbEventStore {
  const names = streamNames(options.streamPrefix ?? DEFAULT_STREAM_PREFIX);
  let client: KurrentDBClient;
  try {
    client = KurrentDBClient.connectionString(options.connectionString);
  } catch (error) {
    throw new StoreError(
      'store_failed',
      `kurrentdb: invalid connection string: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const maxRetries = options.maxAppendRetries ?? 50;
  const resubscribeDelay = options.resubscribeDelayMs ?? 1000;
  const queue = createKeyedQueue();
  const limit = createLimiter(options.concurrency ?? 32);
  /** Last known revision per entity stream: a hint only (a stale one costs a retry). */
  const revisions = new Map<string, Revision>();
  const logFilter = () => streamNameFilter({ prefixes: [names.logPrefix] });
  let closed = false;

  function open(): void {
    if (closed) throw new StoreError('store_closed', 'the kurrentdb store is closed');
  }

  async function call<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    open();
    try {
      return await fn();
    } catch (error) {
      throw translateKurrentError(error, doing);
    }
  }

  /** Appends at an expected state; `undefined` on a wrong expected version. */
  async function tryAppend(
    stream: string,
    events: EventData[],
    expected: Revision | 'any',
  ): Promise<AppendResult | undefined> {
    open();
    try {
      return await client.appendToStream(stream, events, { streamState: expected });
    } catch (error) {
      if (convertToCommandError(error as Error) instanceof WrongExpectedVersionError)
        return undefined;
      throw translateKurrentError(error, `appending to ${stream}`);
    }
  }

  /** A stream's events; a missing stream is empty. The client raises that while iterating. */
  async function* readEvents(
    stream: string,
    from: bigint | typeof START | typeof END,
    direction: typeof FORWARDS | typeof BACKWARDS,
    maxCount?: number,
  ): AsyncGenerator<RecordedEvent> {
    open();
    try {
      const read = client.readStream(stream, {
        fromRevision: from,
        direction,
        ...(maxCount ? { maxCount } : {}),
      });
      for await (const resolved of read) if (resolved.event) yield resolved.event;
    } catch (error) {
      if (convertToCommandError(error as Error) instanceof StreamNotFoundError) return;
      throw translateKurrentError(error, `reading ${stream}`);
    }
  }

  async function lastRevision(stream: string): Promise<Revision> {
    const cached = revisions.get(stream);
    if (cached !== undefined) return cached;
    for await (const event of readEvents(stream, END, BACKWARDS, 1)) return event.revision;
    return NO_STREAM;
  }

  function remember(stream: string, revision: Revision): void {
    if (revisions.size >= REVISION_CACHE_LIMIT) revisions.clear();
    revisions.set(stream, revision);
  }

  /** Looks for event `uuid` from revision `from` on; also reports the last revision seen. */
  async function scan(
    stream: string,
    uuid: string,
    from: bigint,
  ): Promise<{ found?: Landed; last: Revision }> {
    let last: Revision = from > 0n ? from - 1n : NO_STREAM;
    for await (const event of readEvents(stream, from, FORWARDS)) {
      last = event.revision;
      if (event.id.toLowerCase() === uuid) {
        return {
          found: { stream, revision: event.revision, position: eventPosition(event), wrote: false },
          last,
        };
      }
    }
    return { last };
  }

  /**
   * Puts the record in its entity stream exactly once. `expected` must have been observed before
   * the id was claimed, or be `'scan'` (look through the whole stream first).
   */
  async function land(
    record: LogRecord,
    uuid: string,
    expected: Revision | 'scan',
  ): Promise<Landed> {
    const stream = names.entity(record.stream);
    let revision: Revision;
    if (expected === 'scan') {
      const seen = await scan(stream, uuid, 0n);
      if (seen.found) return seen.found;
      revision = seen.last;
    } else {
      revision = expected;
    }
    const event = jsonEvent({ id: uuid, type: record.type, data: record });
    for (let attempt = 0; attempt <= maxRetries; attempt += 1) {
      const result = await tryAppend(stream, [event], revision);
      if (result) {
        remember(stream, result.nextExpectedRevision);
        const position = result.position ?? (await positionAt(stream, result.nextExpectedRevision));
        return { stream, revision: result.nextExpectedRevision, position, wrote: true };
      }
      // The stream moved since `revision`: perhaps by our own event, written by a repairer.
      const seen = await scan(stream, uuid, revision === NO_STREAM ? 0n : revision + 1n);
      if (seen.found) return seen.found;
      revision = seen.last;
      remember(stream, revision);
    }
    throw new StoreError(
      'store_busy',
      `kurrentdb: ${stream} kept changing; gave up after ${maxRetries} retries`,
    );
  }

  async function positionAt(stream: string, revision: bigint): Promise<Position> {
    for await (const event of readEvents(stream, revision, FORWARDS, 1))
      return eventPosition(event);
    throw new StoreError(
      'store_failed',
      `kurrentdb: ${stream}@${revision} vanished right after it was written`,
    );
  }

  async function readIndex(
    uuid: string,
  ): Promise<{ claim: LogRecord; location?: LocationRecord } | undefined> {
    const events: RecordedEvent[] = [];
    for await (const event of readEvents(names.id(uuid), START, FORWARDS, 2)) events.push(event);
    if (events.length === 0) return undefined;
    const claim = parseLogRecord(events[0]!.data);
    if (!claim)
      throw new StoreError('store_failed', `kurrentdb: ${names.id(uuid)} does not hold a claim`);
    const location = events[1] ? parseLocation(events[1].data) : undefined;
    return location ? { claim, location } : { claim };
  }

  /** The index stream's second event; another writer may have recorded it first (same place). */
  async function recordLocation(uuid: string, landed: Landed): Promise<void> {
    const location: LocationRecord = {
      stream: landed.stream,
      revision: landed.revision.toString(),
      checkpoint: encodeCheckpoint(landed.position),
    };
    await tryAppend(
      names.id(uuid),
      [
        jsonEvent({
          id: uuidV5(`located:${uuid}`, ID_NAMESPACE),
          type: EVENT_TYPES.location,
          data: location,
        }),
      ],
      0n,
    );
  }

  type Outcome = AppendOutcome & { readonly conflictBody?: LogRecord };

  async function appendOne(row: EventRow): Promise<Outcome> {
    const uuid = toEventUuid(row.id);
    const record = toLogRecord(row);
    const stream = names.entity(row.stream);
    const before = await lastRevision(stream);
    const claim = jsonEvent({
      id: uuidV5(`claim:${uuid}`, ID_NAMESPACE),
      type: EVENT_TYPES.claim,
      data: record,
    });
    if (await tryAppend(names.id(uuid), [claim], NO_STREAM)) {
      const landed = await land(record, uuid, before);
      await recordLocation(uuid, landed);
      return { status: 'stored', id: row.id, position: positionToNumber(landed.position) };
    }
    const index = await readIndex(uuid);
    if (!index)
      throw new StoreError(
        'store_failed',
        `kurrentdb: ${names.id(uuid)} refused a claim yet holds none`,
      );
    if (index.claim.id !== row.id) {
      throw new StoreError(
        'store_failed',
        `kurrentdb: ids ${index.claim.id} and ${row.id} map to the same event id ${uuid}`,
      );
    }
    let position: number;
    let wrote = false;
    if (index.location) {
      position = positionToNumber(decodeCheckpoint(index.location.checkpoint));
    } else {
      // An unfinished claim: finish it with the claimed (first) record.
      const landed = await land(index.claim, uuid, 'scan');
      await recordLocation(uuid, landed);
      position = positionToNumber(landed.position);
      wrote = landed.wrote;
    }
    if (index.claim.sha256 === record.sha256) {
      // Finishing a crashed writer's claim stores the event now: for this caller, that is new.
      return { status: wrote ? 'stored' : 'duplicate', id: row.id, position };
    }
    return { status: 'conflict', id: row.id, position, conflictBody: record };
  }

  // --- live notifications --------------------------------------------------------------------
  let subscription: AllStreamSubscription | undefined;
  let resubscribeTimer: NodeJS.Timeout | undefined;
  let lastSeen = 0;
  const notifier = createAppendNotifier({
    onFirst: () => subscribe(),
    onLast: () => unsubscribe(),
  });

  function subscribe(): void {
    if (closed || subscription) return;
    // From the last position seen: catch up on what was missed while dropped, then go live.
    const sub = client.subscribeToAll({
      fromPosition: lastSeen > 0 ? numberToPosition(lastSeen) : END,
      filter: logFilter(),
    });
    subscription = sub;
    sub.on('data', (resolved) => {
      const position = resolved.event?.position;
      if (!position) return;
      lastSeen = Math.max(lastSeen, positionToNumber(position));
      notifier.notify(lastSeen);
    });
    sub.on('error', () => {
      // Dropped (server restart, leader change): the listeners stay; re-subscribe shortly.
      if (subscription !== sub) return;
      subscription = undefined;
      if (closed || notifier.size === 0) return;
      resubscribeTimer = setTimeout(subscribe, resubscribeDelay);
      resubscribeTimer.unref();
    });
  }

  function unsubscribe(): void {
    clearTimeout(resubscribeTimer);
    const sub = subscription;
    subscription = undefined;
    void sub?.unsubscribe().catch(() => undefined);
  }

  // --- the port ------------------------------------------------------------------------------
  function decode(event: RecordedEvent, withBody: boolean): StoredEvent {
    const record = event.isJson ? parseLogRecord(event.data) : undefined;
    if (!record)
      throw new StoreError(
        'store_failed',
        `kurrentdb: ${event.streamId}@${event.revision} was not written by truto-state`,
      );
    return toStoredEvent(record, positionToNumber(eventPosition(event)), withBody);
  }

  async function* batches(
    source: AsyncIterable<StoredEvent>,
    options: ReadOptions | undefined,
  ): AsyncGenerator<StoredEvent[]> {
    const size = Math.max(1, Math.floor(options?.batchSize ?? DEFAULT_BATCH));
    let batch: StoredEvent[] = [];
    for await (const event of source) {
      batch.push(event);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  async function* allAfter(
    after: number,
    options: ReadOptions | undefined,
  ): AsyncGenerator<StoredEvent> {
    open();
    const upTo = options?.upTo ?? Number.MAX_SAFE_INTEGER;
    const withBody = options?.withBody === true;
    try {
      const read = client.readAll({
        fromPosition: after > 0 ? numberToPosition(after) : START,
        direction: FORWARDS,
        filter: logFilter(),
      });
      for await (const resolved of read) {
        const event = resolved.event;
        if (!event) continue;
        const position = positionToNumber(event.position);
        // The start position is inclusive on the server; the port's `after` is not.
        if (position <= after) continue;
        if (position > upTo) return;
        yield decode(event, withBody);
      }
    } catch (error) {
      throw translateKurrentError(error, 'reading $all');
    }
  }

  async function* streamEvents(
    stream: string,
    options: ReadOptions | undefined,
  ): AsyncGenerator<StoredEvent> {
    const upTo = options?.upTo ?? Number.MAX_SAFE_INTEGER;
    const withBody = options?.withBody === true;
    for await (const event of readEvents(names.entity(stream), START, FORWARDS)) {
      const stored = decode(event, withBody);
      if (stored.position > upTo) return;
      yield stored;
    }
  }

  return {
    kind: 'kurrentdb',

    async append(events) {
      open();
      // Serialised first, so a bad event throws before anything is written.
      const rows = events.map(toEventRow);
      // Same entity or same id: input order. Everything else runs concurrently, bounded.
      const outcomes = await Promise.all(
        rows.map((row) =>
          queue.run([`s:${names.entity(row.stream)}`, `i:${toEventUuid(row.id)}`], () =>
            limit(() => appendOne(row)),
          ),
        ),
      );
      const duplicates = outcomes.filter((o) => o.status === 'duplicate').map((o) => o.id);
      const conflicts = outcomes.flatMap((o) =>
        o.conflictBody ? [{ ...o.conflictBody, originalPosition: o.position }] : [],
      );
      // Kept aside before answering, like the other adapters' conflicts table and counters.
      if (conflicts.length > 0) {
        await call('keeping conflicts', () =>
          client.appendToStream(
            names.conflicts,
            conflicts.map((data) => jsonEvent({ type: EVENT_TYPES.conflict, data })),
          ),
        );
      }
      if (duplicates.length > 0) {
        await call('counting duplicates', () =>
          client.appendToStream(
            names.duplicates,
            jsonEvent({
              type: EVENT_TYPES.duplicates,
              data: { count: duplicates.length, ids: duplicates },
            }),
          ),
        );
      }
      const stored = outcomes.filter((o) => o.status === 'stored').map((o) => o.position);
      if (stored.length > 0) {
        lastSeen = Math.max(lastSeen, ...stored);
        notifier.notify(lastSeen);
      }
      return outcomes.map(({ status, id, position }) => ({ status, id, position }));
    },

    readAll: (after, options) => batches(allAfter(after, options), options),

    readStream: (stream, options) => batches(streamEvents(stream, options), options),

    async readEvent(id) {
      const uuid = toEventUuid(id);
      const index = await readIndex(uuid);
      if (!index || index.claim.id !== id) return undefined;
      if (index.location) {
        for await (const event of readEvents(
          index.location.stream,
          BigInt(index.location.revision),
          FORWARDS,
          1,
        )) {
          return decode(event, true);
        }
        return undefined;
      }
      // Claimed but not (yet) located: look in the entity stream.
      const seen = await scan(names.entity(index.claim.stream), uuid, 0n);
      if (!seen.found) return undefined;
      for await (const event of readEvents(seen.found.stream, seen.found.revision, FORWARDS, 1))
        return decode(event, true);
      return undefined;
    },

    async head() {
      return call('reading the head of $all', async () => {
        const read = client.readAll({
          fromPosition: END,
          direction: BACKWARDS,
          maxCount: 1,
          filter: logFilter(),
        });
        for await (const resolved of read)
          if (resolved.event) return positionToNumber(resolved.event.position);
        return 0;
      });
    },

    onAppend: (listener) => notifier.subscribe(listener),

    async recordReject(reject) {
      // One stream per distinct (source, reason, body), claimed with NO_STREAM: kept once.
      const key = uuidV5(
        `${reject.source}\u0000${reject.reason}\u0000${rejectDigest(reject)}`,
        ID_NAMESPACE,
      );
      const data = {
        source: reject.source,
        reason: reject.reason,
        message: reject.message,
        body: Buffer.from(reject.body).toString('base64'),
      };
      await tryAppend(
        names.reject(key),
        [jsonEvent({ id: key, type: EVENT_TYPES.reject, data })],
        NO_STREAM,
      );
    },

    async stats(): Promise<EventStoreStats> {
      // One filtered pass over $all: exact, but it reads the whole log (see docs/deployment.md).
      return call('computing stats', async () => {
        let events = 0;
        let conflicts = 0;
        let duplicates = 0;
        let rejects = 0;
        let headPosition = 0;
        const byType: Record<string, number> = {};
        const skipped: Record<string, number> = {};
        const filter = streamNameFilter({
          prefixes: [names.logPrefix, names.conflicts, names.duplicates, names.rejectPrefix],
        });
        for await (const resolved of client.readAll({
          fromPosition: START,
          direction: FORWARDS,
          filter,
        })) {
          const event = resolved.event;
          if (!event) continue;
          if (event.streamId.startsWith(names.logPrefix)) {
            const record = event.isJson ? parseLogRecord(event.data) : undefined;
            if (!record) continue;
            events += 1;
            byType[record.type] = (byType[record.type] ?? 0) + 1;
            if (record.skipped !== null)
              skipped[record.skipped] = (skipped[record.skipped] ?? 0) + 1;
            headPosition = positionToNumber(event.position);
          } else if (event.streamId === names.conflicts) {
            conflicts += 1;
          } else if (event.streamId === names.duplicates) {
            const count = (event.data as { count?: unknown } | undefined)?.count;
            duplicates += typeof count === 'number' ? count : 0;
          } else if (event.streamId.startsWith(names.rejectPrefix)) {
            rejects += 1;
          }
        }
        return { events, byType, duplicates, conflicts, rejects, skipped, headPosition };
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      await client.dispose();
    },
  };
}

/** An event's `$all` position (sent by servers since 22.6, the oldest this adapter supports). */
function eventPosition(event: RecordedEvent): Position {
  if (!event.position) {
    throw new StoreError(
      'store_failed',
      'kurrentdb: the server sent no log position (KurrentDB/EventStoreDB >= 22.6 is required)',
    );
  }
  return event.position;
}
