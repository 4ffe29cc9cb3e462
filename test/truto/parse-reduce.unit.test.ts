/**
 * The reduced-JSON fast path of parseWebhook (src/events/json-reduce.ts) must be invisible: a
 * body given as bytes (>= 1 KiB: scanned and reduced) parses to exactly what the same body gives
 * as a string (never reduced: the plain JSON.parse path), for valid bodies of every shape and for
 * bodies broken at random places (same error code and message).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWebhook, type ParseResult } from '../../src/truto/parse.js';
import { reduceWebhookJson } from '../../src/truto/json-reduce.js';

const decoder = new TextDecoder();

/** Everything but the body bytes, which differ only when the bytes are not valid UTF-8. */
function comparable(result: ParseResult): unknown {
  return result.ok ? { ...result.event, body: undefined } : result;
}

/** The bytes path against the string path of the same text. */
function expectSameAsWhole(bytes: Uint8Array): void {
  const viaBytes = parseWebhook(bytes);
  const viaText = parseWebhook(decoder.decode(bytes));
  expect(comparable(viaBytes)).toEqual(comparable(viaText));
}

const types = fc.constantFrom(
  'sync_job_run:record',
  'sync_job_run:record_error',
  'sync_job_run:completed',
  'integrated_account:active',
  'record:created',
  'batch_job:completed',
  'no_such:event',
);

const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Mostly valid values, sometimes odd ones (so both the facts and the zod issues are compared). */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: anyJson });
const id = mostly(fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.integer()));

/** Payloads near the real shapes, with read keys given odd values and unread keys added. */
const payload = fc.record(
  {
    id,
    sync_job_run_id: id,
    integrated_account_id: id,
    resource: mostly(fc.constant('hris/employees')),
    status: mostly(fc.constant('active')),
    created_at: mostly(fc.constant('2024-09-10 12:00:00')),
    meta: mostly(fc.record({ sync_job_run_id: id })),
    integration: mostly(fc.record({ name: fc.string() })),
    records: mostly(fc.array(anyJson, { maxLength: 60 })),
    errors: mostly(fc.array(anyJson, { maxLength: 5 })),
    last_error: anyJson,
    context: anyJson,
    // Escaped spellings of read and unread keys.
    're\\u0063ords': anyJson,
  },
  { requiredKeys: [] },
);

const envelope = fc.record(
  {
    id,
    event: types,
    event_type: types,
    created_at: mostly(fc.constant('2024-09-10T12:00:00.000Z')),
    payload: fc.oneof({ weight: 4, arbitrary: payload }, { weight: 1, arbitrary: anyJson }),
    environment_id: anyJson,
    extra: anyJson,
  },
  { requiredKeys: [] },
);

/** JSON text of a body, padded past the fast-path threshold with an unread key. */
function bodyText(value: Record<string, unknown>, pad: string, spaced: boolean): string {
  const text = JSON.stringify({ ...value, padding: pad }, null, spaced ? 1 : undefined)
    // JSON.stringify cannot write an escaped key: the test's `re\\u0063ords` is written raw.
    .replace(/"re\\\\u0063ords"/g, '"re\\u0063ords"');
  // And a `__proto__` member, which an object literal would turn into a prototype.
  return `{"__proto__":{"records":[1,2]},${text.slice(1)}`;
}

const padding = fc.string({ minLength: 1100, maxLength: 1300 });

describe('parseWebhook fast path', () => {
  it('parses valid bodies of every shape as the whole-body parse does', () => {
    fc.assert(
      fc.property(envelope, padding, fc.boolean(), (value, pad, spaced) => {
        expectSameAsWhole(Buffer.from(bodyText(value, pad, spaced)));
      }),
      { numRuns: 400 },
    );
  });

  it('treats bodies broken at random places as the whole-body parse does', () => {
    const interesting = [...'{}[]",:\\ \t\n0-.eE+tfnu'].map((c) => c.charCodeAt(0));
    const edit = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('replace', 'delete', 'insert', 'truncate'),
      byte: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 })),
    });
    fc.assert(
      fc.property(
        envelope,
        padding,
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        (value, pad, edits) => {
          let bytes = Buffer.from(bodyText(value, pad, false));
          for (const { at, kind, byte } of edits) {
            const i = at % bytes.length;
            if (kind === 'replace') bytes[i] = byte;
            else if (kind === 'delete')
              bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
            else if (kind === 'insert')
              bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
            else bytes = bytes.subarray(0, i);
          }
          expectSameAsWhole(bytes);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('only ever accepts what JSON.parse accepts', () => {
    const keys = {
      envelope: new Set(['id', 'payload']),
      payloadKey: 'payload',
      payload: new Set(['id']),
      counted: new Set(['records']),
    };
    const text = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.string({
        unit: fc.constantFrom(...'{}[]",:\\ 0123456789-+.eEtrufalsn\t\n'.split('')),
        maxLength: 40,
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const bytes = Buffer.from(`{"payload":{"records":${t}},"x":${t}}`);
        const reduced = reduceWebhookJson(bytes, keys, (b) => decoder.decode(b));
        let valid = true;
        try {
          JSON.parse(decoder.decode(bytes));
        } catch {
          valid = false;
        }
        if (reduced !== null) {
          expect(valid).toBe(true);
          expect(() => JSON.parse(reduced)).not.toThrow();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps what is read, counts records and zeroes unread values', () => {
    const records = Array.from({ length: 30 }, (_, i) => ({
      id: `rec-${i}`,
      name: 'x'.repeat(40),
    }));
    const body = JSON.stringify({
      id: 'e1',
      event: 'sync_job_run:record',
      created_at: '2024-09-10 12:00:00',
      payload: {
        sync_job_run_id: 'run-1',
        resource: 'hris/employees',
        records,
        context: { a: 'y'.repeat(200) },
      },
      webhook_id: 'w1',
      unrelated: 'z'.repeat(100),
    });
    const keys = {
      envelope: new Set(['id', 'event', 'created_at', 'payload', 'webhook_id']),
      payloadKey: 'payload',
      payload: new Set(['sync_job_run_id', 'resource']),
      counted: new Set(['records']),
    };
    const reduced = reduceWebhookJson(Buffer.from(body), keys, (b) => decoder.decode(b));
    expect(JSON.parse(reduced ?? 'null')).toEqual({
      id: 'e1',
      event: 'sync_job_run:record',
      created_at: '2024-09-10 12:00:00',
      payload: {
        sync_job_run_id: 'run-1',
        resource: 'hris/employees',
        records: new Array(30).fill(0),
        context: 0,
      },
      webhook_id: 'w1',
      unrelated: 0,
    });
    const parsed = parseWebhook(Buffer.from(body));
    expect(parsed.ok && parsed.event.data).toEqual({
      kind: 'run',
      runId: 'run-1',
      resource: 'hris/employees',
      records: 30,
    });
  });

  it('leaves a leading byte-order mark, deep nesting and non-objects to the whole parse', () => {
    const keys = {
      envelope: new Set<string>(),
      payloadKey: 'payload',
      payload: new Set<string>(),
      counted: new Set<string>(),
    };
    const decode = (b: Uint8Array) => decoder.decode(b);
    const big = JSON.stringify({ id: 'e1', pad: 'p'.repeat(2000) });
    expect(reduceWebhookJson(Buffer.from(`\ufeff${big}`), keys, decode)).toBeNull();
    expect(reduceWebhookJson(Buffer.from(`[${big}]`), keys, decode)).toBeNull();
    const deep = `{"a":${'['.repeat(1000)}${']'.repeat(1000)}}`;
    expect(reduceWebhookJson(Buffer.from(deep), keys, decode)).toBeNull();
    expectSameAsWhole(Buffer.from(`\ufeff${big}`));
    expectSameAsWhole(Buffer.from(deep));
  });
});
