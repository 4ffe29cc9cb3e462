/**
 * The KurrentDB adapter's append protocol (src/store/kurrentdb/protocol.ts), run against the
 * model of the server's documented append rules (test/support/kurrentdb-model.ts, held to the
 * rule table in kurrentdb-rules.unit.test.ts). Concurrency is explored with fast-check's
 * scheduler, which decides the order in which requests reach the model.
 *
 * Each case is also in the real-server suite (kurrentdb.int.test.ts), which runs where
 * `KURRENTDB_URL` is set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/errors.js';
import { readBodyChunks } from '../../src/store/kurrentdb/bodies.js';
import {
  EVENT_TYPES,
  planRecord,
  recordBody,
  toLogRecord,
} from '../../src/store/kurrentdb/codec.js';
import { toEventUuid } from '../../src/store/kurrentdb/ids.js';
import type { KurrentIo } from '../../src/store/kurrentdb/io.js';
import { keepAside } from '../../src/store/kurrentdb/keep-aside.js';
import { createKeyedQueue, createLimiter } from '../../src/store/kurrentdb/locks.js';
import { streamNames } from '../../src/store/kurrentdb/names.js';
import {
  appendBatch,
  createRevisionHints,
  readIndex,
  type ProtocolContext,
  type RowResult,
} from '../../src/store/kurrentdb/protocol.js';
import { DEFAULT_MAX_APPEND_SIZE } from '../../src/store/kurrentdb/size.js';
import type { AppendOutcome, EventToAppend } from '../../src/store/port.js';
import { toEventRow } from '../../src/store/shared/rows.js';
import { makeEvent } from '../support/events.js';
import { createServerModel, gatedIo, type ServerModel } from '../support/kurrentdb-model.js';

const names = streamNames('t');

/** One process's protocol state (its own queue and revision hints) over `io`. */
function processOn(io: KurrentIo, extra: Partial<ProtocolContext> = {}): ProtocolContext {
  return {
    io,
    names,
    maxAppendSize: DEFAULT_MAX_APPEND_SIZE,
    maxRetries: 50,
    queue: createKeyedQueue(),
    limit: createLimiter(8),
    revisions: createRevisionHints(),
    owners: new Map(),
    ...extra,
  };
}

/** Appends like the store does: the batch, then its conflicts and duplicates kept aside. */
async function append(
  ctx: ProtocolContext,
  events: readonly EventToAppend[],
): Promise<RowResult[]> {
  const results = await appendBatch(ctx, events.map(toEventRow));
  await keepAside(ctx, results);
  return results;
}

function outcomes(results: readonly RowResult[]): AppendOutcome[] {
  return results.map((r) => {
    if (!r.ok) throw r.error;
    return r.outcome;
  });
}

/** The log: every event of an entity stream, in log order. */
const logOf = (model: ServerModel) =>
  model.all().filter((e) => e.stream.startsWith(names.logPrefix));

const keptConflicts = (model: ServerModel) => model.stream(names.conflicts);
const countedDuplicates = (model: ServerModel) =>
  model
    .stream(names.duplicates)
    .reduce((sum, e) => sum + ((e.json as { count: number }).count ?? 0), 0);

describe('defect 1: a repeated delivery never stores its event again', () => {
  it('answers duplicate or conflict to a repeat, writing no second log event', async () => {
    const model = createServerModel();
    const ctx = processOn(model);
    const [first] = outcomes(await append(ctx, [makeEvent('a')]));
    const [again] = outcomes(await append(ctx, [makeEvent('a')]));
    const [clash] = outcomes(await append(ctx, [makeEvent('a', { variant: 2 })]));
    expect(first).toMatchObject({ status: 'stored', id: 'a' });
    expect(again).toEqual({ status: 'duplicate', id: 'a', position: first!.position });
    expect(clash).toEqual({ status: 'conflict', id: 'a', position: first!.position });
    expect(logOf(model).map((e) => e.id)).toEqual([toEventUuid('a')]);
    expect(keptConflicts(model)).toHaveLength(1);
    expect(countedDuplicates(model)).toBe(1);
  });

  it('a repeat in another process (its own revision hints) is refused its claim too', async () => {
    const model = createServerModel();
    outcomes(await append(processOn(model), [makeEvent('a')]));
    const [again] = outcomes(await append(processOn(model), [makeEvent('a')]));
    expect(again?.status).toBe('duplicate');
    expect(logOf(model)).toHaveLength(1);
  });

  it('why claim event ids are per attempt: with one derived from the webhook id, the server lets the repeat win', async () => {
    // sequence_0em1_0em1_idempotent then sequence_0em1_0e0_non_idempotent, through the protocol.
    const model = createServerModel();
    const derived = () => '5d1e0000-0000-4000-8000-000000000001';
    const [one] = outcomes(
      await append(processOn(model, { attemptId: derived }), [makeEvent('a')]),
    );
    const [two] = outcomes(
      await append(processOn(model, { attemptId: derived }), [makeEvent('a')]),
    );
    expect([one?.status, two?.status]).toEqual(['stored', 'stored']);
    expect(logOf(model)).toHaveLength(2);
  });

  it('property: any history of batches stores each id once and answers the rest against the first', async () => {
    const history = fc.array(
      fc.array(
        fc.record({ id: fc.integer({ min: 0, max: 4 }), variant: fc.integer({ min: 0, max: 1 }) }),
        {
          maxLength: 5,
        },
      ),
      { minLength: 1, maxLength: 5 },
    );
    await fc.assert(
      fc.asyncProperty(history, async (batches) => {
        const model = createServerModel();
        const ctx = processOn(model);
        const all: AppendOutcome[] = [];
        for (const batch of batches)
          all.push(
            ...outcomes(
              await append(
                ctx,
                batch.map((e) => makeEvent(`p${e.id}`, { variant: e.variant })),
              ),
            ),
          );
        const inputs = batches.flat();
        const first = new Map<string, number>();
        for (const e of inputs) if (!first.has(`p${e.id}`)) first.set(`p${e.id}`, e.variant);
        const seen = new Set<string>();
        all.forEach((o, i) => {
          const id = `p${inputs[i]!.id}`;
          const expected = !seen.has(id)
            ? 'stored'
            : inputs[i]!.variant === first.get(id)
              ? 'duplicate'
              : 'conflict';
          seen.add(id);
          expect(o.status).toBe(expected);
        });
        expect(logOf(model)).toHaveLength(first.size);
      }),
      { numRuns: 60 },
    );
  });
});

describe('defect 2: positions rise in input order within a batch', () => {
  it('lands in input order whatever order the claims are answered in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
        async (s, streams) => {
          const model = createServerModel();
          const ctx = processOn(gatedIo(model, (label) => s.schedule(Promise.resolve(), label)));
          const events = streams.map((n, i) => makeEvent(`e${i}`, { stream: `account:${n}` }));
          const results = outcomes(await s.waitFor(append(ctx, events)));
          expect(results.map((o) => o.status)).toEqual(events.map(() => 'stored'));
          const positions = results.map((o) => o.position);
          expect([...positions].sort((x, y) => x - y)).toEqual(positions);
          expect(new Set(positions).size).toBe(positions.length);
          expect(logOf(model).map((e) => e.id)).toEqual(events.map((e) => toEventUuid(e.id)));
        },
      ),
      { numRuns: 80 },
    );
  });

  it("calls of one process sharing ids: each call's stored positions rise in input order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 5 }), {
          minLength: 2,
          maxLength: 3,
        }),
        async (s, calls) => {
          const model = createServerModel();
          // One process: one context (queue, hints, owners) shared by concurrent calls.
          const ctx = processOn(gatedIo(model, (label) => s.schedule(Promise.resolve(), label)));
          const batches = calls.map((ids) => ids.map((n) => makeEvent(`k${n}`)));
          const results = (await s.waitFor(Promise.all(batches.map((b) => append(ctx, b))))).map(
            (r) => outcomes(r),
          );
          for (const call of results) {
            const stored = call.filter((o) => o.status === 'stored').map((o) => o.position);
            expect([...stored].sort((x, y) => x - y)).toEqual(stored);
          }
          const all = results.flat();
          const distinct = new Set(all.map((o) => o.id));
          expect(all.filter((o) => o.status === 'stored')).toHaveLength(distinct.size);
          expect(logOf(model)).toHaveLength(distinct.size);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('lands several events of one entity without refused appends or rescans', async () => {
    const model = createServerModel();
    let appendsToEntity = 0;
    const counting: KurrentIo = {
      ...model,
      append(stream, events, expected) {
        if (stream === names.entity('account:x')) appendsToEntity += 1;
        return model.append(stream, events, expected);
      },
      read: (stream, from, max) => model.read(stream, from, max),
      last: (stream) => model.last(stream),
    };
    const events = Array.from({ length: 5 }, (_, i) => makeEvent(`x${i}`, { stream: 'account:x' }));
    outcomes(await append(processOn(counting), events));
    expect(appendsToEntity).toBe(5);
    expect(model.stream(names.entity('account:x')).map((e) => e.revision)).toEqual([
      0n,
      1n,
      2n,
      3n,
      4n,
    ]);
  });
});

describe('defect 3: only the owner of a claim answers stored', () => {
  it('two processes delivering one id at once: exactly one stored, one log event, one position', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 2, maxLength: 4 }),
        fc.boolean(),
        async (s, variants, idempotentPosition) => {
          const model = createServerModel({ idempotentPosition });
          const io = gatedIo(model, (label) => s.schedule(Promise.resolve(), label));
          // One process per delivery: their own queues and hints, one server.
          const runs = variants.map((variant) =>
            append(processOn(io), [makeEvent('x', { variant, stream: 'account:x' })]),
          );
          const results = (await s.waitFor(Promise.all(runs))).map((r) => outcomes(r)[0]!);
          const stored = results.filter((o) => o.status === 'stored');
          expect(stored).toHaveLength(1);
          const winner = variants[results.indexOf(stored[0]!)];
          results.forEach((o, i) => {
            if (o.status !== 'stored')
              expect(o.status).toBe(variants[i] === winner ? 'duplicate' : 'conflict');
            expect(o.position).toBe(stored[0]!.position);
          });
          expect(logOf(model).map((e) => e.id)).toEqual([toEventUuid('x')]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("a latecomer in the same process takes the owner's landing rather than scanning the stream", async () => {
    const model = createServerModel();
    const scans: string[] = [];
    const ctx = processOn({
      ...model,
      append: (stream, events, expected) => model.append(stream, events, expected),
      read(stream, from, max) {
        if (stream.startsWith(names.logPrefix) && max === undefined) scans.push(stream);
        return model.read(stream, from, max);
      },
      last: (stream) => model.last(stream),
    });
    const results = outcomes(await append(ctx, [makeEvent('r'), makeEvent('r'), makeEvent('r')]));
    expect(results.map((o) => o.status)).toEqual(['stored', 'duplicate', 'duplicate']);
    expect(new Set(results.map((o) => o.position)).size).toBe(1);
    expect(scans).toEqual([]);
  });

  it('a latecomer that finishes a stalled claim answers duplicate, and the owner still answers stored', async () => {
    const model = createServerModel();
    // The owner's first landing fails (its connection dropped after the claim).
    let ownerDown = true;
    const owner = processOn({
      ...model,
      async append(stream, events, expected) {
        if (ownerDown && stream.startsWith(names.logPrefix))
          throw new StoreError('store_unavailable', 'down');
        return model.append(stream, events, expected);
      },
      read: (stream, from, max) => model.read(stream, from, max),
      last: (stream) => model.last(stream),
    });
    const [failed] = await append(owner, [makeEvent('x')]);
    expect(failed).toMatchObject({ ok: false });
    expect(logOf(model)).toHaveLength(0);
    const [late] = outcomes(await append(processOn(model), [makeEvent('x')]));
    expect(late?.status).toBe('duplicate');
    expect(logOf(model)).toHaveLength(1);
    ownerDown = false;
    const [retry] = outcomes(await append(owner, [makeEvent('x')]));
    expect(retry).toEqual({ status: 'duplicate', id: 'x', position: late!.position });
    expect(logOf(model)).toHaveLength(1);
  });

  it("finishes a crashed writer's claim with the claimed body, whatever the latecomer brings", async () => {
    const model = createServerModel();
    const first = makeEvent('crashed', { variant: 1 });
    // A writer killed between its claim and its landing leaves a claim under a random id.
    await model.append(
      names.id(toEventUuid('crashed')),
      [
        {
          id: '0c000000-0000-4000-8000-0000000000aa',
          type: EVENT_TYPES.claim,
          json: toLogRecord(toEventRow(first)),
        },
      ],
      'no_stream',
    );
    const [clash] = outcomes(
      await append(processOn(model), [makeEvent('crashed', { variant: 2 })]),
    );
    expect(clash?.status).toBe('conflict');
    const log = logOf(model);
    expect(log).toHaveLength(1);
    expect((log[0]!.json as { sha256: string }).sha256).toBe(toLogRecord(toEventRow(first)).sha256);
    const [again] = outcomes(await append(processOn(model), [first]));
    expect(again).toEqual({ status: 'duplicate', id: 'crashed', position: clash!.position });
  });
});

describe("defect 4: bodies up to the receiver's 1 MiB under the server's 1 MiB MaxAppendSize", () => {
  const bodyOf = (size: number, seed: number): Uint8Array =>
    Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff);
  const withBody = (id: string, body: Uint8Array): EventToAppend => ({ ...makeEvent(id), body });

  it('stores a 1 MiB body, every append within the budget, and reads it back whole', async () => {
    const model = createServerModel();
    const ctx = processOn(model);
    const body = bodyOf(1024 * 1024, 1);
    const [stored] = outcomes(await append(ctx, [withBody('big', body)]));
    expect(stored?.status).toBe('stored');
    expect(model.largestAppend).toBeLessThanOrEqual(DEFAULT_MAX_APPEND_SIZE);
    const index = await readIndex(ctx, toEventUuid('big'));
    const back = await recordBody(index!.claim, (ref) => readBodyChunks(ctx, ref));
    expect(Buffer.compare(back, Buffer.from(body))).toBe(0);
    // A repeat is a duplicate, and writes no body again.
    const before = model.all().length;
    const [again] = outcomes(await append(ctx, [withBody('big', body)]));
    expect(again?.status).toBe('duplicate');
    expect(model.all().filter((e) => e.stream.startsWith('t_body-'))).toHaveLength(
      model
        .all()
        .slice(0, before)
        .filter((e) => e.stream.startsWith('t_body-')).length,
    );
  });

  it('keeps several large conflicts of one batch aside, split so no append is over budget', async () => {
    const model = createServerModel();
    const ctx = processOn(model);
    const ids = ['c1', 'c2', 'c3'];
    outcomes(
      await append(
        ctx,
        ids.map((id, i) => withBody(id, bodyOf(600 * 1024, i))),
      ),
    );
    const clashes = outcomes(
      await append(
        ctx,
        ids.map((id, i) => withBody(id, bodyOf(600 * 1024, i + 10))),
      ),
    );
    expect(clashes.map((o) => o.status)).toEqual(['conflict', 'conflict', 'conflict']);
    expect(keptConflicts(model)).toHaveLength(3);
    expect(model.largestAppend).toBeLessThanOrEqual(DEFAULT_MAX_APPEND_SIZE);
  });

  it('property: whatever the body size, no append exceeds the budget and the body reads back', async () => {
    const budget = 8 * 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 * budget }),
        fc.boolean(),
        async (size, clash) => {
          const model = createServerModel({ maxAppendSize: budget });
          const ctx = processOn(model, { maxAppendSize: budget });
          const body = bodyOf(size, 3);
          outcomes(await append(ctx, [withBody('b', body)]));
          if (clash) outcomes(await append(ctx, [withBody('b', bodyOf(size + 1, 4))]));
          expect(model.largestAppend).toBeLessThanOrEqual(budget);
          const index = await readIndex(ctx, toEventUuid('b'));
          const back = await recordBody(index!.claim, (ref) => readBodyChunks(ctx, ref));
          expect(Buffer.compare(back, Buffer.from(body))).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps small bodies inline (one claim, one log event) and refuses facts too large for any append', () => {
    const small = planRecord(toEventRow(makeEvent('s')), 'attempt', names, DEFAULT_MAX_APPEND_SIZE);
    expect(small.chunks).toHaveLength(0);
    expect(small.record.bodyRef).toBeNull();
    const huge = { ...makeEvent('h'), data: { text: 'x'.repeat(2 * 1024 * 1024) } };
    expect(() => planRecord(toEventRow(huge), 'attempt', names, DEFAULT_MAX_APPEND_SIZE)).toThrow(
      /MaxAppendSize/,
    );
  });
});

describe('defect 9: one failed event does not lose the others', () => {
  it("settles each event on its own, and still keeps the others' conflicts and duplicates", async () => {
    const model = createServerModel({
      failAppend: (stream) =>
        stream === names.entity('account:down')
          ? new StoreError('store_unavailable', 'gone')
          : undefined,
    });
    const ctx = processOn(model);
    outcomes(await append(ctx, [makeEvent('d'), makeEvent('c')]));
    const results = await append(ctx, [
      makeEvent('a'),
      makeEvent('b', { stream: 'account:down' }),
      makeEvent('d'),
      makeEvent('c', { variant: 5 }),
      makeEvent('e'),
    ]);
    expect(results.map((r) => (r.ok ? r.outcome.status : r.error.code))).toEqual([
      'stored',
      'store_unavailable',
      'duplicate',
      'conflict',
      'stored',
    ]);
    expect(countedDuplicates(model)).toBe(1);
    expect(keptConflicts(model)).toHaveLength(1);
    const positions = results.flatMap((r) =>
      r.ok && r.outcome.status === 'stored' ? [r.outcome.position] : [],
    );
    expect(positions[0]).toBeLessThan(positions[1]!);
  });
});
