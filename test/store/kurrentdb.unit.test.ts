/**
 * The KurrentDB adapter's parts that need no server: id mapping, stream naming, checkpoint
 * encoding, error translation (on the client's own error classes), and the rule that importing
 * the core never loads the client.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/errors.js';
import {
  ID_NAMESPACE,
  decodeCheckpoint,
  encodeCheckpoint,
  escapeEntity,
  isCanonicalUuid,
  kurrentErrorCode,
  numberToPosition,
  positionToNumber,
  streamNames,
  toEventUuid,
  translateKurrentError,
} from '../../src/store/kurrentdb/index.js';
import { uuidV5 } from '../../src/store/kurrentdb/ids.js';

const NIL = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('event ids', () => {
  it('uses a canonical lowercase UUID as it is', () => {
    const id = '3f2b8c1e-7d4a-4b6e-9c2d-1a2b3c4d5e6f';
    expect(toEventUuid(id)).toBe(id);
  });

  it('matches the RFC 4122 version-5 example (DNS namespace, www.example.com)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('maps other ids to a stable version-5 UUID in the fixed namespace', () => {
    expect(toEventUuid('evt_123')).toBe(uuidV5('evt_123', ID_NAMESPACE));
    expect(toEventUuid('evt_123')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('keeps an uppercase UUID apart from its lowercase twin (ids are exact strings)', () => {
    const lower = '3f2b8c1e-7d4a-4b6e-9c2d-1a2b3c4d5e6f';
    const upper = lower.toUpperCase();
    expect(isCanonicalUuid(upper)).toBe(false);
    expect(toEventUuid(upper)).not.toBe(lower);
    expect(toEventUuid(upper)).toBe(toEventUuid(upper));
  });

  it('does not pass the nil UUID through', () => {
    const nil = '00000000-0000-0000-0000-000000000000';
    expect(toEventUuid(nil)).not.toBe(nil);
  });

  it('always yields a canonical UUID, the same one for the same id, different ones for different ids', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        expect(toEventUuid(a)).toMatch(UUID);
        expect(toEventUuid(a)).toBe(toEventUuid(a));
        if (a !== b) expect(toEventUuid(a)).not.toBe(toEventUuid(b));
      }),
    );
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        expect(toEventUuid(id)).toBe(id === NIL ? uuidV5(id, ID_NAMESPACE) : id);
      }),
    );
  });
});

describe('stream names', () => {
  const names = streamNames('truto');

  it('puts each entity in its own stream under the log prefix, readable as it is', () => {
    expect(names.entity('integrated_account:acc-1')).toBe('truto-integrated_account:acc-1');
    expect(names.entity('record:acc-1/crm_contacts')).toBe('truto-record:acc-1/crm_contacts');
    expect(names.entity('sync job#1')).toBe('truto-sync%20job%231');
    expect(names.entity('caf\u00e9')).toBe('truto-caf%C3%A9');
  });

  it('gives unrouted events a stream no entity can have', () => {
    expect(names.entity(null)).toBe('truto-%unrouted');
    fc.assert(
      fc.property(fc.string(), (stream) => {
        expect(names.entity(stream)).not.toBe(names.entity(null));
      }),
    );
  });

  it('escapes injectively, emitting % only before two hex digits', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        if (a !== b) expect(escapeEntity(a)).not.toBe(escapeEntity(b));
        expect(escapeEntity(a)).not.toMatch(/%(?![0-9A-F]{2})/);
      }),
    );
    expect(escapeEntity('100%')).toBe('100%25');
  });

  it('keeps bookkeeping out of the log prefix', () => {
    const uuid = toEventUuid('x');
    for (const name of [
      names.id(uuid),
      names.body(uuid),
      names.conflicts,
      names.duplicates,
      names.reject(uuid),
    ]) {
      expect(name.startsWith(names.logPrefix)).toBe(false);
      expect(name.startsWith('truto_')).toBe(true);
    }
  });

  it('accepts only plain-word prefixes, so one prefix never matches another', () => {
    expect(() => streamNames('truto-x')).toThrow(TypeError);
    expect(() => streamNames('')).toThrow(TypeError);
    expect(() => streamNames('$all')).toThrow(TypeError);
    expect(streamNames('team_a.prod').logPrefix).toBe('team_a.prod-');
  });
});

describe('checkpoints and positions', () => {
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  it('round-trips both commit and prepare positions', () => {
    fc.assert(
      fc.property(u64, u64, (commit, prepare) => {
        const encoded = encodeCheckpoint({ commit, prepare });
        expect(decodeCheckpoint(encoded)).toEqual({ commit, prepare });
      }),
    );
    expect(encodeCheckpoint({ commit: 1234n, prepare: 1200n })).toBe('kdb:1234:1200');
  });

  it('orders like the positions it encodes only through decoding (opaque text)', () => {
    fc.assert(
      fc.property(u64, u64, (a, b) => {
        const pa = decodeCheckpoint(encodeCheckpoint({ commit: a, prepare: a }));
        const pb = decodeCheckpoint(encodeCheckpoint({ commit: b, prepare: b }));
        expect(pa.commit < pb.commit).toBe(a < b);
      }),
    );
  });

  it('refuses anything it did not produce', () => {
    for (const text of [
      '',
      'kdb:1',
      'kdb:-1:2',
      'kdb:01:2',
      'kdb:1:2:3',
      'kdb:18446744073709551616:0',
      '1:2',
      'kdb:1:2 ',
    ]) {
      expect(() => decodeCheckpoint(text), text).toThrow(TypeError);
    }
    expect(() => encodeCheckpoint({ commit: -1n, prepare: 0n })).toThrow(TypeError);
  });

  it('maps the commit position to the port number exactly, and refuses past 2^53', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(positionToNumber(numberToPosition(n))).toBe(n);
        expect(numberToPosition(n)).toEqual({ commit: BigInt(n), prepare: BigInt(n) });
      }),
    );
    const tooFar = { commit: BigInt(Number.MAX_SAFE_INTEGER) + 1n, prepare: 0n };
    expect(() => positionToNumber(tooFar)).toThrow(StoreError);
    expect(() => numberToPosition(-1)).toThrow(TypeError);
    expect(() => numberToPosition(1.5)).toThrow(TypeError);
  });
});

describe('error translation', () => {
  /** gRPC status codes (the numbers are the wire protocol's). */
  const status = {
    UNKNOWN: 2,
    DEADLINE_EXCEEDED: 4,
    UNAVAILABLE: 14,
    UNAUTHENTICATED: 16,
  } as const;

  /** A gRPC service error shaped as @grpc/grpc-js delivers it (numeric code, metadata map). */
  function serviceError(code: number, map: Record<string, string> = {}): Error {
    return Object.assign(new Error(`${code} grpc`), {
      code,
      details: 'grpc',
      metadata: { getMap: () => map },
    });
  }

  it('answers "retry later" for an unreachable or slow server', () => {
    expect(kurrentErrorCode(new UnavailableError())).toBe('store_unavailable');
    expect(kurrentErrorCode(new DeadlineExceededError())).toBe('store_unavailable');
    expect(kurrentErrorCode(new CancelledError())).toBe('store_unavailable');
  });

  it('translates raw gRPC service errors by status code, as the client leaves some of them', () => {
    // Seen for real: an append to a closed port rejects with a bare UNAVAILABLE service error.
    expect(kurrentErrorCode(serviceError(status.UNAVAILABLE))).toBe('store_unavailable');
    expect(kurrentErrorCode(serviceError(status.DEADLINE_EXCEEDED))).toBe('store_unavailable');
    expect(kurrentErrorCode(serviceError(status.UNAUTHENTICATED))).toBe('store_failed');
    expect(
      kurrentErrorCode(
        serviceError(status.UNKNOWN, {
          exception: 'not-leader',
          'leader-endpoint-host': 'n2',
          'leader-endpoint-port': '2113',
        }),
      ),
    ).toBe('store_unavailable');
  });

  it('reports lost optimistic-concurrency races as busy', () => {
    const error = new WrongExpectedVersionError(undefined, {
      streamName: 's',
      expected: 'no_stream',
      current: 3n,
    });
    expect(kurrentErrorCode(error)).toBe('store_busy');
  });

  it('treats what retrying cannot fix as failed', () => {
    expect(kurrentErrorCode(new AccessDeniedError())).toBe('store_failed');
    expect(kurrentErrorCode(MaxAppendSizeExceededError.fromMaxAppendSize(1024))).toBe(
      'store_failed',
    );
    expect(kurrentErrorCode(StreamDeletedError.fromStreamName('truto-x'))).toBe('store_failed');
    expect(kurrentErrorCode(new StreamNotFoundError(undefined, 'truto-x'))).toBe('store_failed');
    expect(kurrentErrorCode(new UnknownError())).toBe('store_failed');
    expect(kurrentErrorCode(new TypeError('bug'))).toBe('store_failed');
    expect(kurrentErrorCode('a string')).toBe('store_failed');
  });

  it('wraps with the cause kept, and lets StoreErrors through untouched', () => {
    const cause = new UnavailableError();
    const wrapped = translateKurrentError(cause, 'appending');
    expect(wrapped).toBeInstanceOf(StoreError);
    expect(wrapped.code).toBe('store_unavailable');
    expect(wrapped.retryable).toBe(true);
    expect(wrapped.cause).toBe(cause);
    const own = new StoreError('store_closed', 'closed');
    expect(translateKurrentError(own, 'x')).toBe(own);
  });
});

describe('drivers stay in their adapter', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

  /** Every module reachable from `entry` through static relative imports. */
  function importGraph(entry: string): Map<string, string[]> {
    const graph = new Map<string, string[]>();
    const pending = [entry];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (graph.has(file)) continue;
      const source = readFileSync(file, 'utf8');
      // Static `import … from '…'` and `export … from '…'`; dynamic import() is lazy on purpose.
      const specifiers = [
        ...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms),
      ].map((m) => m[1]!);
      graph.set(file, specifiers);
      for (const spec of specifiers) {
        if (spec.startsWith('.'))
          pending.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    }
    return graph;
  }

  it('importing truto-state never reaches the KurrentDB client', () => {
    const graph = importGraph(resolve(root, 'src/index.ts'));
    for (const [file, specs] of graph) {
      expect(
        specs.filter((s) => s.startsWith('@kurrent/')),
        file,
      ).toEqual([]);
      expect(file.includes('/store/kurrentdb/'), file).toBe(false);
    }
  });

  it('only src/store/kurrentdb imports the client', () => {
    const graph = importGraph(resolve(root, 'src/store/kurrentdb/index.ts'));
    const importers = [...graph]
      .filter(([, specs]) => specs.some((s) => s.startsWith('@kurrent/')))
      .map(([file]) => file);
    expect(importers.length).toBeGreaterThan(0);
    for (const file of importers) expect(file).toContain('/src/store/kurrentdb/');
  });
});
