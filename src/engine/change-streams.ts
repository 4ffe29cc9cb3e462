/**
 * The engine's replayed streams, both on the one replay-then-live operator: `watch` (an entity's
 * state now, then after each change) and `changesSince` (the journal after a seq, then live).
 */
import type { Observable } from 'rxjs';
import { filter } from './rx.js';
import type { ProjectionStore } from '../store/port.js';
import { toEngineChange, type ChangeHub, type EngineChange } from './change-hub.js';
import { JournalGapError } from './errors.js';
import { jsonEqual } from './json-equal.js';
import type { Queries } from './queries.js';
import { replayThenLive } from './replay-then-live.js';

/**
 * An entity's state, then its state after each change. Never goes back in time: a change older
 * than the state already shown (it committed before the read) is skipped; a reset re-reads.
 */
export function watchState(
  hub: ChangeHub,
  queries: Queries,
  projection: string,
  key: string,
): Observable<unknown> {
  let last: unknown;
  let position = 0;
  return replayThenLive<EngineChange, unknown>({
    live$: hub.all$.pipe(
      filter(
        (change) =>
          change.projection === projection && (change.kind === 'reset' || change.key === key),
      ),
    ),
    replay: async (subscriber) => {
      const read = await queries.getVersioned(projection, key);
      last = read.state;
      position = read.position;
      subscriber.next(read.state);
    },
    pass: (change, subscriber) => {
      if (change.kind === 'reset') {
        // The state was replaced wholesale: read it again.
        queries.getVersioned(projection, key).then(
          (read) => {
            position = read.position;
            if (!jsonEqual(read.state, last)) subscriber.next((last = read.state));
          },
          (error: unknown) => subscriber.error(error),
        );
        return;
      }
      if (change.position < position || jsonEqual(change.after, last)) return;
      position = change.position;
      subscriber.next((last = change.after));
    },
  });
}

/**
 * Journalled changes after `seq`, then live ones, without gap or repeat. A `seq` the journal no
 * longer covers (older than its oldest row, or ahead of its newest) errors with JournalGapError.
 */
export function changesAfter(
  hub: ChangeHub,
  journal: Pick<ProjectionStore, 'readChanges' | 'lastChangeSeq'>,
  seq: number,
): Observable<EngineChange> {
  let last = seq;
  return replayThenLive<EngineChange, EngineChange>({
    live$: hub.all$,
    replay: async (subscriber) => {
      const [oldest] = await journal.readChanges(0, 1);
      const latest = await journal.lastChangeSeq();
      if (seq > latest || (oldest !== undefined && seq < oldest.seq - 1)) {
        throw new JournalGapError(seq, oldest?.seq ?? 0, latest);
      }
      for (;;) {
        const page = await journal.readChanges(last, 1_000);
        for (const change of page.map(toEngineChange)) {
          last = change.seq;
          subscriber.next(change);
        }
        if (page.length < 1_000 || subscriber.closed) return;
      }
    },
    pass: (change, subscriber) => {
      if (change.seq <= last) return;
      last = change.seq;
      subscriber.next(change);
    },
  });
}
