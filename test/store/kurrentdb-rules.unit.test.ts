/**
 * KurrentDB's append rules, as documented, and the adapter's decisions on what the server
 * answered. No server runs here, so the rules come from their sources, cited per row:
 *
 * - [dotnet] the official .NET client's tests for appends to implicitly created streams,
 *   `appending_to_implicitly_created_stream` (kurrent-io/KurrentDB-Client-Dotnet,
 *   test/EventStore.Client.Streams.Tests/Append/appending_to_implicitly_created_stream.cs). In
 *   their names `0em1` is "event 0 appended expecting -1 (no stream)", `0e0` "event 0 appended
 *   expecting revision 0", `S_…_E` one append of several events.
 * - [docs] "Optimistic concurrency and idempotence" (EventStore/documentation,
 *   docs/clients/dotnet/21.2/appending/optimistic-concurrency-and-idempotence.md): expected >
 *   current refuses; expected = current appends; expected < current compares the ids from
 *   expected + 1 on (all there: success, nothing written; none or some: refusal).
 * - [size] KurrentDB's `MaxAppendSize`, default 1_024 * 1_024, "the total size of all events in
 *   the append request" (kurrent-io/KurrentDB, src/EventStore.Core/Configuration/
 *   ClusterVNodeOptions.cs), each event counted as data + metadata + 2 × type length
 *   (`Event.SizeOnDisk`, checked per event in the gRPC append service).
 *
 * The model in test/support/kurrentdb-model.ts is held to this table; the protocol tests run on
 * that model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  afterLandAppend,
  appendAnswerOf,
  claimResult,
  landingRevision,
  outcomeStatus,
} from '../../src/store/kurrentdb/decisions.js';
import type { Expected, Proposed } from '../../src/store/kurrentdb/io.js';
import {
  DEFAULT_MAX_APPEND_SIZE,
  eventSize,
  packBySize,
  splitBytes,
} from '../../src/store/kurrentdb/size.js';
import { createServerModel } from '../support/kurrentdb-model.js';

const ids = ['0a000000-0000-4000-8000-000000000000', '0b000000-0000-4000-8000-000000000000'];
const nth = (i: number): string =>
  `${i.toString(16).padStart(8, '0')}-0000-4000-8000-00000000000${i % 10}`;
const ev = (id: string): Proposed => ({ id, type: 'test', json: { id } });

interface Rule {
  readonly source: string;
  /** Event ids already in the stream, appended in one go expecting no stream. */
  readonly given: readonly string[];
  readonly append: readonly string[];
  readonly expected: Expected;
  readonly answer: 'ok' | 'wrong_expected_version';
  /** Events in the stream afterwards. */
  readonly count: number;
}

const six = Array.from({ length: 6 }, (_, i) => nth(i + 1));
const [a, b] = ids as [string, string];
const c = nth(9);

const rules: readonly Rule[] = [
  // The rule behind defect 1: a repeated claim event id "wins" a claim expecting no stream.
  {
    source: '[dotnet] sequence_0em1_0em1_idempotent',
    given: [a],
    append: [a],
    expected: 'no_stream',
    answer: 'ok',
    count: 1,
  },
  // …and behind the second copy: at the current revision no id is compared.
  {
    source: '[dotnet] sequence_0em1_0e0_non_idempotent',
    given: [a],
    append: [a],
    expected: 0n,
    answer: 'ok',
    count: 2,
  },
  // The rule behind defect 3: an owner landing at its noted revision finds a rival's copy.
  {
    source: '[dotnet] sequence_S_0em1_1em1_E_S_1e0_E_idempotent',
    given: [a, b],
    append: [b],
    expected: 0n,
    answer: 'ok',
    count: 2,
  },
  {
    source: '[dotnet] sequence_S_0em1_1em1_E_S_0em1_E_idempotent',
    given: [a, b],
    append: [a],
    expected: 'no_stream',
    answer: 'ok',
    count: 2,
  },
  {
    source: '[dotnet] sequence_0em1_1e0_2e1_3e2_4e3_5e4_0em1_idempotent',
    given: six,
    append: [six[0]!],
    expected: 'no_stream',
    answer: 'ok',
    count: 6,
  },
  {
    source: '[dotnet] sequence_0em1_1e0_2e1_3e2_4e3_5e4_0e5_non_idempotent',
    given: six,
    append: [six[0]!],
    expected: 5n,
    answer: 'ok',
    count: 7,
  },
  {
    source: '[dotnet] sequence_0em1_1e0_2e1_3e2_4e3_5e4_0e6_throws_wev',
    given: six,
    append: [six[0]!],
    expected: 6n,
    answer: 'wrong_expected_version',
    count: 6,
  },
  {
    source: '[dotnet] sequence_0em1_1e0_2e1_3e2_4e3_5e4_0e4_throws_wev',
    given: six,
    append: [six[0]!],
    expected: 4n,
    answer: 'wrong_expected_version',
    count: 6,
  },
  {
    source: '[dotnet] sequence_S_0em1_1em1_E_S_0em1_1em1_2em1_E_idempotancy_fail_throws',
    given: [a, b],
    append: [a, b, c],
    expected: 'no_stream',
    answer: 'wrong_expected_version',
    count: 2,
  },
  {
    source: '[dotnet] sequence_0em1_0any_idempotent',
    given: [a],
    append: [a],
    expected: 'any',
    answer: 'ok',
    count: 1,
  },
  {
    source: '[dotnet] sequence_0em1_1e0_2e1_1any_1any_idempotent',
    given: [a, b, c],
    append: [b],
    expected: 'any',
    answer: 'ok',
    count: 3,
  },
  // What the fix relies on: a claim under a fresh attempt id is refused when the id is taken.
  {
    source: '[docs] expected < current, none of the events committed: refused',
    given: [a],
    append: [b],
    expected: 'no_stream',
    answer: 'wrong_expected_version',
    count: 1,
  },
  {
    source: '[docs] expected = current: appended',
    given: [a],
    append: [b],
    expected: 0n,
    answer: 'ok',
    count: 2,
  },
  {
    source: '[docs] expected > current: refused',
    given: [],
    append: [a],
    expected: 0n,
    answer: 'wrong_expected_version',
    count: 0,
  },
];

describe("the server's append rules (the model, held to the documented table)", () => {
  for (const rule of rules) {
    it(rule.source, async () => {
      const model = createServerModel();
      if (rule.given.length > 0) await model.append('s', rule.given.map(ev), 'no_stream');
      const answer = await model.append('s', rule.append.map(ev), rule.expected);
      expect(answer.kind).toBe(rule.answer);
      expect(model.stream('s')).toHaveLength(rule.count);
    });
  }

  it('[size] refuses an append whose events add up to more than MaxAppendSize (1 MiB by default)', async () => {
    const model = createServerModel();
    const type = 'x';
    const half = (DEFAULT_MAX_APPEND_SIZE - 2 * type.length * 2) / 2;
    const event = (id: string, bytes: number): Proposed => ({
      id,
      type,
      bytes: new Uint8Array(bytes),
    });
    // Exactly at the limit passes; one byte more, spread over two events, does not.
    await expect(model.append('s', [event(a, half), event(b, half)], 'any')).resolves.toMatchObject(
      { kind: 'ok' },
    );
    await expect(model.append('t', [event(a, half), event(b, half + 1)], 'any')).rejects.toThrow(
      /MaxAppendSize/,
    );
    expect(eventSize('ab', new Uint8Array(10), new Uint8Array(3))).toBe(10 + 3 + 4);
  });
});

describe('decisions on what the server answered', () => {
  it('reads `success: false` (throwOnAppendFailure=false in the connection string) as a refusal', () => {
    expect(appendAnswerOf({ success: false, nextExpectedRevision: 1n })).toEqual({
      kind: 'wrong_expected_version',
    });
    const position = { commit: 5n, prepare: 5n };
    expect(appendAnswerOf({ success: true, nextExpectedRevision: 3n, position })).toEqual({
      kind: 'ok',
      revision: 3n,
      position,
    });
    // A refused claim is never taken for an owned one, whichever way the client reports it.
    expect(claimResult(appendAnswerOf({ success: false, nextExpectedRevision: -1n }))).toBe(
      'taken',
    );
    expect(claimResult({ kind: 'wrong_expected_version' })).toBe('taken');
    expect(claimResult({ kind: 'ok', revision: 0n })).toBe('owned');
  });

  it('answers `stored` only to the owner of the claim; a latecomer that finished it answers duplicate or conflict', () => {
    expect(outcomeStatus('owner', 'x', 'x')).toBe('stored');
    expect(outcomeStatus('latecomer', 'x', 'x')).toBe('duplicate');
    expect(outcomeStatus('latecomer', 'x', 'y')).toBe('conflict');
    expect(() => outcomeStatus('owner', 'x', 'y')).toThrow();
  });

  it('after a refused landing, scans from right after the revision it expected, before any retry', () => {
    expect(afterLandAppend(4n, { kind: 'wrong_expected_version' })).toEqual({
      kind: 'scan',
      from: 5n,
    });
    expect(afterLandAppend('no_stream', { kind: 'wrong_expected_version' })).toEqual({
      kind: 'scan',
      from: 0n,
    });
    expect(afterLandAppend(4n, { kind: 'ok', revision: 5n })).toEqual({
      kind: 'landed',
      revision: 5n,
    });
    // An idempotent success names the revision the event already had.
    expect(afterLandAppend(4n, { kind: 'ok', revision: 6n })).toEqual({
      kind: 'landed',
      revision: 6n,
    });
  });

  it('skips only revisions known to hold other events, never one it has not seen filled', () => {
    fc.assert(
      fc.property(
        fc.option(fc.bigInt({ min: 0n, max: 20n }), { nil: undefined }),
        fc.uniqueArray(fc.bigInt({ min: 0n, max: 30n })),
        (start, known) => {
          const before = start ?? 'no_stream';
          const filled = new Set(known);
          const chosen = landingRevision(before, filled);
          const first = before === 'no_stream' ? 0n : before + 1n;
          const end = chosen === 'no_stream' ? -1n : chosen;
          // Every skipped revision was filled…
          for (let r = first; r <= end; r += 1n) expect(filled.has(r)).toBe(true);
          // …and it stops at the first one that was not.
          expect(filled.has(end + 1n)).toBe(false);
        },
      ),
    );
  });
});

describe('sizes under the append budget', () => {
  it('packs items into consecutive groups within the budget, in order, losing none', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 400 })),
        fc.integer({ min: 400, max: 2000 }),
        (sizes, budget) => {
          const groups = packBySize(sizes, (n) => n, budget);
          expect(groups.flat()).toEqual(sizes);
          for (const group of groups) {
            expect(group.length).toBeGreaterThan(0);
            expect(group.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(budget);
          }
          // Greedy: a group closed only because the next item did not fit.
          groups.slice(0, -1).forEach((group, i) => {
            const next = groups[i + 1]![0]!;
            expect(group.reduce((x, y) => x + y, 0) + next).toBeGreaterThan(budget);
          });
        },
      ),
    );
  });

  it('splits bytes into chunks of at most the chunk size that join back to the bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 1, max: 64 }),
        (bytes, size) => {
          const chunks = splitBytes(bytes, size);
          expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes));
          for (const chunk of chunks) expect(chunk.byteLength).toBeLessThanOrEqual(size);
          expect(chunks).toHaveLength(Math.max(1, Math.ceil(bytes.byteLength / size)));
        },
      ),
    );
  });
});
