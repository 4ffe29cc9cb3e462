/**
 * What parsing decides, once, for inputs a store could not hold or a fold could not use: NUL
 * characters, numeric ids, deep nesting, impossible dates, records keys holding `/`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../../src/truto/parse.js';
import { parseSourceTime, toIsoTime } from '../../src/truto/time.js';
import { recordsKey, splitRecordsKey } from '../../src/truto/streams.js';
import { MAX_VALUE_DEPTH } from '../../src/truto/schemas.js';
import { readSourceTime } from '../../src/truto/time.js';

const NUL = '\u0000';

function envelope(overrides: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) {
  return JSON.stringify({
    id: 'evt-1',
    event: 'integrated_account:active',
    created_at: '2024-09-10T12:00:00.000Z',
    payload: { id: 'acc-1', status: 'active', tenant_id: 't-1', ...payload },
    ...overrides,
  });
}

function parsed(body: string) {
  const result = parseWebhook(Buffer.from(body));
  if (!result.ok) throw new Error(`refused: ${result.code} ${result.message}`);
  return result.event;
}

/** A string with a NUL inserted somewhere in it. */
const withNul = fc
  .tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }))
  .map(([a, b]) => `${a}${NUL}${b}`);

describe('NUL characters (item 2)', () => {
  it('refuses a NUL in the envelope id or the event name, with the reason', () => {
    fc.assert(
      fc.property(withNul, (value) => {
        const byId = parseWebhook(envelope({ id: value }));
        expect(byId).toMatchObject({ ok: false, code: 'invalid_id' });
        expect(byId.ok ? '' : byId.message).toContain('NUL');
        const byName = parseWebhook(envelope({ event: value }));
        expect(byName).toMatchObject({ ok: false, code: 'invalid_event' });
      }),
    );
  });

  it('stores, does not project, an event with a NUL in a key, group or filter field', () => {
    const fields: [string, (v: string) => string][] = [
      ['id', (v) => envelope({}, { id: v })],
      ['tenant_id', (v) => envelope({}, { tenant_id: v })],
      ['status', (v) => envelope({}, { status: v })],
      ['environment_integration_id', (v) => envelope({}, { environment_integration_id: v })],
      ['integration', (v) => envelope({}, { integration: { name: v } })],
      [
        'integrated_account_id',
        (v) =>
          envelope(
            { event: 'record:created' },
            { id: 'r-1', integrated_account_id: v, resource: 'crm/contacts' },
          ),
      ],
      [
        'resource',
        (v) =>
          envelope(
            { event: 'record:created' },
            { id: 'r-1', integrated_account_id: 'acc-1', resource: v },
          ),
      ],
      [
        'sync_job_run_id',
        (v) => envelope({ event: 'sync_job_run:record' }, { sync_job_run_id: v, records: [] }),
      ],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...fields), withNul, ([field, body], value) => {
        const event = parsed(body(value));
        expect(event.data).toBeNull();
        expect(event.stream).toBeNull();
        expect(event.skipped?.reason).toBe('invalid_payload');
        const issue = event.skipped?.issues?.find((i) => i.path.includes(field));
        expect(issue?.message).toContain('NUL');
      }),
    );
  });

  it('turns a NUL inside a free-form value (last_error) into U+FFFD, keys included', () => {
    fc.assert(
      fc.property(withNul, withNul, (key, value) => {
        // JSON.parse makes `__proto__` an own key, as a delivery's body would.
        const lastErrorIn = JSON.parse(
          `{"__proto__": ${JSON.stringify(value)}, ${JSON.stringify(key)}: [${JSON.stringify(value)}]}`,
        ) as Record<string, unknown>;
        const event = parsed(envelope({}, { last_error: lastErrorIn }));
        const clean = (text: string) => text.replaceAll(NUL, '\uFFFD');
        const lastError = (event.data as { lastError: Record<string, unknown> }).lastError;
        expect(Object.keys(lastError).sort()).toEqual([clean(key), '__proto__'].sort());
        expect(lastError[clean(key)]).toEqual([clean(value)]);
        expect(Object.getOwnPropertyDescriptor(lastError, '__proto__')?.value).toBe(clean(value));
        expect(Object.getPrototypeOf(lastError)).toBe(Object.prototype);
        expect(JSON.stringify(event.data)).not.toContain('\\u0000');
      }),
    );
  });
});

describe('deep nesting (item 3)', () => {
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('stores a last_error nested 100,000 deep unprojected, and its facts serialise', () => {
    const body = envelope({}, { last_error: '@' }).replace('"@"', nested(100_000));
    const event = parsed(body);
    expect(event.data).toBeNull();
    expect(event.skipped).toMatchObject({ reason: 'invalid_payload' });
    expect(event.skipped?.issues?.[0]?.path).toEqual(['last_error']);
    expect(() => JSON.stringify(event)).not.toThrow();
  });

  it('projects values up to the bound and refuses them past it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_VALUE_DEPTH * 2 }), (depth) => {
        const event = parsed(envelope({}, { last_error: '@' }).replace('"@"', nested(depth)));
        expect(event.data === null).toBe(depth > MAX_VALUE_DEPTH);
      }),
    );
  });
});

describe('numeric ids (item 12)', () => {
  it('refuses numeric envelope ids: big integers never collide, 7 never equals "7"', () => {
    for (const id of ['12345678901234567890', '12345678901234567891', '7']) {
      const result = parseWebhook(envelope().replace('"evt-1"', id));
      expect(result).toMatchObject({ ok: false, code: 'invalid_id' });
    }
    expect(parsed(envelope({ id: '7' })).id).toBe('7');
  });

  it('keeps string ids exactly, and does not project numeric payload ids', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes(NUL)),
        fc.oneof(
          fc.integer(),
          fc.bigInt().map((n) => Number(n)),
        ),
        (id, numeric) => {
          expect(parsed(envelope({ id })).id).toBe(id);
          const event = parsed(envelope().replace('"acc-1"', JSON.stringify(numeric)));
          expect(event.data).toBeNull();
          expect(event.skipped?.issues?.[0]?.message).toContain(
            'payload.id: expected string, received the number',
          );
        },
      ),
    );
  });
});

describe('source times (item 13)', () => {
  it('refuses impossible dates with the reason', () => {
    const refused = readSourceTime('2024-02-31T00:00:00Z');
    expect(refused).toEqual({ ok: false, reason: 'day 31 does not exist in 2024-02' });
    const result = parseWebhook(envelope({ created_at: '2024-02-31T00:00:00Z' }));
    expect(result).toMatchObject({ ok: false, code: 'invalid_created_at' });
    expect(result.ok ? '' : result.message).toContain('day 31 does not exist');
    for (const text of [
      '2023-02-29 00:00:00',
      '2024-13-01T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T12:60:00Z',
      '2024-01-01T12:00:60Z',
      '2024-01-01T12:00:00+24:00',
    ]) {
      expect(parseSourceTime(text), text).toBeNull();
    }
    expect(parseSourceTime('2024-02-29 00:00:00')).toBe(Date.UTC(2024, 1, 29));
  });

  it('keeps years below 100 as written', () => {
    expect(toIsoTime(parseSourceTime('0024-01-01 00:00:00') as number)).toBe(
      '0024-01-01T00:00:00.000Z',
    );
  });

  it('reads every accepted form of one instant alike (T or space, zone or none)', () => {
    const instant = fc.date({
      min: new Date('0000-01-01T00:00:00.000Z'),
      max: new Date('9999-12-31T23:59:59.999Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(
        instant,
        fc.constantFrom('T', ' ', 't'),
        fc.constantFrom('Z', '', '+00:00', '-0000', 'z'),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        (date, separator, zone, offset) => {
          const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
          const text = `${iso.slice(0, 10)}${separator}${iso.slice(11, 23)}${zone}`;
          expect(parseSourceTime(text)).toBe(date.getTime());
          // The same instant written in another zone.
          const local = new Date(date.getTime() + offset * 60_000).toISOString();
          const sign = offset < 0 ? '-' : '+';
          const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
          const mm = String(Math.abs(offset) % 60).padStart(2, '0');
          if (!local.startsWith('-') && !local.startsWith('+')) {
            const zoned = `${local.slice(0, 10)}${separator}${local.slice(11, 23)}${sign}${hh}:${mm}`;
            expect(parseSourceTime(zoned)).toBe(date.getTime());
          }
        },
      ),
    );
  });
});

describe('records keys (item 15)', () => {
  it('does not collide when an account id holds "/"', () => {
    expect(recordsKey('a/b', 'c')).not.toBe(recordsKey('a', 'b/c'));
    const one = parsed(
      envelope(
        { event: 'record:created' },
        { id: 'r', integrated_account_id: 'a/b', resource: 'c' },
      ),
    );
    const two = parsed(
      envelope(
        { id: 'evt-2', event: 'record:created' },
        { id: 'r', integrated_account_id: 'a', resource: 'b/c' },
      ),
    );
    expect(one.stream).not.toBe(two.stream);
  });

  it('is one-to-one: equal keys only for equal pairs, and splits back', () => {
    const part = fc.string({ maxLength: 6, unit: fc.constantFrom('a', '/', '%', '2', 'F', 'f') });
    fc.assert(
      fc.property(part, part, part, part, (a1, r1, a2, r2) => {
        expect(recordsKey(a1, r1) === recordsKey(a2, r2)).toBe(a1 === a2 && r1 === r2);
        expect(splitRecordsKey(recordsKey(a1, r1))).toEqual({
          integratedAccountId: a1,
          resource: r1,
        });
      }),
    );
  });

  it('leaves ids without "%" or "/" unchanged (existing keys stay as they were)', () => {
    expect(recordsKey('3a0d-acc', 'hris/employees')).toBe('3a0d-acc/hris/employees');
  });
});
