//! The SQLite database as an index of the log: the rows hold what listings,
//! filters and lookups need (id, channel, sequence number, time, method,
//! path, statuses, verdicts) and the offset of the record with the rest.
//!
//! The index is built behind the log: the listener's indexer thread
//! (`indexer.rs`) catches it up a few times a second, and so does every
//! handle before it reads (so `hookhole show ID` finds a delivery saved a
//! moment ago, and a listener started after a crash finds everything the
//! last one saved). Catching up reads the records after the offset the
//! index has reached, in one transaction with the new offset: two
//! processes catching up at once index each record once.

use super::entries::{self, Entry, Saved};
use super::log::{Part, Record};
use super::retention::Seen;
use super::store::{History, LookupError, json};
use crate::delivery::Attempt;
use rusqlite::{Connection, OptionalExtension, params};

impl History {
    /// The offset of the log the index has reached.
    pub fn reached(&self) -> rusqlite::Result<u64> {
        reached(&self.conn())
    }

    /// Indexes every record the log holds after the offset the index has
    /// reached, and prunes to `--keep` (if this handle has one), in one
    /// transaction; returns how many records. Cheap when there is none: a
    /// look at the log's size.
    pub fn catch_up(&self) -> Result<usize, LookupError> {
        // One transaction at a time on this handle's connection (the
        // writer and the indexer thread share one).
        let _indexing = self.indexing.lock().unwrap_or_else(|p| p.into_inner());
        let end = self.log.end().map_err(|e| self.log_error(e))?;
        let seen = self.seen();
        let now = reached(&self.conn())?;
        if end <= now && seen.is_none_or(|seen| seen.reached >= now) {
            if seen.is_none() {
                let pk = last_pk(&self.conn())?;
                self.saw(Seen { reached: now, pk });
            }
            return Ok(0);
        }
        // IMMEDIATE: take the write lock before reading the offset, so
        // another process catching up waits, then finds the work done.
        self.conn().execute_batch("BEGIN IMMEDIATE")?;
        let result = self
            .index_from_reached(seen)
            .and_then(|(indexed, inserted, to)| {
                self.inserted(inserted);
                self.prune_if_due()?;
                Ok((indexed, to))
            });
        let conn = self.conn();
        let result = result.and_then(|done| Ok(conn.execute_batch("COMMIT").map(|()| done)?));
        match result {
            Ok((indexed, to)) => {
                let pk = last_pk(&conn);
                drop(conn);
                self.saw(Seen {
                    reached: to,
                    pk: pk?,
                });
                Ok(indexed)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                drop(conn);
                self.recount_soon();
                Err(e)
            }
        }
    }

    /// The work of [`History::catch_up`], inside its transaction: the
    /// records indexed, the deliveries added (by this handle, or by
    /// another since `seen`), and the offset reached.
    fn index_from_reached(&self, seen: Option<Seen>) -> Result<(usize, u64, u64), LookupError> {
        let conn = self.conn();
        let from = reached(&conn)?;
        let mut inserted = 0u64;
        // Deliveries another handle indexed (a command catching up) count
        // towards --keep as if indexed here.
        if let Some(seen) = seen.filter(|seen| seen.reached < from) {
            inserted +=
                conn.prepare_cached("SELECT COUNT(*) FROM deliveries WHERE pk > ?1")?
                    .query_row(params![seen.pk], |r| r.get::<_, i64>(0))? as u64;
        }
        let mut indexed = 0usize;
        let mut failed = None;
        let scanned = self.log.scan(from, Part::Head, |record| {
            indexed += 1;
            let offset = record.offset;
            match index_record(&conn, record) {
                Ok(true) => inserted += 1,
                Ok(false) => {}
                // A record whose checksum matches but which does not
                // decode was not written by this build: skipped, not a
                // reason to stop indexing the ones after it.
                Err(Skip::Unreadable(e)) => {
                    tracing::warn!("history: skipped the record at offset {offset}: {e}")
                }
                Err(Skip::Db(e)) => {
                    failed = Some(e);
                    return Err(std::io::Error::other("the index refused a record"));
                }
            }
            Ok(())
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        let to = scanned.map_err(|e| self.log_error(e))?;
        conn.prepare_cached("UPDATE log_index SET reached = ?1")?
            .execute(params![to as i64])?;
        Ok((indexed, inserted, to))
    }

    fn log_error(&self, e: std::io::Error) -> LookupError {
        LookupError::Body(std::io::Error::new(
            e.kind(),
            format!("log {}: {e}", self.log.dir().display()),
        ))
    }
}

fn last_pk(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(pk), 0) FROM deliveries")?
        .query_row([], |row| row.get(0))
}

fn reached(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT reached FROM log_index")?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(|r| r as u64)
}

enum Skip {
    Unreadable(std::io::Error),
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for Skip {
    fn from(e: rusqlite::Error) -> Skip {
        Skip::Db(e)
    }
}

/// Indexes one record; whether it added a delivery.
fn index_record(conn: &Connection, record: Record) -> Result<bool, Skip> {
    let offset = record.offset as i64;
    match entries::decode_head(record).map_err(Skip::Unreadable)? {
        Entry::Delivery(saved) => {
            let Some(pk) = insert_delivery(conn, &saved, offset)? else {
                return Ok(false);
            };
            if let Some(first) = &saved.first {
                insert_attempt(conn, pk, first, offset)?;
            }
            Ok(true)
        }
        Entry::Attempt {
            delivery_id,
            attempt,
        } => {
            match pk_of(conn, &delivery_id)? {
                Some(pk) => insert_attempt(conn, pk, &attempt, offset)?,
                // Pruned since the attempt was saved.
                None => tracing::debug!("history: attempt at {delivery_id}, which is gone"),
            }
            Ok(false)
        }
    }
}

pub(super) fn pk_of(conn: &Connection, id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT pk FROM delivery_ids WHERE id = ?1")?
        .query_row(params![id], |row| row.get(0))
        .optional()
}

/// Adds a delivery's row and returns its `pk`; `None` when it is there
/// already (a resend: same channel, sequence number and id).
fn insert_delivery(conn: &Connection, s: &Saved, offset: i64) -> rusqlite::Result<Option<i64>> {
    let d = &s.delivery;
    let facts = s.webhook.as_ref().map(|w| &w.facts);
    let arrival = s.webhook.as_ref().and_then(|w| w.arrival.as_ref());
    let (heard_status, heard_why, heard_wait_ms) = super::columns::heard_columns(s.heard);
    // The headers, the URL and the body are in the log only.
    let inserted = conn
        .prepare_cached(
            "INSERT INTO deliveries
             (id, channel, seq, received_at_ms, method, path, query, url, headers, body, verdict,
              log_offset, body_len, provider, event_type, event_id, event_attempt, deadline_ms,
              duplicate_of, seen, route, route_name, heard_status, heard_why, heard_wait_ms)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, '', '', x'', ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21, ?22
             WHERE NOT EXISTS
                 (SELECT 1 FROM deliveries WHERE channel = ?2 AND seq = ?3 AND id = ?1)",
        )?
        .execute(params![
            d.id,
            s.channel,
            d.seq as i64,
            d.received_at_ms as i64,
            d.method,
            d.path,
            d.query,
            json(&s.verdict),
            offset,
            s.body_len as i64,
            facts.map(|f| &f.provider),
            facts.and_then(|f| f.event_type.as_ref()),
            facts.and_then(|f| f.event_id.as_ref()),
            facts.and_then(|f| f.attempt),
            facts
                .and_then(|f| f.deadline_ms)
                .map(|ms| ms.min(i64::MAX as u64) as i64),
            arrival.and_then(|a| a.duplicate_of.as_ref()),
            arrival.map(|a| a.seen),
            s.route.as_ref().map(|r| r.number),
            s.route.as_ref().and_then(|r| r.name.as_ref()),
            heard_status,
            heard_why,
            heard_wait_ms,
        ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let pk = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO delivery_ids (pk, id) VALUES (?1, ?2)")?
        .execute(params![pk, d.id])?;
    Ok(Some(pk))
}

/// Adds (or replaces) an attempt's row: its outcome and verdict, for
/// listings; its headers and bodies stay in the log.
fn insert_attempt(conn: &Connection, pk: i64, a: &Attempt, offset: i64) -> rusqlite::Result<()> {
    let (status, error_code, error_message) = super::columns::outcome_columns(&a.outcome);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO attempts
         (delivery, number, kind, started_ms, duration_ms, status, error_code, error_message,
          verdict, target, log_offset)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        pk,
        a.number,
        a.kind,
        a.started_ms as i64,
        a.duration_ms.map(|d| d as i64),
        status,
        error_code,
        error_message,
        a.verdict.as_ref().map(json),
        a.target,
        offset,
    ])
    .map(drop)
}
