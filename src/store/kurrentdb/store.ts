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
import { KurrentDBClient } from '@kurrent/kurrentdb-client';
import { StoreError } from '../errors.js';
import type { EventStore, EventStoreStats, ReadOptions, StoredEvent } from '../port.js';
import { createAppendNotifier } from '../shared/notifier.js';
import { rejectDigest } from '../shared/rejects.js';
import { toEventRow } from '../shared/rows.js';
import { readBodyChunks, writeChunks } from './bodies.js';
import { EVENT_TYPES, parseLogRecord, recordBody, toStoredEvent } from './codec.js';
import { createClientIo } from './client-io.js';
import { translateKurrentError } from './errors.js';
import { ID_NAMESPACE, toEventUuid, uuidV5 } from './ids.js';
import type { KurrentIo, Recorded } from './io.js';
import { keepAside } from './keep-aside.js';
import { createLiveFeed } from './live.js';
import { createKeyedQueue, createLimiter } from './locks.js';
import { DEFAULT_STREAM_PREFIX, streamNames } from './names.js';
import { numberToPosition, positionToNumber } from './positions.js';
import {
  appendBatch,
  createRevisionHints,
  readIndex,
  scan,
  type ProtocolContext,
} from './protocol.js';
import { DEFAULT_MAX_APPEND_SIZE, jsonEventSize, splitBytes } from './size.js';

export interface KurrentDbEventStoreOptions extends KurrentStoreSettings {
  /** e.g. `kurrentdb://localhost:2113?tls=false`. */
  readonly connectionString: string;
}

/** Everything but the connection. */
export interface KurrentStoreSettings {
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
  return createKurrentStoreOnIo(createClientIo(client), options, () => client.dispose());
}

/**
 * The store on any `KurrentIo`: the client's (above), or a model of the server's rules in tests.
 * `dispose` releases the connection on `close`.
 */
export function createKurrentStoreOnIo(
  serverIo: KurrentIo,
  options: KurrentStoreSettings,
  dispose: () => Promise<void>,
): KurrentDbEventStore {
  const names = streamNames(options.streamPrefix ?? DEFAULT_STREAM_PREFIX);
  const maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
  if (!Number.isSafeInteger(maxAppendSize) || maxAppendSize < 4096)
    throw new TypeError(`maxAppendSize must be an integer of at least 4096, not ${maxAppendSize}`);
  const logPrefixes = [names.logPrefix];
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

  const io = guarded(serverIo, open);
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
      open: (from, on) => io.subscribeAll(from, logPrefixes, on),
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
  async function decode(event: Recorded, stream: string, withBody: boolean): Promise<StoredEvent> {
    const record = parseLogRecord(event.json);
    if (!record || !event.position)
      throw new StoreError(
        'store_failed',
        `kurrentdb: ${stream}@${event.revision} was not written by truto-state`,
      );
    const body = withBody ? await recordBody(record, (ref) => readBodyChunks(ctx, ref)) : null;
    return toStoredEvent(record, positionToNumber(event.position), body);
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
    const read = io.readAll({
      from: after > 0 ? numberToPosition(after) : 'start',
      direction: 'forwards',
      prefixes: logPrefixes,
    });
    for await (const event of read) {
      const position = positionToNumber(event.position);
      // The start position is inclusive on the server; the port's `after` is not.
      if (position <= after) continue;
      if (position > upTo) return;
      yield await decode(event, event.stream, withBody);
    }
  }

  async function* streamEvents(
    stream: string,
    options: ReadOptions | undefined,
  ): AsyncGenerator<StoredEvent> {
    const upTo = options?.upTo ?? Number.MAX_SAFE_INTEGER;
    const withBody = options?.withBody === true;
    const name = names.entity(stream);
    for await (const event of io.read(name, 0n)) {
      const stored = await decode(event, name, withBody);
      if (stored.position > upTo) return;
      yield stored;
    }
  }

  async function head(): Promise<number> {
    return call('reading the head of $all', async () => {
      const read = io.readAll({
        from: 'end',
        direction: 'backwards',
        max: 1,
        prefixes: logPrefixes,
      });
      for await (const event of read) return positionToNumber(event.position);
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
    for await (const event of io.read(place.stream, place.revision, 1))
      return decode(event, place.stream, true);
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
        const prefixes = [names.logPrefix, names.conflicts, names.duplicates, names.rejectPrefix];
        for await (const event of io.readAll({ from: 'start', direction: 'forwards', prefixes })) {
          if (event.stream.startsWith(names.logPrefix)) {
            const record = parseLogRecord(event.json);
            if (!record) continue;
            events += 1;
            byType[record.type] = (byType[record.type] ?? 0) + 1;
            if (record.skipped !== null)
              skipped[record.skipped] = (skipped[record.skipped] ?? 0) + 1;
            headPosition = positionToNumber(event.position);
          } else if (event.stream === names.conflicts) {
            conflicts += 1;
          } else if (event.stream === names.duplicates) {
            const count = (event.json as { count?: unknown } | undefined)?.count;
            duplicates += typeof count === 'number' ? count : 0;
          } else if (event.stream.startsWith(names.rejectPrefix)) {
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
      await dispose();
    },
  };
}

function unreachable(): never {
  throw new StoreError('store_failed', 'kurrentdb: an unsettled append result');
}

/** `io` refusing every call once the store is closed. */
function guarded(io: KurrentIo, assertOpen: () => void): KurrentIo {
  return {
    append(stream, events, expected) {
      assertOpen();
      return io.append(stream, events, expected);
    },
    read(stream, from, max) {
      assertOpen();
      return io.read(stream, from, max);
    },
    last(stream) {
      assertOpen();
      return io.last(stream);
    },
    readAll(read) {
      assertOpen();
      return io.readAll(read);
    },
    subscribeAll(from, prefixes, on) {
      assertOpen();
      return io.subscribeAll(from, prefixes, on);
    },
  };
}
