/**
 * The change hub reads the journal only when someone is there to receive what it reads: with
 * several instances on one database, every instance's commit used to make every other instance
 * read the journal rows in between, only to drop them.
 */
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ChangeHub, type EngineChange } from '../../src/engine/change-hub.js';
import { silentLogger } from '../../src/engine/logger.js';
import type { ChangeRecord, ProjectionStore } from '../../src/store/port.js';
import { createMemoryProjectionStore } from '../../src/store/memory/projection-store.js';

/** A real (in-memory) journal, and how many times the hub read it. */
function journal() {
  const store = createMemoryProjectionStore();
  let reads = 0;
  const source: Pick<ProjectionStore, 'readChanges' | 'lastChangeSeq'> = {
    readChanges: (after, limit) => {
      reads++;
      return store.readChanges(after, limit);
    },
    lastChangeSeq: () => store.lastChangeSeq(),
  };
  /** Commits one change per key (another committer, or this engine), answering its rows. */
  async function commit(...keys: string[]): Promise<ChangeRecord[]> {
    const result = await store.commit({
      checkpoints: [],
      states: [],
      deadLetters: [],
      changes: keys.map((key, i) => ({
        projection: 'accounts',
        key,
        before: null,
        after: { key },
        eventId: `e-${key}`,
        position: i + 1,
      })),
    });
    if (!result.ok) throw new Error(result.message);
    return result.changes;
  }
  return { source, commit, reads: () => reads };
}

const keysOf = (changes: EngineChange[]) =>
  changes.map((c) => (c.kind === 'change' ? c.key : `reset:${c.projection}`));

describe('ChangeHub', () => {
  it('with no subscriber, moves past its own rows without reading what others committed', async () => {
    const j = journal();
    const hub = new ChangeHub(j.source, 100, silentLogger);
    await j.commit('other-1', 'other-2');
    const mine = await j.commit('mine');
    hub.offer(mine);
    await hub.pull().then(
      () => undefined,
      () => undefined,
    );
    // Neither offer() nor the periodic poll (pull() above) read a row nobody would receive.
    expect(j.reads()).toBe(0);
    expect(hub.publishedSeq).toBe(mine[0]?.seq);
  });

  it('with no subscriber, the poll moves past rows others committed without reading them', async () => {
    const j = journal();
    const hub = new ChangeHub(j.source, 100, silentLogger);
    const others = await j.commit('other-1', 'other-2', 'other-3');
    await hub.pull();
    expect(j.reads()).toBe(0);
    expect(hub.publishedSeq).toBe(others.at(-1)?.seq);
    // A subscriber from now on gets what is committed after it came, read from the journal.
    const received = firstValueFrom(hub.all$.pipe(take(1), toArray()));
    await j.commit('after');
    await hub.pull();
    expect(keysOf(await received)).toEqual(['after']);
    expect(j.reads()).toBe(1);
  });

  it('with a subscriber, publishes every row in seq order, reading the ones others committed', async () => {
    const j = journal();
    const hub = new ChangeHub(j.source, 100, silentLogger);
    const received = firstValueFrom(hub.all$.pipe(take(4), toArray()));
    const first = await j.commit('mine-1');
    hub.offer(first);
    expect(j.reads()).toBe(0); // directly after what was published: no read
    await j.commit('other-1', 'other-2');
    hub.offer(await j.commit('mine-2'));
    expect(keysOf(await received)).toEqual(['mine-1', 'other-1', 'other-2', 'mine-2']);
    expect(j.reads()).toBeGreaterThan(0);
  });

  it('a subscriber arriving after rows were skipped gets what is committed after it came', async () => {
    const j = journal();
    const hub = new ChangeHub(j.source, 100, silentLogger);
    await j.commit('before-1');
    hub.offer(await j.commit('before-2'));
    const received = firstValueFrom(hub.all$.pipe(take(2), toArray()));
    await j.commit('after-other');
    hub.offer(await j.commit('after-mine'));
    expect(keysOf(await received)).toEqual(['after-other', 'after-mine']);
  });
});
