/**
 * The append protocol, over the narrow `KurrentIo` port so that it runs against a model of the
 * server in unit tests as well as against KurrentDB. KurrentDB's own de-duplication by event id
 * only holds for the events right after an expected revision, so the project keeps its own:
 *
 * 1. Note the entity stream's last revision `before` (a cached hint, or read from the leader).
 * 2. Claim the id: append the record to `<prefix>_id-<uuid>` expecting no stream, under an event
 *    id of this attempt's own (random). The server accepts a repeated claim event id as an
 *    idempotent success, so an id derived from the webhook id would let every repeated delivery
 *    "win". A refusal means the id is taken: compare sha256 of the bodies -> duplicate or
 *    conflict. Bodies too large for one append are written to a body stream first (codec.ts).
 * 3. Land the event `U` (the webhook's event id) in its entity stream at an exact revision, never
 *    at one where `U` could already be: at `before` (nothing written before the claim can be
 *    `U`), or after a full scan. On a refusal, scan what was written since: `U` there means a
 *    rival finished our claim; otherwise retry at the new revision. Claims run concurrently;
 *    the events a batch owns land one after another in input order, so their `$all` positions
 *    rise in input order (unless another process finished one of its claims first).
 * 4. Record where it landed as the index stream's second event (expecting revision 0).
 * 5. A claim without a location is an owner that crashed (or is still at work) between 2 and 4.
 *    An owner in this process is waited for. Otherwise whoever meets the claim finishes it with
 *    the claimed (first) record: scan the entity stream, append only if absent, record the
 *    location. Either way it answers `duplicate` or `conflict`, never `stored`: only the owner
 *    answers `stored`.
 *
 * A failure of one event (say the server went away mid-batch) settles that event only: the
 * others still land, and their conflicts and duplicates are still kept before the batch fails.
 */
import { randomUUID } from 'node:crypto';
import type { Position } from './positions.js';
import { StoreError } from '../errors.js';
import type { AppendOutcome } from '../port.js';
import type { EventRow } from '../shared/rows.js';
import { writeChunks } from './bodies.js';
import {
  EVENT_TYPES,
  parseLocation,
  parseLogRecord,
  planRecord,
  type LocationRecord,
  type LogRecord,
  type PlannedRecord,
} from './codec.js';
import { afterLandAppend, claimResult, landingRevision, outcomeStatus } from './decisions.js';
import { translateKurrentError } from './errors.js';
import { ID_NAMESPACE, toEventUuid, uuidV5 } from './ids.js';
import type { KurrentIo, Recorded, Revision } from './io.js';
import type { KeyedQueue } from './locks.js';
import type { StreamNames } from './names.js';
import { decodeCheckpoint, encodeCheckpoint, positionToNumber } from './positions.js';

/** Last known revision per entity stream: a hint only, never above the truth (a stale one costs a retry). */
export interface RevisionHints {
  get(stream: string): Revision | undefined;
  set(stream: string, revision: Revision): void;
}

export function createRevisionHints(limit = 10_000): RevisionHints {
  const revisions = new Map<string, Revision>();
  return {
    get: (stream) => revisions.get(stream),
    set(stream, revision) {
      if (revisions.size >= limit) revisions.clear();
      revisions.set(stream, revision);
    },
  };
}

export interface ProtocolContext {
  readonly io: KurrentIo;
  readonly names: StreamNames;
  /** The server's `MaxAppendSize`: no append of this protocol is larger. */
  readonly maxAppendSize: number;
  /** Retries of an entity append that keeps losing races before `store_busy`. */
  readonly maxRetries: number;
  /** Orders claims on one id within this process, in call order. */
  readonly queue: KeyedQueue;
  /** Bounds the claims in flight. */
  readonly limit: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly revisions: RevisionHints;
  /**
   * Landings of claims this process owns, while in flight: a latecomer in this process waits for
   * its owner instead of racing it to the log (shared by every call of one store).
   */
  readonly owners: Map<string, Promise<Landed | undefined>>;
  /** A fresh event id for each claim attempt (random unless a test fixes it). */
  readonly attemptId?: () => string;
}

/** Where an event sits. */
export interface Landed {
  readonly stream: string;
  readonly revision: bigint;
  readonly position: Position;
}

/** One event's result: its outcome (and the record to keep aside when a conflict), or why not. */
export type RowResult =
  | { readonly ok: true; readonly outcome: AppendOutcome; readonly conflict?: LogRecord }
  | { readonly ok: false; readonly error: StoreError };

type Claimed =
  | {
      readonly kind: 'owned';
      readonly planned: PlannedRecord;
      readonly before: Revision;
      /** Tells latecomers of this process where it landed (`undefined`: it did not). */
      readonly landed: (landed: Landed | undefined) => void;
      /** Forgets it once its location is recorded (latecomers then read that). */
      readonly release: () => void;
    }
  | {
      readonly kind: 'taken';
      readonly planned: PlannedRecord;
      readonly claim: LogRecord;
      readonly location?: LocationRecord;
    };

type Settled<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: StoreError };

/** Runs `fn`, keeping its failure as a value (calls `fn` synchronously, so queues join in order). */
async function settle<T>(fn: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error: translateKurrentError(error, 'appending') };
  }
}

/**
 * Appends a batch: claims concurrently, lands in input order, records locations. Never rejects:
 * each event's result is settled on its own (see the module comment).
 */
export async function appendBatch(
  ctx: ProtocolContext,
  rows: readonly EventRow[],
): Promise<RowResult[]> {
  const claims = await Promise.all(rows.map((row) => settle(() => claim(ctx, row))));

  // Owners land first, one after another in input order; latecomers after them, so a latecomer
  // waiting for an owner of this process never waits on a batch that waits on it.
  const filled = new Map<string, Set<bigint>>();
  const landings: (Settled<Landed> | undefined)[] = [];
  for (const [i, claimed] of claims.entries()) {
    if (!claimed.ok || claimed.value.kind !== 'owned') continue;
    const c = claimed.value;
    const stream = ctx.names.entity(rows[i]!.stream);
    // Revisions this batch has filled, with other ids, can be skipped (see landingRevision).
    const revision = landingRevision(c.before, filled.get(stream) ?? new Set());
    const landing = await settle(() =>
      land(ctx, c.planned.record, toEventUuid(rows[i]!.id), revision),
    );
    c.landed(landing.ok ? landing.value : undefined);
    if (landing.ok) {
      const set = filled.get(stream) ?? new Set<bigint>();
      set.add(landing.value.revision);
      filled.set(stream, set);
    }
    landings[i] = landing;
  }
  for (const [i, claimed] of claims.entries()) {
    if (!claimed.ok || claimed.value.kind !== 'taken' || claimed.value.location) continue;
    const c = claimed.value;
    const uuid = toEventUuid(rows[i]!.id);
    const owner = await ctx.owners.get(uuid);
    landings[i] = owner
      ? { ok: true, value: owner }
      : await settle(() => land(ctx, c.claim, uuid, 'scan'));
  }

  // The location is a shortcut for later readers; losing it is repaired by the next delivery
  // (it finds the event by a scan), so a failure here does not fail an event already landed.
  await Promise.all(
    landings.map((landing, i) =>
      landing?.ok
        ? ctx
            .limit(() => recordLocation(ctx, toEventUuid(rows[i]!.id), landing.value))
            .catch(() => undefined)
        : undefined,
    ),
  );
  for (const claimed of claims)
    if (claimed.ok && claimed.value.kind === 'owned') claimed.value.release();

  return claims.map((claimed, i): RowResult => {
    if (!claimed.ok) return claimed;
    const c = claimed.value;
    const landing = landings[i];
    if (landing && !landing.ok) return landing;
    const id = rows[i]!.id;
    const own = c.planned.record;
    if (c.kind === 'owned') {
      const position = positionToNumber(landing!.value.position);
      return {
        ok: true,
        outcome: { status: outcomeStatus('owner', own.sha256, own.sha256), id, position },
      };
    }
    const position = c.location
      ? positionToNumber(decodeCheckpoint(c.location.checkpoint))
      : positionToNumber(landing!.value.position);
    const status = outcomeStatus('latecomer', c.claim.sha256, own.sha256);
    return status === 'conflict'
      ? { ok: true, outcome: { status, id, position }, conflict: own }
      : { ok: true, outcome: { status, id, position } };
  });
}

/** Steps 1 and 2 for one event (joins the id's queue synchronously, in call order). */
function claim(ctx: ProtocolContext, row: EventRow): Promise<Claimed> {
  const uuid = toEventUuid(row.id);
  const attempt = ctx.attemptId?.() ?? randomUUID();
  const planned = planRecord(row, attempt, ctx.names, ctx.maxAppendSize);
  const stream = ctx.names.entity(row.stream);
  return ctx.queue.run([`i:${uuid}`], () =>
    ctx.limit(async () => {
      if (planned.chunks.length > 0) {
        // A large body is written before its claim; not for a plain repeat of a known body.
        const index = await readIndex(ctx, uuid);
        if (index && index.claim.sha256 === planned.record.sha256)
          return taken(row, planned, index);
        await writeBody(ctx, planned);
      }
      const before = ctx.revisions.get(stream) ?? (await ctx.io.last(stream));
      const answer = await ctx.io.append(
        ctx.names.id(uuid),
        [{ id: attempt, type: EVENT_TYPES.claim, json: planned.record }],
        'no_stream',
      );
      if (claimResult(answer) === 'owned') {
        // Registered before the next claim on this id may run (the queue), so it sees it.
        let landed!: (value: Landed | undefined) => void;
        const promise = new Promise<Landed | undefined>((resolve) => (landed = resolve));
        ctx.owners.set(uuid, promise);
        const release = (): void => {
          if (ctx.owners.get(uuid) === promise) ctx.owners.delete(uuid);
        };
        return { kind: 'owned', planned, before, landed, release };
      }
      const index = await readIndex(ctx, uuid);
      if (!index)
        throw new StoreError(
          'store_failed',
          `kurrentdb: ${ctx.names.id(uuid)} refused a claim yet holds none`,
        );
      return taken(row, planned, index);
    }),
  );
}

function taken(
  row: EventRow,
  planned: PlannedRecord,
  index: { claim: LogRecord; location?: LocationRecord },
): Claimed {
  if (index.claim.id !== row.id) {
    throw new StoreError(
      'store_failed',
      `kurrentdb: ids ${index.claim.id} and ${row.id} map to the same event id`,
    );
  }
  return index.location
    ? { kind: 'taken', planned, claim: index.claim, location: index.location }
    : { kind: 'taken', planned, claim: index.claim };
}

/** The body's chunks, before the claim that points at them. */
async function writeBody(ctx: ProtocolContext, planned: PlannedRecord): Promise<void> {
  await writeChunks(ctx, planned.record.bodyRef!.stream, planned.chunks);
}

/** The claim on an id and, once recorded, where its event landed. */
export async function readIndex(
  ctx: Pick<ProtocolContext, 'io' | 'names'>,
  uuid: string,
): Promise<{ claim: LogRecord; location?: LocationRecord } | undefined> {
  const events: Recorded[] = [];
  for await (const event of ctx.io.read(ctx.names.id(uuid), 0n, 2)) events.push(event);
  if (events.length === 0) return undefined;
  const claimed = parseLogRecord(events[0]!.json);
  if (!claimed)
    throw new StoreError('store_failed', `kurrentdb: ${ctx.names.id(uuid)} does not hold a claim`);
  const location = events[1] ? parseLocation(events[1].json) : undefined;
  return location ? { claim: claimed, location } : { claim: claimed };
}

/** Looks for event `uuid` from revision `from` on; also reports the last revision seen. */
export async function scan(
  ctx: Pick<ProtocolContext, 'io'>,
  stream: string,
  uuid: string,
  from: bigint,
): Promise<{ found?: Landed; last: Revision }> {
  let last: Revision = from > 0n ? from - 1n : 'no_stream';
  for await (const event of ctx.io.read(stream, from)) {
    last = event.revision;
    if (event.id.toLowerCase() === uuid)
      return { found: { stream, revision: event.revision, position: positionOf(event) }, last };
  }
  return { last };
}

/**
 * Step 3: puts the record in its entity stream exactly once. `from` must have been observed
 * before the id was claimed, or be `'scan'` (look through the whole stream first).
 */
export async function land(
  ctx: ProtocolContext,
  record: LogRecord,
  uuid: string,
  from: Revision | 'scan',
): Promise<Landed> {
  const stream = ctx.names.entity(record.stream);
  let revision: Revision;
  if (from === 'scan') {
    const seen = await scan(ctx, stream, uuid, 0n);
    if (seen.found) return seen.found;
    revision = seen.last;
  } else {
    revision = from;
  }
  for (let attempt = 0; attempt <= ctx.maxRetries; attempt += 1) {
    const answer = await ctx.io.append(
      stream,
      [{ id: uuid, type: record.type, json: record }],
      revision,
    );
    const step = afterLandAppend(revision, answer);
    if (step.kind === 'landed') {
      ctx.revisions.set(stream, step.revision);
      const position =
        (answer.kind === 'ok' ? answer.position : undefined) ??
        (await positionAt(ctx, stream, step.revision));
      return { stream, revision: step.revision, position };
    }
    const seen = await scan(ctx, stream, uuid, step.from);
    if (seen.found) return seen.found;
    revision = seen.last;
    ctx.revisions.set(stream, revision);
  }
  throw new StoreError(
    'store_busy',
    `kurrentdb: ${stream} kept changing; gave up after ${ctx.maxRetries} retries`,
  );
}

async function positionAt(
  ctx: ProtocolContext,
  stream: string,
  revision: bigint,
): Promise<Position> {
  for await (const event of ctx.io.read(stream, revision, 1)) return positionOf(event);
  throw new StoreError(
    'store_failed',
    `kurrentdb: ${stream}@${revision} vanished right after it was written`,
  );
}

/** Step 4: the index stream's second event; another writer may have recorded it first (same place). */
async function recordLocation(ctx: ProtocolContext, uuid: string, landed: Landed): Promise<void> {
  const location: LocationRecord = {
    stream: landed.stream,
    revision: landed.revision.toString(),
    checkpoint: encodeCheckpoint(landed.position),
  };
  await ctx.io.append(
    ctx.names.id(uuid),
    [{ id: uuidV5(`located:${uuid}`, ID_NAMESPACE), type: EVENT_TYPES.location, json: location }],
    0n,
  );
}

function positionOf(event: Recorded): Position {
  if (!event.position) {
    throw new StoreError(
      'store_failed',
      'kurrentdb: the server sent no log position (KurrentDB/EventStoreDB >= 22.6 is required)',
    );
  }
  return event.position;
}
