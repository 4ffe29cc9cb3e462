/**
 * The SQLite schema, versioned with `PRAGMA user_version`. Each migration runs in its own
 * `BEGIN IMMEDIATE` transaction and re-reads the version inside it, so two processes opening a new
 * file at once migrate it exactly once.
 */
import type { Database } from 'better-sqlite3';

const MIGRATIONS: readonly string[] = [
  // 1: the log, what is kept aside, counters, and projection state.
  `
  CREATE TABLE events (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    stream      TEXT,
    source_time INTEGER NOT NULL,
    data        TEXT NOT NULL,          -- JSON: the facts projections read
    skipped     TEXT,                   -- why it is not projected, or NULL
    skip_issues TEXT,                   -- JSON issues for invalid payloads
    received_at INTEGER NOT NULL,
    body        BLOB NOT NULL           -- last, so reads without it stay off overflow pages
  );
  CREATE INDEX events_by_stream ON events (stream, position);

  -- The second (and later) bodies of an id whose first body differs.
  CREATE TABLE conflicts (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          TEXT NOT NULL,
    original_position INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    body              BLOB NOT NULL
  );

  CREATE TABLE rejects (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    message     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body        BLOB NOT NULL,
    UNIQUE (source, reason, digest)
  );

  -- Updated in the append's own transaction: events, duplicates, type:<t>, skipped:<reason>
  -- (and, from migration 4, conflicts and rejects).
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

  CREATE TABLE states (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    last_time  INTEGER NOT NULL,
    last_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    poisoned   TEXT,
    PRIMARY KEY (projection, key)
  ) WITHOUT ROWID;

  CREATE TABLE checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    version  INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE dead_letters (
    projection TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    key        TEXT NOT NULL,
    position   INTEGER NOT NULL,
    error      TEXT NOT NULL,
    PRIMARY KEY (projection, event_id)
  ) WITHOUT ROWID;

  CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    before     TEXT,                    -- JSON, NULL when the entity was new
    after      TEXT,
    event_id   TEXT NOT NULL,
    position   INTEGER NOT NULL
  );
  `,
  // 2: the derived-projection group of a state row (a run's account), found by index.
  `
  ALTER TABLE states ADD COLUMN grp TEXT;
  CREATE INDEX states_by_group ON states (projection, grp, key) WHERE grp IS NOT NULL;
  `,
  // 3: what projections read, in log order, apart from the bodies. A table row holds its body
  // (a few KB, on the same page once pages are big), so reading facts from the table reads every
  // body too; this covering index is a compact copy (about 5% of the log) that readAll and
  // readStream walk instead. Appended in position order, it costs an import little.
  `
  CREATE INDEX events_facts ON events (position, id, type, stream, source_time, data);
  `,
  // 4: the partition of a checkpoint is a column (-1: the projection's own), no longer a
  // `<name>#p<i>` suffix of its name.
  `
  CREATE TABLE checkpoints_by_part (
    name     TEXT NOT NULL,
    part     INTEGER NOT NULL,
    position INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (name, part)
  ) WITHOUT ROWID;
  INSERT INTO checkpoints_by_part (name, part, position, version)
    SELECT
      CASE WHEN name GLOB '*#p[0-9]*' THEN substr(name, 1, instr(name, '#p') - 1) ELSE name END,
      CASE WHEN name GLOB '*#p[0-9]*' THEN CAST(substr(name, instr(name, '#p') + 2) AS INTEGER)
           ELSE -1 END,
      position, version
    FROM checkpoints;
  DROP TABLE checkpoints;
  ALTER TABLE checkpoints_by_part RENAME TO checkpoints;
  `,
  // 5: conflicts and rejects counted like the rest (stats read counters, never COUNT(*)).
  `
  INSERT INTO counters (name, value) SELECT 'conflicts', COUNT(*) FROM conflicts WHERE true
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
  INSERT INTO counters (name, value) SELECT 'rejects', COUNT(*) FROM rejects WHERE true
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
  `,
  // 6: states in a rowid table, found by a unique index on (projection, key). Keyed by the
  // entity, rows of a few hundred bytes to a few KB sat in key order: a run's id is random, so
  // the entities a projection commit touches (recent ones, mostly) were spread over every page
  // of the table, and each commit rewrote most of its pages. By rowid, a new entity's row goes
  // at the end and recent entities stay together (a million-event catch-up, 1 KB bodies: 11.5 to
  // 11.8 s before, 9.1 to 10.4 s after).
  `
  CREATE TABLE states_by_rowid (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    last_time  INTEGER NOT NULL,
    last_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    poisoned   TEXT,
    grp        TEXT,
    UNIQUE (projection, key)
  );
  INSERT INTO states_by_rowid (projection, key, state, last_time, last_id, position, poisoned, grp)
    SELECT projection, key, state, last_time, last_id, position, poisoned, grp FROM states;
  DROP TABLE states;
  ALTER TABLE states_by_rowid RENAME TO states;
  CREATE INDEX states_by_group ON states (projection, grp, key) WHERE grp IS NOT NULL;
  `,
  // 7: the name a projection's states are stored under, where it is not the projection's own.
  // A rebuild's swap exchanges the live and shadow names here instead of rewriting every state
  // row under the live name (a million-event rebuild spent 2 of its 12 s in that UPDATE).
  `
  CREATE TABLE state_names (
    name     TEXT PRIMARY KEY,
    physical TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database to SCHEMA_VERSION; refuses a database from a newer release. */
export function migrate(db: Database): void {
  for (;;) {
    const done = db
      .transaction(() => {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) {
          throw new Error(
            `database schema version ${version} is newer than this release supports (${SCHEMA_VERSION})`,
          );
        }
        const next = MIGRATIONS[version];
        if (next === undefined) return true;
        db.exec(next);
        db.pragma(`user_version = ${version + 1}`);
        return false;
      })
      .immediate();
    if (done) return;
  }
}
