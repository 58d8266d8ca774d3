//! The history store: opening it, and saving attempts (and, in tests,
//! deliveries) outside the writer. Saving is appending a record to the log
//! and catching the index up; reading back is in `lookup.rs`, indexing in
//! `index.rs`, pruning in `retention.rs`.

#[cfg(test)]
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use rusqlite::Connection;
use rusqlite::config::DbConfig;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::appender::Appender;
use super::bodies::Bodies;
use super::log::Log;
use super::opening;
pub use super::records::{Keep, Summary};
use super::retention::Retention;
pub use crate::delivery::{Attempt, StoredDelivery};
use hookhole_host::private_files;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no delivery with an id starting with {0:?}")]
    NotFound(String),
    #[error("{prefix:?} matches several deliveries ({}); give more characters", .ids.join(", "))]
    Ambiguous { prefix: String, ids: Vec<String> },
    #[error("history database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("history: {0}")]
    Body(#[from] std::io::Error),
}

pub struct History {
    conn: Mutex<Connection>,
    path: PathBuf,
    pub(super) bodies: Bodies,
    pub(super) log: Log,
    /// Whether reads catch the index up first (not on a read-only file).
    pub(super) catches_up: bool,
    /// Held through a catch-up's transaction.
    pub(super) indexing: Mutex<()>,
    /// `--keep`: the listener's, or the one it recorded for handles that
    /// catch the index up; `None` for read-only handles, which never prune.
    pub(super) retention: Option<Mutex<Retention>>,
    /// Whether this handle removes what pruning let go (log segments,
    /// body files): the listener's only.
    pub(super) drops_files: bool,
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A file error where SQLite's errors go: `record_*` fail as one.
pub(super) fn io_error(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

pub(super) fn from_json<T: for<'de> serde::Deserialize<'de> + Default>(text: Option<String>) -> T {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The history file of `data_dir`, which must exist.
fn existing(data_dir: &Path) -> Result<PathBuf, String> {
    let path = data_dir.join(super::FILE_NAME);
    if !path.exists() {
        return Err(format!(
            "no history in {} yet: deliveries are saved there by `hookhole listen`",
            data_dir.display()
        ));
    }
    Ok(path)
}

/// The verdict of a delivery checked against nothing.
pub(crate) fn unverified() -> Verdict {
    Verdict {
        scheme: None,
        status: hookhole_shared::signature::Status::Unsigned,
        reason: String::new(),
        secret: None,
        timestamp_age_s: None,
        candidates: Vec::new(),
    }
}

impl History {
    /// Opens (or creates) the history database in `data_dir`. A damaged
    /// file is refused before anything writes to it.
    pub fn open(data_dir: &Path, keep: Keep) -> Result<History, String> {
        opening::writable_dir(data_dir)?;
        let path = data_dir.join(super::FILE_NAME);
        opening::check_intact(&path)?;
        // Owner-only from the start: it holds request bodies and headers
        // (tokens, customer data). SQLite gives its WAL files the same rights.
        private_files::open_read_write(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let setup = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(&path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            // WAL: readers (the history commands) never block the listener.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            Ok(conn)
        };
        let conn = setup().map_err(|e| opening::describe(&path, &e))?;
        super::schema::prepare(&conn)
            .map_err(|e| format!("history database {}: {e}", path.display()))?;
        super::retention::record_keep(&conn, keep).map_err(|e| opening::describe(&path, &e))?;
        let mut history = History::with(conn, path, data_dir, true);
        history.retention = Some(Mutex::new(Retention::new(keep)));
        history.drops_files = true;
        // Pruning is the first read of every row: a damaged page shows here.
        history.prune().map_err(|e| history.refuse(&e))?;
        // What the last listener saved and did not index (killed, say).
        history.catch_up().map_err(|e| history.explain(&e))?;
        // Also what a crash left between writing a body file and committing.
        history.sweep_bodies();
        history.drop_segments_if_due();
        Ok(history)
    }

    /// Opens the history of a data dir to read it and save replays: never
    /// creates it, never prunes (retention is the listener's business).
    pub fn open_existing(data_dir: &Path) -> Result<History, String> {
        let path = existing(data_dir)?;
        opening::writable_dir(data_dir)?;
        opening::check_intact(&path)?;
        let conn = Connection::open(&path).map_err(|e| opening::describe(&path, &e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| opening::describe(&path, &e))?;
        // A history written by an older build is upgraded by whichever of
        // the listener or a command opens it first.
        super::schema::prepare(&conn).map_err(|e| format!("history {}: {e}", path.display()))?;
        History::with(conn, path, data_dir, true).pruned_as_recorded()
    }

    /// This handle, pruning what it indexes to the `--keep` the listener
    /// recorded (if one did).
    fn pruned_as_recorded(mut self) -> Result<History, String> {
        let keep = super::retention::recorded_keep(&self.conn()).map_err(|e| self.refuse(&e))?;
        self.retention = keep.map(|keep| Mutex::new(Retention::new(keep)));
        Ok(self)
    }

    fn with(conn: Connection, path: PathBuf, data_dir: &Path, catches_up: bool) -> History {
        History {
            conn: Mutex::new(conn),
            path,
            bodies: Bodies::new(data_dir),
            log: Log::new(data_dir),
            catches_up,
            indexing: Mutex::new(()),
            retention: None,
            drops_files: false,
        }
    }

    /// Opens the history of a data dir only to read it (`history`, `show`,
    /// `export`): the file is never changed, and a data dir this user
    /// cannot write is fine. A history from an older build is upgraded
    /// first, as [`History::open_existing`] does.
    pub fn open_read_only(data_dir: &Path) -> Result<History, String> {
        let path = existing(data_dir)?;
        let conn = opening::read_only(&path)?;
        let version: i32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| opening::describe(&path, &e))?;
        if version != super::schema::VERSION {
            drop(conn);
            return History::open_existing(data_dir);
        }
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let history = History::with(conn, path, data_dir, false);
        let behind =
            history.reached().map_err(|e| history.refuse(&e))? < history.log.end().unwrap_or(0);
        if !behind {
            return Ok(history);
        }
        // The log holds deliveries the index does not have yet: indexed in
        // the file when this user may write it, else in a copy in memory.
        drop(history);
        History::open_existing(data_dir).or_else(|_| History::in_memory(data_dir))
    }

    /// A copy of the index in memory, caught up with the log: what a
    /// read-only command reads when it cannot write the file.
    fn in_memory(data_dir: &Path) -> Result<History, String> {
        let path = existing(data_dir)?;
        let file = opening::read_only(&path)?;
        let mut memory = Connection::open_in_memory().map_err(|e| e.to_string())?;
        rusqlite::backup::Backup::new(&file, &mut memory)
            .and_then(|b| b.run_to_completion(1024, Duration::ZERO, None))
            .map_err(|e| opening::describe(&path, &e))?;
        let history = History::with(memory, path, data_dir, true).pruned_as_recorded()?;
        history.catch_up().map_err(|e| history.explain(&e))?;
        Ok(history)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A lookup's error as one line: a damaged database (SQLite found a
    /// page it cannot read) gets the same advice as one refused on opening.
    pub fn explain(&self, e: &LookupError) -> String {
        match e {
            LookupError::Db(db) => self.refuse(db),
            other => other.to_string(),
        }
    }

    /// SQLite's error as one line that says what to do. Once the file is
    /// known to be damaged, this connection no longer checkpoints when it
    /// closes: as the last one, it would copy the `-wal` file's frames into
    /// the damaged file and delete the `-wal` file, changing what the
    /// message says was left as it was.
    fn refuse(&self, e: &rusqlite::Error) -> String {
        if opening::is_damage(e) {
            let _ = self
                .conn()
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        }
        opening::describe(&self.path, e)
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Catches the index up before a read, so that a read finds whatever
    /// was saved before it: a failure is logged, and what is indexed read.
    pub(super) fn fresh(&self) {
        if !self.catches_up {
            return;
        }
        match self.catch_up() {
            Ok(_) => {}
            // The read that follows meets the damage and says what to do.
            Err(LookupError::Db(e)) if opening::is_damage(&e) => {}
            Err(e) => tracing::warn!("history: cannot index the newest records: {e}"),
        }
    }

    /// Appends `record` to the log, then indexes it.
    fn save(&self, record: &super::log::Outgoing<'_>) -> rusqlite::Result<()> {
        let mut appender = Appender::open(&self.log, self.reached()?).map_err(io_error)?;
        appender
            .append(std::slice::from_ref(record))
            .map_err(io_error)?;
        match self.catch_up() {
            Ok(_) => Ok(()),
            Err(LookupError::Db(e)) => Err(e),
            Err(e) => Err(io_error(std::io::Error::other(e.to_string()))),
        }
    }

    /// Saves a delivery; false when it is already stored (a resend). The
    /// listener saves through the [`super::Writer`].
    #[cfg(test)]
    pub fn record_delivery(
        &self,
        channel: &str,
        d: &Delivery,
        verdict: &Verdict,
    ) -> rusqlite::Result<bool> {
        self.record_delivery_with(channel, d, verdict, None)
    }

    /// The same, with webhook facts.
    #[cfg(test)]
    pub fn record_delivery_with(
        &self,
        channel: &str,
        d: &Delivery,
        verdict: &Verdict,
        webhook: Option<&crate::webhook::Recorded>,
    ) -> rusqlite::Result<bool> {
        if self.contains(channel, d.seq, &d.id)? {
            return Ok(false);
        }
        let heard = crate::delivery::SenderHeard::on_arrival(d.queued, d.answered);
        let record = super::entries::delivery(channel, d, verdict, None, webhook, None, heard)
            .map_err(io_error)?;
        self.save(&record)?;
        Ok(true)
    }

    /// Saves (or completes) an attempt at delivery `delivery_id`: a record
    /// in the log, indexed at once.
    pub fn record_attempt(&self, delivery_id: &str, a: &Attempt) -> rusqlite::Result<()> {
        self.fresh();
        if super::index::pk_of(&self.conn(), delivery_id)?.is_none() {
            return Err(io_error(std::io::Error::other(format!(
                "no delivery {delivery_id} in the history (pruned meanwhile?)"
            ))));
        }
        let record = super::entries::attempt(delivery_id, a).map_err(io_error)?;
        self.save(&record)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
