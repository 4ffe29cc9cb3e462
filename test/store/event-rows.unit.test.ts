/**
 * The row every adapter stores for an event (src/store/shared/rows.ts): facts given as JsonText
 * (an import's parse threads send them so) are stored as that text, and read back as what an
 * object given directly reads back as.
 */
import { describe, expect, it } from 'vitest';
import { JsonText } from '../../src/store/shared/json.js';
import { fromEventRow, toEventRow } from '../../src/store/shared/rows.js';

const event = {
  id: 'e-1',
  type: 'sync_job_run:completed',
  stream: 'run:r-1',
  sourceTime: 1_725_969_600_000,
  body: new TextEncoder().encode('{"id":"e-1"}'),
};

describe('event rows', () => {
  it('store facts given as JSON text as that text, and read them back as the same value', () => {
    const data = { kind: 'run', runId: 'r-1', status: 'completed', records: 3 };
    const fromObject = toEventRow({ ...event, data });
    const fromText = toEventRow({ ...event, data: new JsonText(JSON.stringify(data)) });
    expect(fromText).toEqual(fromObject);
    expect(fromEventRow({ ...fromText, position: 1 }, false).data).toEqual(data);
  });

  it('keep text they are given exactly, spacing included', () => {
    expect(toEventRow({ ...event, data: new JsonText('{"a": 1}') }).data).toBe('{"a": 1}');
    expect(toEventRow({ ...event, data: null }).data).toBe('null');
  });
});
