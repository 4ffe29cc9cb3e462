/**
 * The PostgreSQL schema, created and migrated by the adapter. Versions live in
 * `<schema>.schema_version`; each start takes a transaction-scoped advisory lock before reading
 * the version, so several processes starting at once migrate exactly once and the others wait
 * and then find nothing to do. Every migration runs in that same transaction: all or nothing.
 */
import type pg from 'pg';
import { inTransaction, LockPurpose, lockArgs } from './sql.js';

/** Migration n (1-based) is `MIGRATIONS[n - 1]`, given the quoted schema name. */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  // 1: the log, what is kept aside, counters, and projection state.
  (s) => `
  CREATE SEQUENCE ${s}.events_position_seq;
  CREATE TABLE ${s}.events (
    position    bigint PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    type        text NOT NULL,
    stream      text,
    source_time bigint NOT NULL,
    data        json NOT NULL,          -- the facts projections read
    skipped     text,                   -- why it is not projected, or NULL
    skip_issues json,
    received_at timestamptz NOT NULL DEFAULT now(),
    body        bytea NOT NULL
  );
  CREATE INDEX events_by_stream ON ${s}.events (stream, position) WHERE stream IS NOT NULL;

  -- Second (and later) bodies of an id whose first body differs.
  CREATE TABLE ${s}.conflicts (
    seq               bigserial PRIMARY KEY,
    event_id          text NOT NULL,
    original_position bigint NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    body              bytea NOT NULL
  );

  CREATE TABLE ${s}.rejects (
    seq         bigserial PRIMARY KEY,
    source      text NOT NULL,
    reason      text NOT NULL,
    message     text NOT NULL,
    digest      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    body        bytea NOT NULL,
    UNIQUE (source, reason, digest)
  );

  -- Updated in the append's own transaction: events, duplicates, type:<t>, skipped:<reason>;
  -- and changes_head, the last journalled seq, in the projection commit's transaction.
  CREATE TABLE ${s}.counters (name text PRIMARY KEY, value bigint NOT NULL);

  CREATE TABLE ${s}.states (
    projection text NOT NULL,
    key        text COLLATE "C" NOT NULL,   -- code-point order, like SQLite BINARY
    state      json NOT NULL,       -- json, not jsonb: keeps the text (key order) as written
    last_time  bigint NOT NULL,
    last_id    text NOT NULL,
    position   bigint NOT NULL,
    poisoned   text,
    PRIMARY KEY (projection, key)
  );

  CREATE TABLE ${s}.checkpoints (
    name     text COLLATE "C" PRIMARY KEY,
    position bigint NOT NULL,
    version  integer NOT NULL
  );

  CREATE TABLE ${s}.dead_letters (
    projection text COLLATE "C" NOT NULL,
    event_id   text COLLATE "C" NOT NULL,
    key        text NOT NULL,
    position   bigint NOT NULL,
    error      text NOT NULL,
    PRIMARY KEY (projection, event_id)
  );

  CREATE SEQUENCE ${s}.changes_seq;
  CREATE TABLE ${s}.changes (
    seq        bigint PRIMARY KEY,
    projection text NOT NULL,
    key        text NOT NULL,
    before     json,                    -- NULL when the entity was new
    after      json,
    event_id   text NOT NULL,
    position   bigint NOT NULL
  );
  `,
  // 2: partition leases for scale-out (see leases.ts).
  (s) => `
  CREATE TABLE ${s}.lease_instances (
    instance   text PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE TABLE ${s}.leases (
    partition  integer PRIMARY KEY,
    owner      text,
    epoch      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
  );
  `,
  // 3: the derived-projection group of a state row (a run's account), found by index.
  (s) => `
  ALTER TABLE ${s}.states ADD COLUMN grp text;
  CREATE INDEX states_by_group ON ${s}.states (projection, grp, key) WHERE grp IS NOT NULL;
  `,
  // 4: the partition of a checkpoint is a column (-1: the projection's own), no longer a
  // `<name>#p<i>` suffix of its name.
  (s) => `
  ALTER TABLE ${s}.checkpoints ADD COLUMN part integer NOT NULL DEFAULT -1;
  UPDATE ${s}.checkpoints
     SET part = substring(name FROM '#p([0-9]+)$')::integer,
         name = substring(name FROM '^(.*)#p[0-9]+$')
   WHERE name ~ '#p[0-9]+$';
  ALTER TABLE ${s}.checkpoints DROP CONSTRAINT checkpoints_pkey;
  ALTER TABLE ${s}.checkpoints ADD PRIMARY KEY (name, part);
  `,
  // 5: conflicts and rejects counted like the rest (stats read counters, never count(*)).
  (s) => `
  INSERT INTO ${s}.counters (name, value) SELECT 'conflicts', count(*) FROM ${s}.conflicts
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
  INSERT INTO ${s}.counters (name, value) SELECT 'rejects', count(*) FROM ${s}.rejects
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
  `,
  // 6: appends without a global lock (see event-store.ts). Positions are computed from the
  // appending transaction's xid8 in a space that starts above every existing position; the old
  // sequence is dropped FIRST (its DROP waits for any old-release append still drawing from it),
  // so an instance still running an older release fails its appends loudly instead of writing
  // positions below the readers' fence, and max(position) read afterwards covers them all.
  // Counters are sharded so concurrent appends do not queue on one row lock.
  (s) => `
  DROP SEQUENCE ${s}.events_position_seq;
  CREATE TABLE ${s}.position_space (xid0 bigint NOT NULL, base bigint NOT NULL);
  INSERT INTO ${s}.position_space (xid0, base)
    SELECT pg_current_xact_id()::text::bigint, coalesce(max(position), 0) + 1 FROM ${s}.events;
  ALTER TABLE ${s}.counters ADD COLUMN shard integer NOT NULL DEFAULT 0;
  ALTER TABLE ${s}.counters DROP CONSTRAINT counters_pkey;
  ALTER TABLE ${s}.counters ADD PRIMARY KEY (name, shard);
  `,
  // 7: each event's stream hash (partition.ts's fnv1a32), so a partition's runner reads only
  // its share of the log. Rows stored before, or by an older release, have none and are read by
  // every partition, as before (the engine filters them again).
  (s) => `
  ALTER TABLE ${s}.events ADD COLUMN stream_hash bigint;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings `schema` to SCHEMA_VERSION; refuses a schema written by a newer release. */
export async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const s = `"${schema}"`;
  await inTransaction(pool, async (client) => {
    // Held until COMMIT: a second process starting now waits here, then sees the new version.
    await client.query(`SELECT pg_advisory_xact_lock(${lockArgs(LockPurpose.migrate, schema)})`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer NOT NULL)`);
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${s}.schema_version`,
    );
    const version = rows[0]?.version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `schema ${schema} is at version ${version}, newer than this release supports (${SCHEMA_VERSION})`,
      );
    }
    for (let next = version; next < SCHEMA_VERSION; next += 1) {
      await client.query((MIGRATIONS[next] as (s: string) => string)(s));
      await client.query(`INSERT INTO ${s}.schema_version (version) VALUES ($1)`, [next + 1]);
    }
  });
}
