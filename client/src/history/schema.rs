//! The history's tables, and the upgrade of databases made by older builds.
//!
//! Version 1 keys attempts by the delivery's integer `pk` (the insertion
//! order) instead of its random text id. Every index a new delivery and its
//! first attempt touch then grows at its end, except the one on `id`: under
//! load a commit rewrites a few pages at the ends of the trees, not one
//! random page per delivery in the attempts index.
//!
//! Version 2 adds the `*_file` columns: a body larger than 64 KiB is kept
//! in a file beside the database (see `bodies.rs`), the row names it and
//! holds an empty blob.
//!
//! Version 3 drops the unique index on the random `id`: each delivery
//! inserted a key at a random place in it, and under load a commit rewrote
//! one random index page per delivery (11% of the client's CPU at 32
//! connections). Ids now go into `delivery_ids`, a narrow table that grows
//! at its end (lookups by id or prefix scan it: a few hundred KiB for
//! 10,000 deliveries), and a resent delivery is recognised by its channel,
//! sequence number and id through the `(channel, seq)` index.
//!
//! Version 4 adds `attempts.target`: the local server an attempt went to,
//! which `hookhole replay` sends to again. Older attempts have none.
//!
//! Version 5 makes the database an index of the log (`log.rs`): new rows
//! hold what listings and lookups need, and `log_offset`, the position of
//! the record with everything else (headers, bodies); `body_len` is the
//! request body's size. `log_index` holds how far into the log the index
//! has got, and the listener's `--keep`. Rows from older versions keep their bytes where they are
//! (`log_offset` NULL), and readers read both.
//!
//! Version 6 adds what a delivery said about itself as a webhook (issue
//! 19): `provider`, `event_type`, `event_id`, `event_attempt`,
//! `deadline_ms`, and what the writer found when it saved it,
//! `duplicate_of` and `seen`. The index on `(provider, event_id)` is where
//! the writer looks for an event older than what it remembers. Older rows
//! have none of these: their records were written before they were read.
//!
//! Version 7 adds the route that took a delivery (issue 20): `route`, its
//! number, and `route_name`, its name if it had one. Older rows have none:
//! no route took them.
//!
//! Version 8 adds what a delivery's sender heard when the relay answered
//! it itself (a queued delivery, answer modes `now` and `within`):
//! `heard_status`, `heard_why` and `heard_wait_ms`. NULL is the local
//! answer, which is what every older row's sender heard as far as any
//! build before it knew.

use rusqlite::{Connection, OptionalExtension};

/// `PRAGMA user_version` of the schema below. Databases from before
/// versioning have 0.
pub const VERSION: i32 = 8;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    pk              INTEGER PRIMARY KEY,
    id              TEXT NOT NULL,
    channel         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    query           TEXT,
    url             TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    verdict         TEXT NOT NULL,
    body_file       TEXT,
    log_offset      INTEGER,
    body_len        INTEGER,
    provider        TEXT,
    event_type      TEXT,
    event_id        TEXT,
    event_attempt   INTEGER,
    deadline_ms     INTEGER,
    duplicate_of    TEXT,
    seen            INTEGER,
    route           INTEGER,
    route_name      TEXT,
    heard_status    INTEGER,
    heard_why       TEXT,
    heard_wait_ms   INTEGER
);
CREATE TABLE IF NOT EXISTS attempts (
    delivery          INTEGER NOT NULL REFERENCES deliveries (pk) ON DELETE CASCADE,
    number            INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    started_ms        INTEGER NOT NULL,
    duration_ms       INTEGER,
    status            INTEGER,
    error_code        TEXT,
    error_message     TEXT,
    response_headers  TEXT,
    response_body     BLOB,
    request_headers   TEXT,
    request_body      BLOB,
    verdict           TEXT,
    response_body_file TEXT,
    request_body_file  TEXT,
    target            TEXT,
    log_offset        INTEGER,
    PRIMARY KEY (delivery, number)
);
CREATE TABLE IF NOT EXISTS delivery_ids (
    pk  INTEGER PRIMARY KEY REFERENCES deliveries (pk) ON DELETE CASCADE,
    id  TEXT NOT NULL
);
";

const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS deliveries_by_arrival ON deliveries (received_at_ms, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_channel_seq ON deliveries (channel, seq);
-- Only rows with a body file have entries: what the sweep of unnamed
-- files reads, at no cost to the inserts of small bodies.
CREATE INDEX IF NOT EXISTS deliveries_body_files ON deliveries (body_file)
    WHERE body_file IS NOT NULL;
CREATE INDEX IF NOT EXISTS attempts_response_files ON attempts (response_body_file)
    WHERE response_body_file IS NOT NULL;
CREATE INDEX IF NOT EXISTS attempts_request_files ON attempts (request_body_file)
    WHERE request_body_file IS NOT NULL;
-- What retention asks before it removes a log segment: the first record a
-- replay (attempt 2 on) points to. A first attempt is in its delivery's
-- record, and deliveries are in the log in `pk` order: no index for them.
CREATE INDEX IF NOT EXISTS attempts_replayed_by_log ON attempts (log_offset)
    WHERE log_offset IS NOT NULL AND number > 1;
-- How far into the log the index has got, and the listener's --keep:
-- whoever catches the index up prunes it as the listener would.
CREATE TABLE IF NOT EXISTS log_index (
    one          INTEGER PRIMARY KEY CHECK (one = 1),
    reached      INTEGER NOT NULL,
    keep_count   INTEGER,
    keep_age_ms  INTEGER
);
INSERT OR IGNORE INTO log_index (one, reached) VALUES (1, 0);
-- The earlier arrivals of an event, for the writer's duplicate check when
-- the event is older than what it keeps in memory. Only deliveries with an
-- event id have entries; retries of one event sit together, in `pk` order.
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (provider, event_id)
    WHERE event_id IS NOT NULL;
";

/// Version 0 to 1: the same rows, attempts re-keyed. The old tables are
/// renamed out of the way, copied, and dropped (their indexes with them).
const FROM_V0: &str = "
ALTER TABLE attempts RENAME TO attempts_v0;
ALTER TABLE deliveries RENAME TO deliveries_v0;
";
const COPY_V0: &str = "
INSERT INTO deliveries
    (id, channel, seq, received_at_ms, method, path, query, url, headers, body, verdict)
    SELECT id, channel, seq, received_at_ms, method, path, query, url, headers, body, verdict
    FROM deliveries_v0 ORDER BY received_at_ms, seq;
INSERT INTO attempts
    (delivery, number, kind, started_ms, duration_ms, status, error_code, error_message,
     response_headers, response_body, request_headers, request_body, verdict)
    SELECT d.pk, a.number, a.kind, a.started_ms, a.duration_ms, a.status, a.error_code,
           a.error_message, a.response_headers, a.response_body, a.request_headers,
           a.request_body, a.verdict
    FROM attempts_v0 a JOIN deliveries d ON d.id = a.delivery_id;
DROP TABLE attempts_v0;
DROP TABLE deliveries_v0;
";

/// Version 1 to 2: bodies may live in files.
const FROM_V1: &str = "
ALTER TABLE deliveries ADD COLUMN body_file TEXT;
ALTER TABLE attempts ADD COLUMN response_body_file TEXT;
ALTER TABLE attempts ADD COLUMN request_body_file TEXT;
";

/// Version 2 to 3: the tables are rebuilt without the unique index on
/// `id` (SQLite cannot drop a column constraint), keeping every `pk`.
const FROM_V2: &str = "
ALTER TABLE attempts RENAME TO attempts_v2;
ALTER TABLE deliveries RENAME TO deliveries_v2;
";
const COPY_V2: &str = "
INSERT INTO deliveries
    (pk, id, channel, seq, received_at_ms, method, path, query, url, headers, body, verdict,
     body_file)
    SELECT pk, id, channel, seq, received_at_ms, method, path, query, url, headers, body,
           verdict, body_file
    FROM deliveries_v2;
INSERT INTO attempts
    (delivery, number, kind, started_ms, duration_ms, status, error_code, error_message,
     response_headers, response_body, request_headers, request_body, verdict,
     response_body_file, request_body_file)
    SELECT delivery, number, kind, started_ms, duration_ms, status, error_code, error_message,
           response_headers, response_body, request_headers, request_body, verdict,
           response_body_file, request_body_file
    FROM attempts_v2;
DROP TABLE attempts_v2;
DROP TABLE deliveries_v2;
";

/// Version 3 to 4: attempts name their target.
const FROM_V3: &str = "ALTER TABLE attempts ADD COLUMN target TEXT;";

/// Version 4 to 5: rows may point into the log.
const FROM_V4: &str = "
ALTER TABLE deliveries ADD COLUMN log_offset INTEGER;
ALTER TABLE deliveries ADD COLUMN body_len INTEGER;
ALTER TABLE attempts ADD COLUMN log_offset INTEGER;
";

/// Version 5 to 6: a delivery's webhook facts.
const FROM_V5: &str = "
ALTER TABLE deliveries ADD COLUMN provider TEXT;
ALTER TABLE deliveries ADD COLUMN event_type TEXT;
ALTER TABLE deliveries ADD COLUMN event_id TEXT;
ALTER TABLE deliveries ADD COLUMN event_attempt INTEGER;
ALTER TABLE deliveries ADD COLUMN deadline_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN duplicate_of TEXT;
ALTER TABLE deliveries ADD COLUMN seen INTEGER;
";

/// Version 6 to 7: the route that took a delivery.
const FROM_V6: &str = "
ALTER TABLE deliveries ADD COLUMN route INTEGER;
ALTER TABLE deliveries ADD COLUMN route_name TEXT;
";

/// Version 7 to 8: what a delivery's sender heard from the relay.
const FROM_V7: &str = "
ALTER TABLE deliveries ADD COLUMN heard_status INTEGER;
ALTER TABLE deliveries ADD COLUMN heard_why TEXT;
ALTER TABLE deliveries ADD COLUMN heard_wait_ms INTEGER;
";

/// Every upgrade ends here: the ids of the rows copied.
const FILL_IDS: &str = "INSERT INTO delivery_ids (pk, id) SELECT pk, id FROM deliveries;";

/// Creates the tables, or upgrades an older database, in one transaction:
/// two processes opening the same history at once upgrade it once.
pub fn prepare(conn: &Connection) -> Result<(), String> {
    let version = |conn: &Connection| -> rusqlite::Result<i32> {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
    };
    if version(conn).map_err(|e| e.to_string())? == VERSION {
        return Ok(());
    }
    // IMMEDIATE: take the write lock before reading the version, so a
    // second process waits here and then finds the work done.
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    let work = || -> Result<(), String> {
        let found = version(conn).map_err(|e| e.to_string())?;
        if found == VERSION {
            return Ok(());
        }
        if found > VERSION {
            return Err(format!(
                "written by a newer hookhole (history version {found}, this build reads {VERSION}); upgrade hookhole or use another --data-dir"
            ));
        }
        upgrade(conn, found).map_err(|e| format!("cannot upgrade from version {found}: {e}"))
    };
    match work() {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn upgrade(conn: &Connection, found: i32) -> rusqlite::Result<()> {
    let old_tables = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if old_tables && found == 0 {
        conn.execute_batch(FROM_V0)?;
        conn.execute_batch(TABLES)?;
        conn.execute_batch(COPY_V0)?;
        conn.execute_batch(FILL_IDS)?;
    } else if old_tables && found <= 2 {
        if found == 1 {
            conn.execute_batch(FROM_V1)?;
        }
        conn.execute_batch(FROM_V2)?;
        conn.execute_batch(TABLES)?;
        conn.execute_batch(COPY_V2)?;
        conn.execute_batch(FILL_IDS)?;
    } else if old_tables && (3..=7).contains(&found) {
        // Each step adds columns: the ones from `found` on, in order.
        let steps = [FROM_V3, FROM_V4, FROM_V5, FROM_V6, FROM_V7];
        for step in &steps[(found - 3) as usize..] {
            conn.execute_batch(step)?;
        }
    } else {
        conn.execute_batch(TABLES)?;
    }
    // After the old tables are gone: their indexes had these names.
    conn.execute_batch(INDEXES)?;
    conn.pragma_update(None, "user_version", VERSION)
}
