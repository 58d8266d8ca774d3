//! The offline buffer: deliveries that arrived while no client was
//! connected, kept in SQLite until a client acknowledges them, so they
//! survive a relay restart (or crash).
//!
//! Each entry is the encoded delivery frame, exactly what a client is sent
//! (one written by a protocol-1 relay is made current as it is read: see
//! `frame_upgrade`). A sender is answered `202` only after its delivery is
//! committed here.

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, params};
use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod pending;

use pending::{Held, Pending};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buffered (
    channel        TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    id             TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    frame          BLOB NOT NULL,
    PRIMARY KEY (channel, seq)
);
-- The age limit is checked on every push: a range, not a scan.
CREATE INDEX IF NOT EXISTS buffered_by_age ON buffered (channel, received_at_ms);
";

/// Bounds on what is kept for absent clients: per channel, and relay-wide
/// (a sender spreading webhooks over many channel names must not fill the
/// disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub count: u64,
    pub bytes: u64,
    pub age: Duration,
    /// Deliveries kept in all channels together.
    pub total_count: u64,
    /// Bytes kept in all channels together.
    pub total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            count: 1000,
            bytes: 256 * 1024 * 1024,
            age: Duration::from_secs(24 * 3600),
            total_count: 100_000,
            total_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Why a delivery could not be buffered.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    #[error("the channel's buffer is full ({0} deliveries waiting for a client)")]
    TooMany(u64),
    #[error("the channel's buffer is full ({0} bytes waiting for a client)")]
    TooLarge(u64),
    #[error("the relay's buffer is full ({0} deliveries waiting for clients)")]
    RelayTooMany(u64),
    #[error("the relay's buffer is full ({0} bytes waiting for clients)")]
    RelayTooLarge(u64),
    #[error("buffer storage failed: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for BufferError {
    fn from(e: rusqlite::Error) -> Self {
        BufferError::Storage(e.to_string())
    }
}

pub struct Buffer {
    conn: Mutex<Connection>,
    /// For sending a buffer to a client: a connection of its own sees only
    /// committed rows and never waits for the writer's `fsync`.
    reader: Mutex<Connection>,
    limits: Limits,
    /// What is buffered per channel, so acks of live deliveries (the common
    /// case) cost no database write and the limits cost no query.
    pending: Mutex<Pending>,
}

/// What the database holds, per channel: sequence numbers and frame sizes.
fn held(conn: &Connection) -> rusqlite::Result<HashMap<String, Held>> {
    let mut pending: HashMap<String, Held> = HashMap::new();
    let mut stmt = conn.prepare("SELECT channel, seq, size FROM buffered")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)? as u64,
            row.get::<_, i64>(2)? as u64,
        ))
    })?;
    for row in rows {
        let (channel, seq, size) = row?;
        pending.entry(channel).or_default().insert(seq, size);
    }
    Ok(pending)
}

/// Sequence numbers after `after` (all of them for `None`).
fn later_than(after: Option<u64>) -> (Bound<u64>, Bound<u64>) {
    (
        after.map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Unbounded,
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Buffer {
    pub fn open(dir: &Path, limits: Limits) -> Result<Buffer, String> {
        hookhole_host::private_files::create_dir(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("buffer.sqlite");
        // Created owner-only before SQLite opens it: SQLite gives its -wal
        // and -shm files the database's mode. Ones left by an older relay
        // are narrowed.
        hookhole_host::private_files::open_read_write(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            if side.exists() {
                hookhole_host::private_files::open_read_write(&side)
                    .map_err(|e| format!("cannot open {}: {e}", side.display()))?;
            }
        }
        let setup = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(&path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // FULL: a 202 promises the delivery survives a crash.
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(SCHEMA)?;
            Ok(conn)
        };
        let read_only = || -> rusqlite::Result<Connection> {
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            Ok(conn)
        };
        let failed = |e: rusqlite::Error| format!("buffer database {}: {e}", path.display());
        let conn = setup().map_err(failed)?;
        let reader = read_only().map_err(failed)?;
        let pending = held(&conn).map_err(failed)?;
        Ok(Buffer {
            conn: Mutex::new(conn),
            reader: Mutex::new(reader),
            limits,
            pending: Mutex::new(Pending::new(pending)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a transaction: the writes up to [`Buffer::commit`] share one
    /// `fsync` (see `buffer_writer.rs`).
    pub fn begin(&self) -> rusqlite::Result<()> {
        self.conn().execute_batch("BEGIN")
    }

    pub fn commit(&self) -> rusqlite::Result<()> {
        self.conn().execute_batch("COMMIT")
    }

    /// Ends a transaction that could not be committed: its pushes and acks
    /// are undone on disk, and the counts kept in memory (which they had
    /// changed already) are read again from what is there.
    pub fn rollback(&self) {
        let conn = self.conn();
        let _ = conn.execute_batch("ROLLBACK");
        match held(&conn) {
            Ok(pending) => *self.pending() = Pending::new(pending),
            Err(e) => tracing::error!("cannot re-read the buffer after a rollback: {e}"),
        }
    }

    /// Keeps a delivery for `channel`, within the limits; committed when
    /// this returns, or with the transaction it is part of.
    pub fn push(&self, channel: &str, seq: u64, id: &str, frame: &[u8]) -> Result<(), BufferError> {
        let conn = self.conn();
        let cutoff = now_ms() - self.limits.age.as_millis() as i64;
        let expired = conn.execute(
            "DELETE FROM buffered WHERE channel = ?1 AND received_at_ms < ?2",
            params![channel, cutoff],
        )?;
        if expired > 0 {
            tracing::warn!(%channel, expired, "dropped buffered deliveries older than the buffer age limit");
            let mut stmt = conn.prepare("SELECT seq, size FROM buffered WHERE channel = ?1")?;
            let mut left = Held::default();
            for row in stmt.query_map(params![channel], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
            })? {
                let (seq, size) = row?;
                left.insert(seq, size);
            }
            self.pending().change(channel, |held| *held = left);
        }
        let size = frame.len() as u64;
        {
            let pending = self.pending();
            let (count, bytes) = pending
                .get(channel)
                .map_or((0, 0), |held| (held.sizes.len() as u64, held.bytes));
            if count >= self.limits.count {
                return Err(BufferError::TooMany(count));
            }
            if bytes + size > self.limits.bytes {
                return Err(BufferError::TooLarge(bytes));
            }
            if pending.count >= self.limits.total_count {
                return Err(BufferError::RelayTooMany(pending.count));
            }
            if pending.bytes + size > self.limits.total_bytes {
                return Err(BufferError::RelayTooLarge(pending.bytes));
            }
        }
        conn.execute(
            "INSERT INTO buffered (channel, seq, id, received_at_ms, size, frame) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![channel, seq as i64, id, now_ms(), frame.len() as i64, frame],
        )?;
        self.pending()
            .change(channel, |held| held.insert(seq, size));
        Ok(())
    }

    /// The sequence numbers of the next page (tests).
    #[cfg(test)]
    pub fn seqs(&self, channel: &str, after: Option<u64>, budget: u64) -> Vec<u64> {
        let page = self.page(channel, after, budget).expect("the buffer reads");
        page.into_iter().map(|(seq, _)| seq).collect()
    }

    /// How many deliveries are buffered for `channel` after `after`.
    pub fn count_after(&self, channel: &str, after: Option<u64>) -> usize {
        self.pending()
            .get(channel)
            .map_or(0, |held| held.sizes.range(later_than(after)).count())
    }

    /// The next deliveries buffered for `channel` after `after`, oldest
    /// first, about `budget` bytes of them (at least one, however large): a
    /// client connecting to a full buffer is sent it a page at a time, so
    /// the relay never holds a whole buffer (up to `--buffer-bytes`) in
    /// memory for it. Empty once nothing is left. What is up to the
    /// client's last saved sequence number it has already: see
    /// [`Buffer::saved`].
    pub fn page(
        &self,
        channel: &str,
        after: Option<u64>,
        budget: u64,
    ) -> rusqlite::Result<Vec<(u64, Bytes)>> {
        // The page's last sequence number, from the sizes kept in memory.
        let last = {
            let pending = self.pending();
            let mut bytes = 0;
            let mut last = None;
            let held = pending
                .get(channel)
                .map(|held| held.sizes.range(later_than(after)));
            for (&seq, &size) in held.into_iter().flatten() {
                if last.is_some() && bytes + size > budget {
                    break;
                }
                bytes += size;
                last = Some(seq);
            }
            match last {
                Some(last) => last,
                None => return Ok(Vec::new()),
            }
        };
        let after = after.map_or(-1, |a| a.min(i64::MAX as u64) as i64);
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare_cached(
            "SELECT seq, frame FROM buffered
             WHERE channel = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        stmt.query_map(params![channel, after, last as i64], |row| {
            Ok((
                row.get::<_, i64>(0)? as u64,
                crate::frame_upgrade::current(Bytes::from(row.get::<_, Vec<u8>>(1)?)),
            ))
        })?
        .collect()
    }

    /// Buffered deliveries of `channel` up to `after`: a client that saved
    /// them says so on connecting; they can go.
    pub fn saved(&self, channel: &str, after: Option<u64>) -> Vec<u64> {
        let Some(after) = after else {
            return Vec::new();
        };
        self.pending()
            .get(channel)
            .map(|held| held.sizes.range(..=after).map(|(&seq, _)| seq).collect())
            .unwrap_or_default()
    }

    /// Whether delivery `seq` of `channel` is buffered (acks of live
    /// deliveries, the common case, then cost nothing).
    pub fn holds(&self, channel: &str, seq: u64) -> bool {
        self.pending()
            .get(channel)
            .is_some_and(|held| held.sizes.contains_key(&seq))
    }

    /// A client saved delivery `seq`: it need not be kept any more.
    pub fn ack(&self, channel: &str, seq: u64) -> rusqlite::Result<()> {
        let buffered =
            self.holds(channel, seq) && self.pending().change(channel, |held| held.remove(seq));
        if buffered {
            self.conn().execute(
                "DELETE FROM buffered WHERE channel = ?1 AND seq = ?2",
                params![channel, seq as i64],
            )?;
        }
        Ok(())
    }

    /// The last delivery buffered for `channel`, if any.
    pub fn last(&self, channel: &str) -> Option<u64> {
        self.pending()
            .get(channel)
            .and_then(|held| held.sizes.keys().next_back().copied())
    }

    /// The channels with deliveries buffered.
    pub fn channels(&self) -> Vec<String> {
        self.pending().names()
    }

    /// Deliveries waiting, for the health endpoint.
    pub fn waiting_count(&self) -> usize {
        self.pending().count as usize
    }
}

#[cfg(test)]
mod tests;
