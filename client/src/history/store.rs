//! The SQLite schema and every query.

use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::bodies::Bodies;
pub use super::records::{Keep, StoredAttempt, StoredDelivery, Summary};

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
    bodies: Bodies,
    /// `None` for the history commands, which never prune.
    retention: Option<Mutex<Retention>>,
}

/// What pruning needs to stay cheap: it runs only once the database may
/// hold noticeably more than `--keep` allows, not on every insert, and then
/// walks the arrival index instead of scanning the table.
struct Retention {
    keep: Keep,
    /// At most this many deliveries are stored (inserts since the last
    /// prune included): an upper bound, exact right after a prune.
    stored: u64,
    /// Inserts since deliveries past `--keep`'s age were last dropped.
    since_age_check: u32,
    /// Deliveries were dropped: their body files go once that is committed.
    sweep_due: bool,
}

/// Inserts between two checks for deliveries past `--keep`'s age.
const AGE_CHECK_EVERY: u32 = 1000;

impl Retention {
    /// Deliveries allowed above the count before pruning: about 1.5%, so
    /// pruning costs a few index steps per insert however large `--keep` is.
    fn slack(&self) -> u64 {
        self.keep.count / 64
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Whether loading a delivery reads the bodies kept in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Files {
    Read,
    Skip,
}

/// A file error where SQLite's errors go: `record_*` fail as one.
fn io_error(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn from_json<T: for<'de> serde::Deserialize<'de> + Default>(text: Option<String>) -> T {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Creates the file readable by its owner only: it holds request bodies
/// and headers (tokens, customer data). SQLite gives its WAL files the
/// same rights.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
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
    /// Opens (or creates) the history database in `data_dir`.
    pub fn open(data_dir: &Path, keep: Keep) -> Result<History, String> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let path = data_dir.join(super::FILE_NAME);
        create_private(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let setup = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(&path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            // WAL: readers (the history commands) never block the listener.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            Ok(conn)
        };
        let conn = setup().map_err(|e| format!("history database {}: {e}", path.display()))?;
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
                sweep_due: false,
            })),
        };
        history.prune().map_err(|e| e.to_string())?;
        // Also what a crash left between writing a body file and committing.
        history.sweep_bodies();
        Ok(history)
    }

    /// Opens the history of a data dir for the history commands: never
    /// creates it, never prunes (retention is the listener's business).
    pub fn open_existing(data_dir: &Path) -> Result<History, String> {
        let path = data_dir.join(super::FILE_NAME);
        if !path.exists() {
            return Err(format!(
                "no history in {} yet: deliveries are saved there by `hookhole listen`",
                data_dir.display()
            ));
        }
        let conn =
            Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| e.to_string())?;
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

    pub fn path(&self) -> &Path {
        &self.path
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
        }
        after(output, &committed);
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves a delivery; false when its id is already stored (a resend).
    pub fn record_delivery(
        &self,
        channel: &str,
        d: &Delivery,
        verdict: &Verdict,
    ) -> rusqlite::Result<bool> {
        self.insert_delivery(channel, d, verdict)
            .map(|pk| pk.is_some())
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
        if pk.is_some() && self.inserted_one() {
            self.prune()?;
        }
        Ok(pk)
    }

    /// Saves (or completes) an attempt at delivery `delivery_id`.
    pub fn record_attempt(&self, delivery_id: &str, a: &StoredAttempt) -> rusqlite::Result<()> {
        let pk = self.pk_of(delivery_id)?.ok_or_else(|| {
            io_error(std::io::Error::other(format!(
                "no delivery {delivery_id} in the history (pruned meanwhile?)"
            )))
        })?;
        self.record_attempt_at(pk, a)
    }

    /// Saves (or completes) an attempt at the delivery stored as `pk`.
    pub(super) fn record_attempt_at(&self, pk: i64, a: &StoredAttempt) -> rusqlite::Result<()> {
        let response_file = self.bodies.put(&a.response_body).map_err(io_error)?;
        let request_file = match &a.request_body {
            Some(body) => self.bodies.put(body).map_err(io_error)?,
            None => None,
        };
        let response_body: &[u8] = if response_file.is_some() {
            &[]
        } else {
            &a.response_body
        };
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
              response_body_file, request_body_file)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                pk,
                a.number,
                a.kind,
                a.started_ms as i64,
                a.duration_ms.map(|d| d as i64),
                a.status,
                a.error_code,
                a.error_message,
                json(&a.response_headers),
                response_body,
                a.request_headers.as_ref().map(json),
                request_body,
                a.verdict.as_ref().map(json),
                response_file,
                request_file,
            ]);
        if stored.is_err() {
            for name in response_file.iter().chain(&request_file) {
                self.bodies.remove(name);
            }
        }
        stored.map(drop)
    }

    /// Removes the body files of pruned deliveries, when a prune dropped
    /// any: the writer calls this once the prune is committed, so a
    /// transaction rolled back never leaves rows without their files.
    pub fn sweep_bodies_if_due(&self) {
        let due = self
            .retention()
            .is_some_and(|mut r| std::mem::take(&mut r.sweep_due));
        if due {
            self.sweep_bodies();
        }
    }

    fn sweep_bodies(&self) {
        if !self.bodies.any() {
            return;
        }
        let named = self
            .conn()
            .prepare_cached(
                "SELECT body_file FROM deliveries WHERE body_file IS NOT NULL
             UNION ALL SELECT response_body_file FROM attempts WHERE response_body_file IS NOT NULL
             UNION ALL SELECT request_body_file FROM attempts WHERE request_body_file IS NOT NULL",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect());
        match named {
            Ok(named) => {
                let removed = self.bodies.sweep(&named);
                tracing::debug!("history: removed {removed} body files no delivery names");
            }
            Err(e) => tracing::warn!("history: cannot list the body files in use: {e}"),
        }
    }

    /// Whether a delivery is stored: looked up by its channel and sequence
    /// number (an index), not by its id (a scan).
    pub fn contains(&self, channel: &str, seq: u64, id: &str) -> rusqlite::Result<bool> {
        self.conn()
            .prepare_cached(
                "SELECT EXISTS
                 (SELECT 1 FROM deliveries WHERE channel = ?1 AND seq = ?2 AND id = ?3)",
            )?
            .query_row(params![channel, seq as i64, id], |row| row.get(0))
    }

    /// The `pk` of the delivery with exactly this id.
    fn pk_of(&self, id: &str) -> rusqlite::Result<Option<i64>> {
        self.conn()
            .prepare_cached("SELECT pk FROM delivery_ids WHERE id = ?1")?
            .query_row(params![id], |row| row.get(0))
            .optional()
    }

    /// The next attempt number for a delivery.
    pub fn next_attempt(&self, delivery_id: &str) -> rusqlite::Result<u32> {
        self.conn().query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM attempts
             WHERE delivery = (SELECT pk FROM delivery_ids WHERE id = ?1)",
            params![delivery_id],
            |row| row.get(0),
        )
    }

    /// The highest sequence number saved for `channel`: sent to the relay on
    /// reconnect so it resends only what came after.
    pub fn last_seq(&self, channel: &str) -> rusqlite::Result<Option<u64>> {
        let seq: Option<i64> = self
            .conn()
            .query_row(
                "SELECT MAX(seq) FROM deliveries WHERE channel = ?1",
                params![channel],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        Ok(seq.map(|s| s as u64))
    }

    fn retention(&self) -> Option<MutexGuard<'_, Retention>> {
        let retention = self.retention.as_ref()?;
        Some(retention.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Counts an insert; true when it is time to prune.
    fn inserted_one(&self) -> bool {
        let Some(mut r) = self.retention() else {
            return false;
        };
        r.stored += 1;
        r.since_age_check += 1;
        r.stored > r.keep.count + r.slack() || r.since_age_check >= AGE_CHECK_EVERY
    }

    /// Drops what `--keep` no longer covers: deliveries older than its age,
    /// then the oldest beyond its count. Does nothing for the commands.
    pub fn prune(&self) -> rusqlite::Result<()> {
        let Some(mut r) = self.retention() else {
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let cutoff = now.saturating_sub(r.keep.age.as_millis().min(i64::MAX as u128) as i64);
        let conn = self.conn();
        let mut dropped = conn
            .prepare_cached("DELETE FROM deliveries WHERE received_at_ms < ?1")?
            .execute(params![cutoff])?;
        // Both walk the arrival index: the newest `count` entries are
        // skipped, not read, and no body is touched.
        dropped += conn
            .prepare_cached(
                "DELETE FROM deliveries WHERE pk IN
             (SELECT pk FROM deliveries ORDER BY received_at_ms DESC, seq DESC LIMIT -1 OFFSET ?1)",
            )?
            .execute(params![r.keep.count.min(i64::MAX as u64) as i64])?;
        r.sweep_due |= dropped > 0;
        r.stored = conn
            .prepare_cached("SELECT COUNT(*) FROM deliveries")?
            .query_row([], |row| row.get::<_, i64>(0))? as u64;
        r.since_age_check = 0;
        Ok(())
    }

    /// Resolves a full id or a unique prefix.
    pub fn resolve(&self, prefix: &str) -> Result<String, LookupError> {
        self.resolve_pk(prefix).map(|(_, id)| id)
    }

    /// The `pk` and full id of a full id or unique prefix.
    fn resolve_pk(&self, prefix: &str) -> Result<(i64, String), LookupError> {
        let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT pk, id FROM delivery_ids WHERE id LIKE ?1 ORDER BY id LIMIT 6",
        )?;
        let found: Vec<(i64, String)> = stmt
            .query_map(params![pattern], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if let Some(exact) = found.iter().find(|(_, id)| id == prefix) {
            return Ok(exact.clone());
        }
        match found.len() {
            0 => Err(LookupError::NotFound(prefix.to_string())),
            1 => Ok(found[0].clone()),
            _ => Err(LookupError::Ambiguous {
                prefix: prefix.to_string(),
                ids: found.into_iter().map(|(_, id)| id).collect(),
            }),
        }
    }

    /// A delivery by id or unique prefix, with its attempts.
    pub fn get(&self, prefix: &str) -> Result<StoredDelivery, LookupError> {
        let (pk, _) = self.resolve_pk(prefix)?;
        self.load(pk)
    }

    /// The delivery stored as `pk`, with its attempts.
    fn load(&self, pk: i64) -> Result<StoredDelivery, LookupError> {
        self.load_with(pk, Files::Read).map(|(d, _)| d)
    }

    /// The delivery stored as `pk`, and its body's length. With
    /// `Files::Skip`, bodies kept in files are left empty (their length is
    /// the file's): what a summary needs, without reading them.
    fn load_with(&self, pk: i64, files: Files) -> Result<(StoredDelivery, u64), LookupError> {
        let conn = self.conn();
        let (mut delivery, channel, verdict, body_file) = conn.query_row(
            "SELECT id, channel, seq, received_at_ms, method, path, query, url, headers, body, verdict,
                    body_file
             FROM deliveries WHERE pk = ?1",
            params![pk],
            |row| {
                let body: Vec<u8> = row.get(9)?;
                Ok((
                    Delivery {
                        id: row.get(0)?,
                        seq: row.get::<_, i64>(2)? as u64,
                        received_at_ms: row.get::<_, i64>(3)? as u64,
                        method: row.get(4)?,
                        path: row.get(5)?,
                        query: row.get(6)?,
                        url: row.get(7)?,
                        headers: from_json(row.get(8)?),
                        body_sha256: String::new(),
                        queued: false,
                        body: bytes::Bytes::from(body),
                    },
                    row.get::<_, String>(1)?,
                    from_json::<Option<Verdict>>(row.get(10)?),
                    row.get::<_, Option<String>>(11)?,
                ))
            },
        )?;
        let body_len = match (&body_file, files) {
            (None, _) => delivery.body.len() as u64,
            (Some(name), Files::Read) => {
                delivery.body = self.bodies.get(name)?.into();
                delivery.body.len() as u64
            }
            (Some(name), Files::Skip) => self.bodies.len(name),
        };
        let mut stmt = conn.prepare(
            "SELECT number, kind, started_ms, duration_ms, status, error_code, error_message,
                    response_headers, response_body, request_headers, request_body, verdict,
                    response_body_file, request_body_file
             FROM attempts WHERE delivery = ?1
             ORDER BY number",
        )?;
        let attempts = stmt
            .query_map(params![pk], |row| {
                let attempt = StoredAttempt {
                    number: row.get(0)?,
                    kind: row.get(1)?,
                    started_ms: row.get::<_, i64>(2)? as u64,
                    duration_ms: row.get::<_, Option<i64>>(3)?.map(|d| d as u64),
                    status: row.get(4)?,
                    error_code: row.get(5)?,
                    error_message: row.get(6)?,
                    response_headers: from_json(row.get(7)?),
                    response_body: row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
                    request_headers: from_json(row.get(9)?),
                    request_body: row.get(10)?,
                    verdict: from_json(row.get(11)?),
                };
                let files: (Option<String>, Option<String>) = (row.get(12)?, row.get(13)?);
                Ok((attempt, files))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|(mut attempt, (response_file, request_file))| {
                if files == Files::Skip {
                    return Ok(attempt);
                }
                if let Some(name) = response_file {
                    attempt.response_body = self.bodies.get(&name)?;
                }
                if let Some(name) = request_file {
                    attempt.request_body = Some(self.bodies.get(&name)?);
                }
                Ok(attempt)
            })
            .collect::<Result<Vec<_>, std::io::Error>>()?;
        let stored = StoredDelivery {
            delivery,
            channel,
            verdict: verdict.unwrap_or_else(unverified),
            attempts,
        };
        Ok((stored, body_len))
    }

    /// Ids of the `limit` most recent deliveries, oldest first.
    pub fn recent_ids(&self, limit: usize) -> rusqlite::Result<Vec<String>> {
        self.recent_column("id", limit)
    }

    /// `pk`s of the `limit` most recent deliveries, oldest first.
    fn recent_pks(&self, limit: usize) -> rusqlite::Result<Vec<i64>> {
        self.recent_column("pk", limit)
    }

    fn recent_column<T: rusqlite::types::FromSql>(
        &self,
        column: &str,
        limit: usize,
    ) -> rusqlite::Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {column} FROM (SELECT {column}, received_at_ms, seq FROM deliveries
             ORDER BY received_at_ms DESC, seq DESC LIMIT ?1) ORDER BY received_at_ms, seq"
        ))?;
        stmt.query_map(params![limit.min(i64::MAX as usize) as i64], |row| {
            row.get(0)
        })?
        .collect()
    }

    /// The most recent deliveries, oldest first, whole: at most `limit`,
    /// and no more than `max_bytes` of request bodies (the newest always).
    /// One whose body file is gone is left out with a warning, not the rest.
    pub fn recent(&self, limit: usize, max_bytes: u64) -> Result<Vec<StoredDelivery>, LookupError> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for pk in self.recent_pks(limit)?.into_iter().rev() {
            let (_, size) = self.load_with(pk, Files::Skip)?;
            bytes += size;
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            match self.load(pk) {
                Ok(d) => out.push(d),
                Err(LookupError::Body(e)) => tracing::warn!("history: {e}"),
                Err(e) => return Err(e),
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Summaries for `hookhole history`, oldest first: the `limit` most
    /// recent (of the failed ones, with `failed_only`).
    pub fn summaries(&self, limit: usize, failed_only: bool) -> Result<Vec<Summary>, LookupError> {
        let scan = if failed_only { usize::MAX } else { limit };
        let mut out = Vec::new();
        for pk in self.recent_pks(scan)? {
            // A listing reads no body files: they may be large, or gone.
            let (d, body_bytes) = self.load_with(pk, Files::Skip)?;
            if failed_only && !d.failed() {
                continue;
            }
            let last = d.last();
            out.push(Summary {
                id: d.delivery.id.clone(),
                channel: d.channel.clone(),
                seq: d.delivery.seq,
                received_at_ms: d.delivery.received_at_ms,
                method: d.delivery.method.clone(),
                path: d.delivery.path.clone(),
                query: d.delivery.query.clone(),
                status: last.and_then(|a| a.status),
                error: last.and_then(|a| a.error_code.clone()),
                attempts: d.attempts.len() as u32,
                body_bytes,
                signature: d.verdict.clone(),
            });
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
