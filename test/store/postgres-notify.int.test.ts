/**
 * A NOTIFY is a wake-up, never a position (item 7): any role that may NOTIFY on the schema's
 * channels can send position 2^53-1. Listeners must still see every real head afterwards, and
 * the engine must keep projecting live, on the real PostgreSQL.
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterEach, expect, it } from 'vitest';
import { createTrutoEngine } from '../../src/truto/engine.js';
import { channelName } from '../../src/store/postgres/sql.js';
import { createPostgresEventStore } from '../../src/store/postgres/index.js';
import { accountEvent } from '../http/support/webhooks.js';
import { eventFromBody } from '../support/events.js';
import { adminQuery, openFreshPostgresStore, pgUrl } from '../support/postgres.js';

const FORGED = String(Number.MAX_SAFE_INTEGER);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves with the first value `listen` reports that satisfies `accept`, or fails after 10 s. */
function first(
  listen: (listener: (value: number) => void) => () => void,
  accept: (value: number) => boolean,
  seen: number[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`not heard within 10 s; heard ${seen.join(', ')}`));
    }, 10_000);
    const stop = listen((value) => {
      seen.push(value);
      if (!accept(value)) return;
      clearTimeout(timer);
      stop();
      resolve(value);
    });
  });
}

async function openPair() {
  const watcher = await openFreshPostgresStore({ pollIntervalMs: 60_000 });
  cleanups.push(watcher.cleanup);
  const writer = await createPostgresEventStore({
    connectionString: pgUrl(),
    schema: watcher.schema,
    poolSize: 2,
  });
  cleanups.push(() => writer.close());
  return { watcher: watcher.store, writer, schema: watcher.schema };
}

it('a forged append position neither reaches listeners nor hides later heads', async () => {
  const { watcher, writer, schema } = await openPair();
  const heard: number[] = [];
  const [before] = await writer.append([eventFromBody(accountEvent('acc-n'))]);
  // Heard through the read that follows LISTEN: from here on, NOTIFYs reach the watcher.
  const stop = watcher.onAppend((head) => heard.push(head));
  cleanups.push(async () => stop());
  await first(
    (l) => watcher.onAppend(l),
    (h) => h >= (before?.position as number),
    [],
  );
  await adminQuery('SELECT pg_notify($1, $2)', [channelName('append', schema), FORGED]);
  const [outcome] = await writer.append([eventFromBody(accountEvent('acc-n'))]);
  const position = outcome?.position as number;
  expect(
    await first(
      (l) => watcher.onAppend(l),
      (h) => h >= position,
      [],
    ),
  ).toBe(position);
  expect(heard).not.toContain(Number(FORGED));
  expect(heard.at(-1)).toBe(position);
});

it('a forged change seq neither reaches listeners nor hides later journal commits', async () => {
  const { watcher, writer, schema } = await openPair();
  const heard: number[] = [];
  const journal = async (n: number) => {
    const result = await writer.projections.commit({
      checkpoints: [],
      states: [],
      deadLetters: [],
      changes: [
        { projection: 'p', key: 'k', before: undefined, after: n, eventId: 'e', position: n },
      ],
    });
    if (!result.ok) throw new Error(result.message);
    return result.changes;
  };
  const [early] = await journal(1);
  const stop = watcher.onChanges((seq) => heard.push(seq));
  cleanups.push(async () => stop());
  await first(
    (l) => watcher.onChanges(l),
    (s) => s >= (early?.seq as number),
    [],
  );
  await adminQuery('SELECT pg_notify($1, $2)', [channelName('changes', schema), FORGED]);
  const [change] = await journal(2);
  const seq = change?.seq as number;
  expect(
    await first(
      (l) => watcher.onChanges(l),
      (s) => s >= seq,
      [],
    ),
  ).toBe(seq);
  expect(heard).not.toContain(Number(FORGED));
  expect(heard.at(-1)).toBe(seq);
});

it('live projection goes on after a forged NOTIFY', async () => {
  const { watcher, writer, schema } = await openPair();
  const engine = await createTrutoEngine({ store: watcher });
  cleanups.push(() => engine.close());
  const reaches = (status: string) =>
    firstValueFrom(
      engine.watch('accounts', 'acc-live').pipe(
        filter((state) => state?.status === status),
        timeout(10_000),
      ),
    );
  // Appended by another process's store: only the LISTEN wake-up (or a minute's poll) tells.
  const connecting = reaches('connecting');
  await writer.append([eventFromBody(accountEvent('acc-live', 'integrated_account:created'))]);
  await connecting;
  await adminQuery('SELECT pg_notify($1, $2)', [channelName('append', schema), FORGED]);
  const active = reaches('active');
  await writer.append([
    eventFromBody(accountEvent('acc-live', 'integrated_account:active', { id: 'live-1' })),
  ]);
  expect(await active).toMatchObject({ id: 'acc-live', status: 'active' });
});
