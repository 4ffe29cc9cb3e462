/**
 * A model of KurrentDB's documented append rules, behind the adapter's internal `KurrentIo`
 * port, so the append protocol runs here without a server. It is not a server: it holds only
 * the rules the protocol depends on, and `kurrentdb-protocol.unit.test.ts` checks it against a
 * table of those rules, each with its source:
 *
 * - expected revision E, current revision C (-1 for no stream): E > C refuses; E = C writes, with
 *   no id check; E < C compares the batch's ids with the events from E + 1 on: all there is an
 *   idempotent success (nothing written), none or only some is a refusal.
 * - `any`: all ids already in the stream is an idempotent success, none writes, some refuses.
 * - an append request whose events add up to more than `MaxAppendSize` (data + metadata +
 *   2 × type length per event) is refused as too big.
 *
 * `$all` reads and subscriptions are filtered by stream-name prefix, as on the server; a
 * subscription confirms itself, then reports what follows its start, then what gets written.
 */
import { StoreError } from '../../src/store/errors.js';
import type {
  AppendAnswer,
  Expected,
  KurrentIo,
  LiveHandlers,
  LogRecorded,
  Proposed,
  Recorded,
  Revision,
} from '../../src/store/kurrentdb/io.js';
import { DEFAULT_MAX_APPEND_SIZE, eventSize } from '../../src/store/kurrentdb/size.js';

export interface ModelEvent {
  readonly stream: string;
  readonly id: string;
  readonly type: string;
  readonly revision: bigint;
  /** Log position (commit = prepare): rises with every event written. */
  readonly position: bigint;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
}

export interface ModelOptions {
  readonly maxAppendSize?: number;
  /**
   * Whether an idempotent success carries the original event's log position (recent servers
   * send `IdempotentLogPosition`) or none (older ones): the protocol must cope with both.
   */
  readonly idempotentPosition?: boolean;
  /** An error to throw instead of serving an append (a server going away mid-batch). */
  readonly failAppend?: (stream: string, events: readonly Proposed[]) => StoreError | undefined;
}

export interface ServerModel extends KurrentIo {
  /** Every event in log order. */
  all(): ModelEvent[];
  stream(name: string): ModelEvent[];
  /** The largest append request served, as the server counts it. */
  readonly largestAppend: number;
}

export function createServerModel(options: ModelOptions = {}): ServerModel {
  const maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
  const streams = new Map<string, ModelEvent[]>();
  const log: ModelEvent[] = [];
  let position = 1000n;
  let largestAppend = 0;
  const subscribers = new Set<{ from: bigint; prefixes: readonly string[]; on: LiveHandlers }>();
  const matches = (prefixes: readonly string[], stream: string) =>
    prefixes.some((prefix) => stream.startsWith(prefix));

  function sizeOf(event: Proposed): number {
    return 'json' in event
      ? eventSize(event.type, JSON.stringify(event.json))
      : eventSize(event.type, event.bytes);
  }

  function write(stream: string, events: readonly Proposed[]): AppendAnswer {
    const list = streams.get(stream) ?? [];
    streams.set(stream, list);
    let last: ModelEvent | undefined;
    for (const event of events) {
      position += BigInt(100 + sizeOf(event));
      last = {
        stream,
        id: event.id.toLowerCase(),
        type: event.type,
        revision: BigInt(list.length),
        position,
        ...('json' in event
          ? { json: structuredClone(event.json) }
          : { bytes: new Uint8Array(event.bytes) }),
      };
      list.push(last);
      log.push(last);
      const written = last;
      for (const sub of subscribers)
        if (matches(sub.prefixes, stream))
          queueMicrotask(() => subscribers.has(sub) && sub.on.position(Number(written.position)));
    }
    return { kind: 'ok', revision: last!.revision, position: at(last!) };
  }

  function idempotent(matched: ModelEvent): AppendAnswer {
    return options.idempotentPosition === false
      ? { kind: 'ok', revision: matched.revision }
      : { kind: 'ok', revision: matched.revision, position: at(matched) };
  }

  const at = (event: ModelEvent) => ({ commit: event.position, prepare: event.position });

  function append(stream: string, events: readonly Proposed[], expected: Expected): AppendAnswer {
    const size = events.reduce((sum, event) => sum + sizeOf(event), 0);
    if (size > maxAppendSize)
      throw new StoreError('store_failed', `MaxAppendSizeExceeded: ${size} > ${maxAppendSize}`);
    largestAppend = Math.max(largestAppend, size);
    const list = streams.get(stream) ?? [];
    const ids = events.map((e) => e.id.toLowerCase());
    if (expected === 'any') {
      const found = ids.map((id) => list.find((e) => e.id === id));
      if (found.every((e) => e !== undefined)) return idempotent(found[found.length - 1]!);
      if (found.some((e) => e !== undefined)) return { kind: 'wrong_expected_version' };
      return write(stream, events);
    }
    const current = BigInt(list.length) - 1n;
    const wanted = expected === 'no_stream' ? -1n : expected;
    if (wanted > current) return { kind: 'wrong_expected_version' };
    if (wanted === current) return write(stream, events);
    const after = list.slice(Number(wanted) + 1, Number(wanted) + 1 + ids.length);
    if (after.length === ids.length && after.every((e, i) => e.id === ids[i]))
      return idempotent(after[after.length - 1]!);
    return { kind: 'wrong_expected_version' };
  }

  return {
    async append(stream, events, expected) {
      const failure = options.failAppend?.(stream, events);
      if (failure) throw failure;
      return append(stream, events, expected);
    },
    async *read(stream, from, max) {
      // A snapshot at the time of the call, as one read request.
      const events = (streams.get(stream) ?? []).filter((e) => e.revision >= from);
      for (const event of events.slice(0, max ?? events.length)) yield recorded(event);
    },
    async last(stream): Promise<Revision> {
      const list = streams.get(stream) ?? [];
      return list.length === 0 ? 'no_stream' : list[list.length - 1]!.revision;
    },
    async *readAll(read) {
      let events = log.filter((e) => matches(read.prefixes, e.stream));
      if (read.direction === 'backwards') events.reverse();
      const from = read.from;
      if (typeof from === 'object')
        events = events.filter((e) =>
          read.direction === 'forwards' ? e.position >= from.commit : e.position <= from.commit,
        );
      for (const event of events.slice(0, read.max ?? events.length))
        yield { ...recorded(event), stream: event.stream } satisfies LogRecorded;
    },
    subscribeAll(from, prefixes, on) {
      const sub = { from: BigInt(from), prefixes, on };
      const caughtUp = log.filter((e) => matches(prefixes, e.stream) && e.position > sub.from);
      subscribers.add(sub);
      queueMicrotask(() => {
        if (!subscribers.has(sub)) return;
        on.confirmed();
        for (const event of caughtUp) on.position(Number(event.position));
      });
      return { close: () => subscribers.delete(sub) };
    },
    all: () => [...log],
    stream: (name) => [...(streams.get(name) ?? [])],
    get largestAppend() {
      return largestAppend;
    },
  };
}

function recorded(event: ModelEvent): Recorded & { position: LogRecorded['position'] } {
  const base = {
    id: event.id,
    revision: event.revision,
    position: { commit: event.position, prepare: event.position },
  };
  return event.bytes
    ? { ...base, bytes: new Uint8Array(event.bytes) }
    : { ...base, json: structuredClone(event.json) };
}

/**
 * The model behind a gate: each call waits for `gate` before it runs, so a test scheduler
 * (`fc.scheduler()`) decides the order in which concurrent requests reach the "server". Each
 * request then runs atomically, as one request does on the server.
 */
export function gatedIo(io: KurrentIo, gate: (label: string) => Promise<void>): KurrentIo {
  return {
    async append(stream, events, expected) {
      await gate(`append ${stream} @${String(expected)}`);
      return io.append(stream, events, expected);
    },
    async *read(stream, from, max) {
      await gate(`read ${stream} from ${from}`);
      const events: Recorded[] = [];
      for await (const event of io.read(stream, from, max)) events.push(event);
      yield* events;
    },
    async last(stream) {
      await gate(`last ${stream}`);
      return io.last(stream);
    },
    async *readAll(read) {
      await gate(`readAll ${read.direction}`);
      const events: LogRecorded[] = [];
      for await (const event of io.readAll(read)) events.push(event);
      yield* events;
    },
    subscribeAll: (from, prefixes, on) => io.subscribeAll(from, prefixes, on),
  };
}
