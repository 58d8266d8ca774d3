//! Retention: `--keep` (a count and an age) applied while deliveries are
//! indexed, and then the log segments (and the body files of older
//! versions) that no row points into any more removed. A segment goes
//! whole, once every delivery in it is pruned: the log holds the deliveries
//! `--keep` covers, and at most a segment (64 MiB) of older ones.

use super::records::Keep;
use super::store::History;
use rusqlite::{Connection, params};
use std::sync::MutexGuard;

/// What pruning needs to stay cheap: it runs only once the database may
/// hold noticeably more than `--keep` allows, not on every insert, and then
/// walks the arrival index from its oldest end, as far as it drops.
pub(super) struct Retention {
    pub(super) keep: Keep,
    /// Deliveries stored, kept up to date by inserts and prunes and counted
    /// again now and then (so that another process's writes, or a batch
    /// rolled back, cannot make it drift for long).
    pub(super) stored: u64,
    /// Inserts since deliveries past `--keep`'s age were last dropped.
    pub(super) since_age_check: u32,
    /// Prunes until `stored` is counted again (0: at the next one).
    pub(super) until_recount: u32,
    /// Time to prune, at the end of the current batch of writes.
    pub(super) due: bool,
    /// Deliveries were dropped: their body files go once that is committed.
    pub(super) sweep_due: bool,
    /// Log segments that end at or before this offset hold nothing the
    /// index points to: they go once that is committed.
    pub(super) segments_before: Option<u64>,
    /// The offset this handle's last catch-up reached, and the last `pk`
    /// then: rows another handle indexed after it are counted at the next.
    pub(super) seen: Option<Seen>,
}

/// How far a handle had indexed: the log's offset, and the last `pk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    pub(super) reached: u64,
    pub(super) pk: i64,
}

impl Retention {
    pub(super) fn new(keep: Keep) -> Retention {
        Retention {
            keep,
            stored: 0,
            since_age_check: 0,
            until_recount: 0,
            // Counted at the first prune: what others left is not known.
            due: true,
            sweep_due: false,
            segments_before: None,
            seen: None,
        }
    }
}

/// Inserts between two checks for deliveries past `--keep`'s age.
const AGE_CHECK_EVERY: u32 = 1000;

/// Prunes between two counts of the stored deliveries. Counting reads the
/// whole arrival index; done every 64th prune, it costs a few index entries
/// per insert (about 16 with a `--keep` of a million).
const RECOUNT_EVERY: u32 = 64;

impl Retention {
    /// Deliveries allowed above the count before pruning: about 1.5%, so
    /// pruning costs a few index steps per insert however large `--keep` is.
    fn slack(&self) -> u64 {
        self.keep.count / 64
    }
}

/// Records the listener's `--keep` in the index: a command that catches
/// the index up (indexing what the listener saved a moment ago) prunes as
/// the listener would, so `--keep` holds for what it lists too.
pub(super) fn record_keep(conn: &Connection, keep: Keep) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE log_index SET keep_count = ?1, keep_age_ms = ?2",
        params![
            keep.count.min(i64::MAX as u64) as i64,
            keep.age.as_millis().min(i64::MAX as u128) as i64
        ],
    )
    .map(drop)
}

/// The `--keep` the last listener recorded, if one did.
pub(super) fn recorded_keep(conn: &Connection) -> rusqlite::Result<Option<Keep>> {
    let (count, age): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT keep_count, keep_age_ms FROM log_index", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    Ok(match (count, age) {
        (Some(count), Some(age)) if count > 0 && age > 0 => Some(Keep {
            count: count as u64,
            age: std::time::Duration::from_millis(age as u64),
        }),
        _ => None,
    })
}

impl History {
    /// Removes the log segments no row points into, once a committed prune
    /// left some: a transaction rolled back never leaves rows pointing
    /// into a removed segment.
    pub fn drop_segments_if_due(&self) {
        if !self.drops_files {
            return;
        }
        let Some(before) = self.retention().and_then(|mut r| r.segments_before.take()) else {
            return;
        };
        match self.log.drop_before(before) {
            Ok(0) => {}
            Ok(n) => tracing::debug!("history: removed {n} log segments"),
            Err(e) => tracing::warn!("history: cannot remove old log segments: {e}"),
        }
    }

    /// Removes the body files of pruned deliveries, when a prune dropped
    /// any: called once the prune is committed, so a transaction rolled
    /// back never leaves rows without their files.
    pub fn sweep_bodies_if_due(&self) {
        if !self.drops_files {
            return;
        }
        let due = self
            .retention()
            .is_some_and(|mut r| std::mem::take(&mut r.sweep_due));
        if due {
            self.sweep_bodies();
        }
    }

    pub(super) fn sweep_bodies(&self) {
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

    fn retention(&self) -> Option<MutexGuard<'_, Retention>> {
        let retention = self.retention.as_ref()?;
        Some(retention.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A transaction was rolled back: the deliveries it counted are not
    /// there, so the next prune counts them again.
    pub(super) fn recount_soon(&self) {
        if let Some(mut r) = self.retention() {
            r.until_recount = 0;
        }
    }

    pub(super) fn seen(&self) -> Option<Seen> {
        self.retention().and_then(|r| r.seen)
    }

    pub(super) fn saw(&self, seen: Seen) {
        if let Some(mut r) = self.retention() {
            r.seen = Some(seen);
        }
    }

    /// Counts inserts, and whether it is time to prune.
    pub(super) fn inserted(&self, n: u64) {
        let Some(mut r) = self.retention() else {
            return;
        };
        if n == 0 {
            return;
        }
        r.stored += n;
        r.since_age_check = r
            .since_age_check
            .saturating_add(n.min(u32::MAX.into()) as u32);
        r.due |= r.stored > r.keep.count + r.slack() || r.since_age_check >= AGE_CHECK_EVERY;
    }

    /// Prunes if the inserts so far call for it. The writer calls this after
    /// a batch's deliveries and their attempts are written, so a prune never
    /// removes a delivery whose attempt is still to be written (one older
    /// than `--keep`'s age when it arrives is saved, then pruned, in one
    /// transaction).
    pub fn prune_if_due(&self) -> rusqlite::Result<()> {
        let age = match self.retention() {
            Some(r) if r.due => r.since_age_check >= AGE_CHECK_EVERY,
            _ => return Ok(()),
        };
        self.prune_by(age)
    }

    /// Drops what `--keep` no longer covers: deliveries older than its age,
    /// then the oldest beyond its count. Does nothing for the commands.
    pub fn prune(&self) -> rusqlite::Result<()> {
        self.prune_by(true)
    }

    /// Prunes by count, and by age too with `age` (at start, and every
    /// [`AGE_CHECK_EVERY`] inserts: a handle's first prune, which counts
    /// what is stored, is not also one by age).
    fn prune_by(&self, age: bool) -> rusqlite::Result<()> {
        let Some(mut r) = self.retention() else {
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let cutoff = now.saturating_sub(r.keep.age.as_millis().min(i64::MAX as u128) as i64);
        let conn = self.conn();
        if r.until_recount == 0 {
            r.stored = conn
                .prepare_cached("SELECT COUNT(*) FROM deliveries")?
                .query_row([], |row| row.get::<_, i64>(0))? as u64;
            r.until_recount = RECOUNT_EVERY;
        }
        r.until_recount -= 1;
        // Both walk the arrival index from the oldest entry, and stop after
        // the last one they drop: no body is read, nothing kept is visited.
        let aged = if age {
            r.since_age_check = 0;
            conn.prepare_cached("DELETE FROM deliveries WHERE received_at_ms < ?1")?
                .execute(params![cutoff])? as u64
        } else {
            0
        };
        r.stored = r.stored.saturating_sub(aged);
        let excess = r.stored.saturating_sub(r.keep.count);
        let counted = if excess > 0 {
            conn.prepare_cached(
                "DELETE FROM deliveries WHERE pk IN
                 (SELECT pk FROM deliveries ORDER BY received_at_ms, seq LIMIT ?1)",
            )?
            .execute(params![excess.min(i64::MAX as u64) as i64])? as u64
        } else {
            0
        };
        r.stored -= counted;
        r.sweep_due |= aged + counted > 0;
        // Everything before the first record a row points to, and before
        // what is indexed (the rest is not known yet).
        let first_pointed: Option<i64> = conn
            .prepare_cached(
                "SELECT MIN(o) FROM
                 (SELECT (SELECT log_offset FROM deliveries WHERE log_offset IS NOT NULL
                          ORDER BY pk LIMIT 1) AS o
                  UNION ALL SELECT MIN(log_offset) FROM attempts
                      WHERE log_offset IS NOT NULL AND number > 1)",
            )?
            .query_row([], |row| row.get(0))?;
        let reached: i64 = conn
            .prepare_cached("SELECT reached FROM log_index")?
            .query_row([], |row| row.get(0))?;
        r.segments_before = Some(first_pointed.unwrap_or(reached).min(reached) as u64);
        r.due = false;
        Ok(())
    }
}
