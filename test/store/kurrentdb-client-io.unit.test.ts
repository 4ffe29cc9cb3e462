/**
 * How the adapter reads the official client's answers (src/store/kurrentdb/client-io.ts), on a
 * stand-in that answers as the client's own code does (see its `appendToStream` and `readStream`
 * in @kurrent/kurrentdb-client): what a refusal looks like under `throwOnAppendFailure=false`, and
 * which read options go out.
 */
import { WrongExpectedVersionError, type KurrentDBClient } from '@kurrent/kurrentdb-client';
import { describe, expect, it } from 'vitest';
import { createClientIo } from '../../src/store/kurrentdb/client-io.js';

function clientAnswering(append: () => Promise<unknown>) {
  const reads: Record<string, unknown>[] = [];
  const client = {
    appendToStream: append,
    readStream(_stream: string, options: Record<string, unknown>) {
      reads.push(options);
      return (async function* () {})();
    },
  } as unknown as KurrentDBClient;
  return { io: createClientIo(client), reads };
}

describe('the client, as the append protocol sees it', () => {
  it('takes `{ success: false }` (throwOnAppendFailure=false) for a refusal, never a success', async () => {
    // What the client resolves with on a wrong expected version when told not to throw.
    const { io } = clientAnswering(async () => ({
      success: false,
      nextExpectedRevision: 1n,
      position: undefined,
    }));
    expect(await io.append('s', [{ id: 'x', type: 't', json: {} }], 'no_stream')).toEqual({
      kind: 'wrong_expected_version',
    });
  });

  it('takes the thrown WrongExpectedVersionError (the default) for a refusal too', async () => {
    const { io } = clientAnswering(async () => {
      throw new WrongExpectedVersionError(undefined, {
        streamName: 's',
        expected: 'no_stream',
        current: 0n,
      });
    });
    expect(await io.append('s', [{ id: 'x', type: 't', json: {} }], 'no_stream')).toEqual({
      kind: 'wrong_expected_version',
    });
  });

  it('reads from the leader, so what was just written is what it reads', async () => {
    const { io, reads } = clientAnswering(async () => ({ success: true }));
    for await (const _ of io.read('s', 0n, 2)) void _;
    await io.last('s');
    expect(reads).toHaveLength(2);
    for (const options of reads) expect(options).toMatchObject({ requiresLeader: true });
  });
});
