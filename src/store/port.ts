/**
 * The EventStore port: the append-only event log every adapter implements (memory, SQLite,
 * PostgreSQL, KurrentDB), and the ProjectionStore port that holds projected state and
 * checkpoints. One contract suite in `test/contract/` runs against every adapter.
 *
 * Positions are the log's global order of arrival: increasing, with gaps allowed (1, 2, 3… on
 * most adapters; PostgreSQL numbers them by transaction, so they jump by thousands), never
 * reordered for a reader: a reader that has seen position P will never later be shown an event
 * below P. A difference of positions is therefore not a count of events.
 */

/** An event as handed to `append`: what `parseWebhook` yields, or a library user's own. */
export interface EventToAppend {
  /** The de-duplication key (the webhook envelope id). */
  readonly id: string;
  readonly type: string;
  /** The entity stream, or `null` for events no projection reads. */
  readonly stream: string | null;
  /** Source time, epoch milliseconds. */
  readonly sourceTime: number;
  /** What projections read (JSON-serialisable), or `null`. */
  readonly data: unknown;
  /** The exact bytes received; compared to tell a duplicate from a conflict. */
  readonly body: Uint8Array;
  /** Why the event is stored but not projected (`unknown_type`, `invalid_payload`, …). */
  readonly skipped?: { readonly reason: string; readonly issues?: readonly unknown[] } | null;
}

/** An event read back from the log. `body` is present only when asked for. */
export interface StoredEvent {
  readonly position: number;
  readonly id: string;
  readonly type: string;
  readonly stream: string | null;
  readonly sourceTime: number;
  readonly data: unknown;
  readonly body?: Uint8Array;
}

/** The outcome of appending one event: expected outcomes are data, not exceptions. */
export type AppendOutcome =
  | { readonly status: 'stored'; readonly id: string; readonly position: number }
  /** Same id, same bytes: acknowledged, not stored again. `position` is the original's. */
  | { readonly status: 'duplicate'; readonly id: string; readonly position: number }
  /** Same id, different bytes: the first stays; this one is kept aside in the conflicts table. */
  | { readonly status: 'conflict'; readonly id: string; readonly position: number };

export interface ReadOptions {
  /** Events per yielded batch (default 1000). */
  readonly batchSize?: number;
  /** Include the raw bytes (costly; projections read `data`). */
  readonly withBody?: boolean;
  /** Stop after this position (inclusive). */
  readonly upTo?: number;
  /**
   * Only what one scale-out partition needs: events whose stream's FNV-1a 32-bit hash (of its
   * UTF-8 bytes, `partitionOf` in `truto-state/postgres`) leaves `remainder` modulo `modulo`,
   * and events without a stream. A hint: a store may return more (every adapter but PostgreSQL
   * does, and PostgreSQL does for events stored before it kept the hash), so callers filter
   * again. Pages then end at the last event returned, not at `upTo`.
   */
  readonly partition?: { readonly modulo: number; readonly remainder: number };
}

/** A request that could not be stored: kept aside, never silently dropped. */
export interface RejectToRecord {
  /** Where it came from, e.g. `import:events.ndjson:17` or `http`. */
  readonly source: string;
  /** A stable code, e.g. `invalid_json`, `missing_id`. */
  readonly reason: string;
  readonly message: string;
  readonly body: Uint8Array;
}

export interface EventStoreStats {
  /** Distinct events stored. */
  readonly events: number;
  readonly byType: Readonly<Record<string, number>>;
  /** Appends that were duplicates (counted since the store was created, persisted). */
  readonly duplicates: number;
  readonly conflicts: number;
  readonly rejects: number;
  /** Stored events not projected, by reason (`unknown_type`, `invalid_payload`, `no_run_id`…). */
  readonly skipped: Readonly<Record<string, number>>;
  readonly headPosition: number;
}

export interface EventStore {
  /** Which adapter this is (`memory`, `sqlite`, `postgres`, `kurrentdb`). */
  readonly kind: string;
  /**
   * Appends a batch. Resolves only once the batch is durably committed; outcomes are in input
   * order. Concurrent calls may share one transaction (group commit). An id repeated inside one
   * batch is a duplicate (or conflict) of its first occurrence.
   */
  append(events: readonly EventToAppend[]): Promise<AppendOutcome[]>;
  /** Everything after `position`, in position order, streamed in batches. */
  readAll(after: number, options?: ReadOptions): AsyncIterable<StoredEvent[]>;
  /** One stream's events in position order (a missing stream is empty, not an error). */
  readStream(stream: string, options?: ReadOptions): AsyncIterable<StoredEvent[]>;
  /** One event by id (with its body), or undefined. */
  readEvent(id: string): Promise<StoredEvent | undefined>;
  /** The highest position visible to readers (0 when empty). */
  head(): Promise<number>;
  /**
   * Calls `listener` with the new head after appends (from this process at once; from other
   * processes sharing the database within a short poll). Returns an unsubscribe function.
   * SQLite calls it between the commit and the disk sync that commits of one turn share, so the
   * projection of the events can join that sync: they are readable a moment before they are
   * durable, and their appenders are answered only once they are.
   */
  onAppend(listener: (head: number) => void): () => void;
  /** Keeps a refused request aside (the rejects table). */
  recordReject(reject: RejectToRecord): Promise<void>;
  stats(): Promise<EventStoreStats>;
  /**
   * Liveness, cheap and constant in the size of the log: resolves when the store can take
   * writes, otherwise rejects with the StoreError a write would meet (a deleted database file,
   * an unreachable server). Optional for adapters added later (`head()` stands in).
   */
  check?(): Promise<void>;
  close(): Promise<void>;
}

/** The state of one entity of one projection, as persisted. */
export interface StateRow {
  readonly key: string;
  readonly state: unknown;
  /** Source time of the latest event folded in (the fold's sort key, with `lastId`). */
  readonly lastTime: number;
  readonly lastId: string;
  /** Highest log position folded in. */
  readonly position: number;
  /** Set when a reducer threw on this entity: the entity is stalled until a fix and rebuild. */
  readonly poisoned?: string | null;
  /**
   * The derived-projection group the entity belongs to (a run's account), stored in an indexed
   * column so `listStates(projection, { group })` finds a group's members without a scan.
   */
  readonly group?: string | null;
}

/**
 * A projection's position in the log. Scale-out instances keep one per partition of a
 * projection (`partition` 0…n-1); a projection folded whole has one without a partition.
 */
export interface Checkpoint {
  readonly name: string;
  readonly partition?: number;
  readonly position: number;
  readonly version: number;
}

/** Which checkpoint row: a projection's, or one partition's of it. */
export interface CheckpointRef {
  readonly name: string;
  readonly partition?: number;
}

export interface DeadLetter {
  readonly projection: string;
  readonly key: string;
  readonly eventId: string;
  readonly position: number;
  readonly error: string;
}

/** A committed state change; `seq` orders the change journal (SSE ids, resume). */
export interface ChangeRecord {
  readonly seq: number;
  readonly projection: string;
  readonly key: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly eventId: string;
  readonly position: number;
}

/** Equality filters on top-level state fields, e.g. `{ status: 'active' }`. */
export type StateFilter = Readonly<Record<string, string | number | boolean | null>>;

export interface ListOptions {
  readonly where?: StateFilter;
  /** Only entities whose `group` is this one (indexed). */
  readonly group?: string;
  /** Keys strictly after this one (pagination). */
  readonly afterKey?: string;
  readonly limit?: number;
}

/** What one projection batch commits, all or nothing. */
export interface ProjectionCommit {
  readonly checkpoints: readonly Checkpoint[];
  /**
   * Compare-and-set: the positions the committer read these checkpoints at (a missing row reads
   * as 0). When any has moved (another process projected meanwhile), the commit writes nothing
   * and answers `{ ok: false, reason: 'checkpoint_moved' }`.
   */
  readonly expected?: readonly (CheckpointRef & { readonly position: number })[];
  readonly states: readonly { readonly projection: string; readonly row: StateRow }[];
  readonly deadLetters: readonly DeadLetter[];
  /** Journalled in the same transaction; `seq` is assigned by the store. */
  readonly changes: readonly Omit<ChangeRecord, 'seq'>[];
  /**
   * Changes of derived projections, computed inside the commit and journalled after `changes`.
   * For each (sorted by source, then group) the store reads the group's members of `source` as
   * committed, before this batch's states are written, and calls `change` with them. Where
   * several processes commit (PostgreSQL) the read is made under a transaction lock on the group
   * held until COMMIT, so of two commits touching one group the later one reads the earlier's
   * members: the change journalled last for a group always counts every committed member.
   */
  readonly derived?: readonly DerivedRead[];
  /**
   * `false`: the store may answer before this commit is on disk (SQLite: no fsync of its own;
   * PostgreSQL: `synchronous_commit = off`). A power failure can then take it back until a later
   * durable commit of the same store, which makes it durable too (both logs are written in
   * order). For work nobody reads until a durable commit publishes it: a rebuild's shadow
   * batches, swapped in by a durable swap. Default: durable.
   */
  readonly durable?: boolean;
}

/** One derived group to re-derive inside a commit (see `ProjectionCommit.derived`). */
export interface DerivedRead {
  /** Storage name of the source projection whose members are read. */
  readonly source: string;
  readonly group: string;
  /** Pure: the group's change given its committed members, or null when nothing changed. */
  change(committed: readonly StateRow[]): Omit<ChangeRecord, 'seq'> | null;
}

/**
 * How a projection commit ended. Expected refusals are data: another projector moved a
 * checkpoint first (`checkpoint_moved`: re-read and retry), or this instance no longer holds the
 * partition it committed for (`lease_lost`). Nothing was written either way.
 */
export type CommitResult =
  | { readonly ok: true; readonly changes: ChangeRecord[] }
  | {
      readonly ok: false;
      readonly reason: 'checkpoint_moved' | 'lease_lost';
      readonly message: string;
    };

/**
 * Where projected state lives: checkpoints, entity states, dead letters, the change journal. For
 * the SQLite and PostgreSQL stores it is the same database as the log, so a batch's state and
 * checkpoint commit in one transaction.
 */
export interface ProjectionStore {
  /** A projection's checkpoint, or one partition's of it. */
  readCheckpoint(name: string, partition?: number): Promise<Checkpoint | undefined>;
  /** Every checkpoint, sorted by name then partition (for stats); optional for adapters added later. */
  listCheckpoints?(): Promise<Checkpoint[]>;
  readStates(projection: string, keys: readonly string[]): Promise<Map<string, StateRow>>;
  listStates(projection: string, options?: ListOptions): Promise<StateRow[]>;
  countStates(projection: string, where?: StateFilter): Promise<number>;
  /**
   * The distinct groups of a projection's rows (what a derived projection over it counts),
   * without reading the rows; optional (the engine derives them otherwise).
   */
  countGroups?(projection: string): Promise<number>;
  /** A projection's dead letters and the entities they stall, without reading them; optional. */
  countDeadLetters?(projection: string): Promise<{ letters: number; entities: number }>;
  /**
   * Commits states, checkpoints, dead letters and changes in one transaction; answers the
   * journalled changes with their `seq`, or why nothing was written.
   */
  commit(batch: ProjectionCommit): Promise<CommitResult>;
  /**
   * Removes a projection's states, checkpoints (every partition's) and dead letters (used for
   * shadows and rebuilds).
   */
  clearProjection(name: string): Promise<void>;
  /**
   * In one transaction: replaces each `live` projection's states, checkpoints and dead letters
   * with its `shadow`'s (each of the shadow's partition checkpoints becomes the live one's of the
   * same partition), and journals `resets`, answered with their `seq`. Where other processes
   * commit partitions under leases (PostgreSQL), the same transaction fences them: it waits for
   * the partition commits in flight, and every commit made afterwards under a lease taken before
   * the swap is refused (`lease_lost`), so no state folded on the old rows lands on the new ones.
   * Afterwards the shadow has no checkpoints or dead letters, but may still hold the replaced
   * states (an adapter may exchange where the two are stored rather than move rows): the caller
   * clears it (`clearProjection`) once the swap is in, outside the swap's transaction.
   */
  swapProjections(
    swaps: readonly { readonly shadow: string; readonly live: string }[],
    resets: readonly Omit<ChangeRecord, 'seq'>[],
  ): Promise<ChangeRecord[]>;
  /**
   * Waits until no other process rebuilds on this store, then holds that until the returned
   * function is called (or the process dies). Optional: a store only one process projects into
   * needs none.
   */
  lockRebuild?(): Promise<() => Promise<void>>;
  readDeadLetters(projection?: string): Promise<DeadLetter[]>;
  /** Journalled changes with `seq > after`, oldest first. */
  readChanges(after: number, limit?: number): Promise<ChangeRecord[]>;
  /** Drops journalled changes with `seq <= upTo` (retention). */
  pruneChanges(upTo: number): Promise<void>;
  /** The latest journalled `seq` (0 when none). */
  lastChangeSeq(): Promise<number>;
}

/** A store that also holds projected state (SQLite, PostgreSQL, memory). */
export interface EventStoreWithProjections extends EventStore {
  readonly projections: ProjectionStore;
}
