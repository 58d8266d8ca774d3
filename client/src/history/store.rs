//! The history store: opening it, and saving deliveries and attempts.
//! Reading them back is in `lookup.rs`, pruning in `retention.rs`.

use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::bodies::Bodies;
use super::columns::outcome_columns;
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
    /// `None` for the history commands, which never prune.
    pub(super) retention: Option<Mutex<Retention>>,
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
        let history = History {
            conn: Mutex::new(conn),
            path,
            bodies: Bodies::new(data_dir),
            retention: Some(Mutex::new(Retention {
                keep,
                stored: 0,
                since_age_check: 0,
                until_recount: 0,
                due: false,
                sweep_due: false,
            })),
        };
        // Pruning is the first read of every row: a damaged page shows here.
        history.prune().map_err(|e| history.refuse(&e))?;
        // Also what a crash left between writing a body file and committing.
        history.sweep_bodies();
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
        Ok(History {
            conn: Mutex::new(conn),
            path,
            bodies: Bodies::new(data_dir),
            retention: None,
        })
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
        Ok(History {
            conn: Mutex::new(conn),
            path,
            bodies: Bodies::new(data_dir),
            retention: None,
        })
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

    /// Leaves copying the WAL into the database to another connection (the
    /// checkpointer): this one checkpoints only once the WAL holds `pages`,
    /// a backstop in case the other cannot keep up. A checkpoint ends with
    /// an `fsync`, and done here it stalls every delivery waiting on the
    /// next commit. When the WAL starts over, a file larger than
    /// `keep_bytes` is cut back to it.
    pub(super) fn checkpoint_only_after(&self, pages: u32, keep_bytes: i64) -> Result<(), String> {
        let conn = self.conn();
        conn.pragma_update(None, "wal_autocheckpoint", pages)
            .and_then(|()| conn.pragma_update(None, "journal_size_limit", keep_bytes))
            .map_err(|e| format!("history database {}: {e}", self.path.display()))
    }

    /// Runs `work` inside one transaction, then `after` with the work's
    /// output and whether the commit succeeded.
    pub fn in_transaction<T>(
        &self,
        work: impl FnOnce(&History) -> T,
        after: impl FnOnce(T, &Result<(), String>),
    ) {
        let began = self
            .conn()
            .execute_batch("BEGIN")
            .map_err(|e| e.to_string());
        let output = work(self);
        let committed = began.and_then(|()| {
            self.conn()
                .execute_batch("COMMIT")
                .map_err(|e| e.to_string())
        });
        if committed.is_err() {
            let _ = self.conn().execute_batch("ROLLBACK");
            self.recount_soon();
        }
        after(output, &committed);
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves a delivery; false when it is already stored (a resend). The
    /// writer uses [`History::insert_delivery`], which also gives the `pk`.
    #[cfg(test)]
    pub fn record_delivery(
        &self,
        channel: &str,
        d: &Delivery,
        verdict: &Verdict,
    ) -> rusqlite::Result<bool> {
        let pk = self.insert_delivery(channel, d, verdict)?;
        self.prune_if_due()?;
        Ok(pk.is_some())
    }

    /// Saves a delivery and returns its `pk`; `None` when it is stored
    /// already (a resend: same channel, sequence number and id).
    pub(super) fn insert_delivery(
        &self,
        channel: &str,
        d: &Delivery,
        verdict: &Verdict,
    ) -> rusqlite::Result<Option<i64>> {
        // Written before the row is committed: a committed row finds it.
        let body_file = self.bodies.put(&d.body).map_err(io_error)?;
        let inline: &[u8] = if body_file.is_some() { &[] } else { &d.body };
        let conn = self.conn();
        let inserted = conn
            .prepare_cached(
                "INSERT INTO deliveries
             (id, channel, seq, received_at_ms, method, path, query, url, headers, body, verdict,
              body_file)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
             WHERE NOT EXISTS
                 (SELECT 1 FROM deliveries WHERE channel = ?2 AND seq = ?3 AND id = ?1)",
            )?
            .execute(params![
                d.id,
                channel,
                d.seq as i64,
                d.received_at_ms as i64,
                d.method,
                d.path,
                d.query,
                d.url,
                json(&d.headers),
                inline,
                json(verdict),
                body_file
            ]);
        let pk = inserted.and_then(|n| {
            if n == 0 {
                return Ok(None);
            }
            let pk = conn.last_insert_rowid();
            conn.prepare_cached("INSERT INTO delivery_ids (pk, id) VALUES (?1, ?2)")?
                .execute(params![pk, d.id])?;
            Ok(Some(pk))
        });
        drop(conn);
        // Not stored (a resend, or an error): the file is nobody's.
        if !matches!(pk, Ok(Some(_)))
            && let Some(name) = &body_file
        {
            self.bodies.remove(name);
        }
        let pk = pk?;
        if pk.is_some() {
            self.inserted_one();
        }
        Ok(pk)
    }

    /// Saves (or completes) an attempt at delivery `delivery_id`.
    pub fn record_attempt(&self, delivery_id: &str, a: &Attempt) -> rusqlite::Result<()> {
        let pk = self.pk_of(delivery_id)?.ok_or_else(|| {
            io_error(std::io::Error::other(format!(
                "no delivery {delivery_id} in the history (pruned meanwhile?)"
            )))
        })?;
        self.record_attempt_at(pk, a)
    }

    /// Saves (or completes) an attempt at the delivery stored as `pk`.
    pub(super) fn record_attempt_at(&self, pk: i64, a: &Attempt) -> rusqlite::Result<()> {
        let response_file = self.bodies.put(a.outcome.body()).map_err(io_error)?;
        let request_file = match &a.request_body {
            Some(body) => self.bodies.put(body).map_err(io_error)?,
            None => None,
        };
        let response_body: &[u8] = if response_file.is_some() {
            &[]
        } else {
            a.outcome.body()
        };
        let (status, error_code, error_message) = outcome_columns(&a.outcome);
        let request_body = match (&a.request_body, &request_file) {
            (Some(_), Some(_)) => Some(&[][..]),
            (body, _) => body.as_deref(),
        };
        let stored = self
            .conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO attempts
             (delivery, number, kind, started_ms, duration_ms, status, error_code, error_message,
              response_headers, response_body, request_headers, request_body, verdict,
              response_body_file, request_body_file, target)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
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
                json(&a.outcome.headers()),
                response_body,
                a.request_headers.as_ref().map(json),
                request_body,
                a.verdict.as_ref().map(json),
                response_file,
                request_file,
                a.target,
            ]);
        if stored.is_err() {
            for name in response_file.iter().chain(&request_file) {
                self.bodies.remove(name);
            }
        }
        stored.map(drop)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
