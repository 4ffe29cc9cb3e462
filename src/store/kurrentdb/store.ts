/**
 * The KurrentDB (EventStoreDB) adapter of the EventStore port, on the official client.
 *
 * Appending follows the protocol in protocol.ts (claim the id, land the event at an exact
 * revision, record where it landed), over the client through client-io.ts.
 *
 * Reading: `readAll` follows `$all` with a server-side filter on `<prefix>-`; `onAppend` is one
 * live filtered `$all` subscription (live.ts) plus the immediate notification of this process's
 * own appends. Reads ask for the leader: the port promises that what `append` answered is
 * readable at once (`head`, then `readAll` up to it).
 *
 * Projected state does not live here: pair this store with a ProjectionStore (SQLite or
 * PostgreSQL), as the CLI does.
 */
import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  START,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type RecordedEvent,
} from '@kurrent/kurrentdb-client';
import { StoreError } from '../errors.js';
import type { EventStore, EventStoreStats, ReadOptions, StoredEvent } from '../port.js';
import { createAppendNotifier } from '../shared/notifier.js';
import { rejectDigest } from '../shared/rejects.js';
import { toEventRow } from '../shared/rows.js';
import { EVENT_TYPES, parseLogRecord, recordBody, toStoredEvent, type LogRecord } from './codec.js';
import { LEADER_READ, createClientIo } from './client-io.js';
import { translateKurrentError } from './errors.js';
import { ID_NAMESPACE, toEventUuid, uuidV5 } from './ids.js';
import { createLiveFeed, watchSubscription } from './live.js';
import { createKeyedQueue, createLimiter } from './locks.js';
import { DEFAULT_STREAM_PREFIX, streamNames } from './names.js';
import { numberToPosition, positionToNumber } from './positions.js';
import {
  appendBatch,
  createRevisionHints,
  keepAside,
  readBodyChunks,
  readIndex,
  scan,
  writeChunks,
  type ProtocolContext,
} from './protocol.js';
import { DEFAULT_MAX_APPEND_SIZE, jsonEventSize, splitBytes } from './size.js';

export interface KurrentDbEventStoreOptions {
  /** e.g. `kurrentdb://localhost:2113?tls=false`. */
  readonly connectionString: string;
  /** Names every stream this store writes (default `truto`): `<prefix>-<entity>`, `<prefix>_id-…`. */
  readonly streamPrefix?: string;
  /** Claims in flight at once for one store (default 32). */
  readonly concurrency?: number;
  /** Retries of an entity append that keeps losing races before `store_busy` (default 50). */
  readonly maxAppendRetries?: number;
  /**
   * The server's `MaxAppendSize` in bytes (default 1 MiB, the server's default). No append of
   * this store is larger; set it when the server's is lower.
   */
  readonly maxAppendSize?: number;
  /** First wait before re-subscribing when the live `$all` subscription ends, ms (default 1000). */
  readonly resubscribeDelayMs?: number;
  /** Longest wait between re-subscriptions, ms (default 30000). */
  readonly maxResubscribeDelayMs?: number;
  /**
   * Told when live notifications stop for good (access denied, bad credentials): other
   * processes' appends are then no longer announced. Default: a process warning.
   */
  readonly onLiveError?: (error: StoreError) => void;
}

export interface KurrentDbEventStore extends EventStore {
  readonly kind: 'kurrentdb';
  /**
   * Resolves once the server has confirmed the live `$all` subscription that `onAppend` listeners
   * share (start one first); rejects when it stopped for good (see `onLiveError`).
   */
  whenLive(): Promise<void>;
}

const DEFAULT_BATCH = 1000;

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
  const maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
  if (!Number.isSafeInteger(maxAppendSize) || maxAppendSize < 4096)
    throw new TypeError(`maxAppendSize must be an integer of at least 4096, not ${maxAppendSize}`);
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

  const io = createClientIo(client, open);
  const ctx: ProtocolContext = {
    io,
    names,
    maxAppendSize,
    maxRetries: options.maxAppendRetries ?? 50,
    queue: createKeyedQueue(),
    limit: createLimiter(options.concurrency ?? 32),
    revisions: createRevisionHints(),
    owners: new Map(),
  };

  // --- live notifications --------------------------------------------------------------------
  const notifier = createAppendNotifier({
    onFirst: () => live.start(),
    onLast: () => live.stop(),
  });
  const live = createLiveFeed({
    source: {
      head: () => head(),
      open(from, on) {
        const sub = client.subscribeToAll({
          fromPosition: from > 0 ? numberToPosition(from) : START,
          filter: logFilter(),
        });
        return watchSubscription<AllStreamResolvedEvent>(
          sub,
          (resolved) => (resolved.event ? positionToNumber(resolved.event.position) : undefined),
          on,
        );
      },
    },
    onPosition: (position) => notifier.notify(position),
    onError:
      options.onLiveError ??
      ((error) => process.emitWarning(error.message, { code: 'TRUTO_STATE_KURRENTDB_LIVE' })),
    retry: {
      firstDelayMs: options.resubscribeDelayMs ?? 1000,
      maxDelayMs: options.maxResubscribeDelayMs ?? 30_000,
    },
    schedule(fn, ms) {
      const timer = setTimeout(fn, ms);
      timer.unref();
      return () => clearTimeout(timer);
    },
  });

  // --- the port ------------------------------------------------------------------------------
  /** A log event as the port's event; reads its body's chunks when wanted and stored apart. */
  async function decode(event: RecordedEvent, withBody: boolean): Promise<StoredEvent> {
    const record = event.isJson ? parseLogRecord(event.data) : undefined;
    if (!record)
      throw new StoreError(
        'store_failed',
        `kurrentdb: ${event.streamId}@${event.revision} was not written by truto-state`,
      );
    return toStored(record, eventPosition(event), withBody);
  }

  async function toStored(
    record: LogRecord,
    position: { commit: bigint; prepare: bigint },
    withBody: boolean,
  ): Promise<StoredEvent> {
    const body = withBody ? await recordBody(record, (ref) => readBodyChunks(ctx, ref)) : null;
    return toStoredEvent(record, positionToNumber(position), body);
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
        ...LEADER_READ,
      });
      for await (const resolved of read) {
        const event = resolved.event;
        if (!event) continue;
        const position = positionToNumber(event.position);
        // The start position is inclusive on the server; the port's `after` is not.
        if (position <= after) continue;
        if (position > upTo) return;
        yield await decode(event, withBody);
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
    for await (const event of io.read(names.entity(stream), 0n)) {
      const record = parseLogRecord(event.json);
      if (!record || !event.position)
        throw new StoreError(
          'store_failed',
          `kurrentdb: ${names.entity(stream)}@${event.revision} was not written by truto-state`,
        );
      const stored = await toStored(record, event.position, withBody);
      if (stored.position > upTo) return;
      yield stored;
    }
  }

  async function head(): Promise<number> {
    return call('reading the head of $all', async () => {
      const read = client.readAll({
        fromPosition: END,
        direction: BACKWARDS,
        maxCount: 1,
        filter: logFilter(),
        ...LEADER_READ,
      });
      for await (const resolved of read)
        if (resolved.event) return positionToNumber(resolved.event.position);
      return 0;
    });
  }

  /** An event by its index entry, else by a scan of its entity stream (claimed, not located). */
  async function readById(id: string): Promise<StoredEvent | undefined> {
    const uuid = toEventUuid(id);
    const index = await readIndex(ctx, uuid);
    if (!index || index.claim.id !== id) return undefined;
    const place = index.location
      ? { stream: index.location.stream, revision: BigInt(index.location.revision) }
      : (await scan(ctx, names.entity(index.claim.stream), uuid, 0n)).found;
    if (!place) return undefined;
    for await (const event of io.read(place.stream, place.revision, 1)) {
      const record = parseLogRecord(event.json);
      if (!record || !event.position) return undefined;
      return toStored(record, event.position, true);
    }
    return undefined;
  }

  return {
    kind: 'kurrentdb',

    async append(events) {
      open();
      // Serialised first, so a bad event throws before anything is written.
      const rows = events.map(toEventRow);
      const results = await appendBatch(ctx, rows);
      // Listeners hear of what was stored even when another event of the batch failed.
      const stored = results.flatMap((r) =>
        r.ok && r.outcome.status === 'stored' ? [r.outcome.position] : [],
      );
      if (stored.length > 0) {
        const newest = Math.max(...stored);
        live.seen(newest);
        notifier.notify(newest);
      }
      // Kept aside before answering, like the other adapters' conflicts table and counters, and
      // for every event that settled, even when another one failed.
      await call('keeping conflicts and duplicates', () => keepAside(ctx, results));
      const failed = results.flatMap((r, i) => (r.ok ? [] : [{ id: rows[i]!.id, error: r.error }]));
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new StoreError(
          first.error.code,
          `kurrentdb: ${failed.length} of ${rows.length} events of the batch failed (first, ` +
            `${first.id}: ${first.error.message}); the others were stored or answered, and ` +
            'their duplicates and conflicts kept',
          { cause: first.error },
        );
      }
      return results.map((r) => (r.ok ? r.outcome : unreachable()));
    },

    readAll: (after, options) => batches(allAfter(after, options), options),

    readStream: (stream, options) => batches(streamEvents(stream, options), options),

    readEvent: (id) => readById(id),

    head,

    onAppend: (listener) => notifier.subscribe(listener),

    whenLive: () => live.ready(),

    async recordReject(reject) {
      // One stream per distinct (source, reason, body), claimed with NO_STREAM: kept once.
      const key = uuidV5(
        `${reject.source}\u0000${reject.reason}\u0000${rejectDigest(reject)}`,
        ID_NAMESPACE,
      );
      const data = { source: reject.source, reason: reject.reason, message: reject.message };
      // A refused request can be as large as the receiver takes: its body goes to a body stream
      // of its own when it would not fit one append in the record.
      const body = Buffer.from(reject.body);
      const inline = { ...data, body: body.toString('base64') };
      let json: object = inline;
      if (jsonEventSize(EVENT_TYPES.reject, inline) > maxAppendSize) {
        const chunks = splitBytes(body, maxAppendSize - EVENT_TYPES.body.length * 2);
        const stream = names.body(key);
        await writeChunks(ctx, stream, chunks);
        json = {
          ...data,
          body: '',
          bodyRef: { stream, chunks: chunks.length, bytes: body.byteLength },
        };
      }
      await io.append(
        names.reject(key),
        [{ id: key, type: EVENT_TYPES.reject, json }],
        'no_stream',
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
          ...LEADER_READ,
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
      live.stop();
      await client.dispose();
    },
  };
}

function unreachable(): never {
  throw new StoreError('store_failed', 'kurrentdb: an unsettled append result');
}

/** An event's `$all` position (sent by servers since 22.6, the oldest this adapter supports). */
function eventPosition(event: RecordedEvent): { commit: bigint; prepare: bigint } {
  if (!event.position) {
    throw new StoreError(
      'store_failed',
      'kurrentdb: the server sent no log position (KurrentDB/EventStoreDB >= 22.6 is required)',
    );
  }
  return event.position;
}
