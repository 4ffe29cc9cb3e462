/**
 * The group commit's `durable` step (stores whose commits reach the disk in shared syncs): a
 * group's callers are answered only once it resolves, the next group commits meanwhile, a failed
 * sync fails the callers it covered, and `drain` waits for it.
 */
import { describe, expect, it } from 'vitest';
import { createGroupCommit } from '../../src/store/shared/group-commit.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A `durable` step the test releases by hand, one pending sync at a time. */
function manualSync() {
  const pending: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  return {
    durable: () =>
      new Promise<void>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
    pending,
  };
}

function recordingGroup(durable: () => Promise<void>) {
  const committed: string[][] = [];
  const group = createGroupCommit<string, string>({
    maxPending: 100,
    sizeOf: () => 1,
    commit: (requests) => {
      committed.push([...requests]);
      return requests.map((r) => `ok:${r}`);
    },
    durable,
  });
  return { group, committed };
}

describe('group commit with a durable step', () => {
  it('answers a group only once its sync resolves, while the next group commits', async () => {
    const sync = manualSync();
    const { group, committed } = recordingGroup(sync.durable);
    const answered: string[] = [];
    const a = group.submit('a').then((r) => answered.push(r));
    const b = group.submit('b').then((r) => answered.push(r));
    await turn();
    await turn();
    expect(committed).toEqual([['a', 'b']]);
    expect(answered).toEqual([]);

    const c = group.submit('c').then((r) => answered.push(r));
    await turn();
    await turn();
    // Committed although the first group still waits for the disk.
    expect(committed).toEqual([['a', 'b'], ['c']]);
    expect(answered).toEqual([]);

    sync.pending[0]?.resolve();
    await Promise.all([a, b]);
    expect(answered).toEqual(['ok:a', 'ok:b']);
    sync.pending[1]?.resolve();
    await c;
    expect(answered).toEqual(['ok:a', 'ok:b', 'ok:c']);
  });

  it('a failed sync fails every caller of the groups it covered, and only those', async () => {
    const sync = manualSync();
    const { group } = recordingGroup(sync.durable);
    const first = group.submit('a');
    await turn();
    await turn();
    const failure = new Error('fdatasync: EIO');
    sync.pending[0]?.reject(failure);
    await expect(first).rejects.toBe(failure);
    const second = group.submit('b');
    await turn();
    await turn();
    sync.pending[1]?.resolve();
    await expect(second).resolves.toBe('ok:b');
  });

  it('drain waits for the groups still waiting for their sync', async () => {
    const sync = manualSync();
    const { group } = recordingGroup(sync.durable);
    let answered = false;
    void group.submit('a').then(() => {
      answered = true;
    });
    let drained = false;
    const draining = group.drain().then(() => {
      drained = true;
    });
    await turn();
    await turn();
    await turn();
    expect(drained).toBe(false);
    sync.pending[0]?.resolve();
    await draining;
    expect(answered).toBe(true);
  });
});
