//! Reading the history back: deliveries by id or prefix, and the most
//! recent ones (the summaries of `hookhole history` are in `listing.rs`).
//! Rows of this version point into the log for their headers and bodies;
//! rows of older versions hold them (or name body files). Every public read first catches the
//! index up with the log, so it finds what was saved before it.

use super::columns::{
    AttemptRow, HEARD_COLUMNS, ROUTE_COLUMNS, WEBHOOK_COLUMNS, attempt_rows, heard_from,
    route_columns, webhook_columns,
};
use super::entries::{self, Entry, Saved};
use super::store::{History, LookupError, from_json, unverified};
use crate::delivery::{Attempt, Outcome, StoredDelivery};
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use rusqlite::{OptionalExtension, params};

/// Whether loading a delivery reads the bodies kept in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Files {
    Read,
    Skip,
}

impl History {
    /// Whether a delivery is stored: looked up by its channel and sequence
    /// number (an index), not by its id (a scan).
    pub fn contains(&self, channel: &str, seq: u64, id: &str) -> rusqlite::Result<bool> {
        self.fresh();
        self.contains_indexed(channel, seq, id)
    }

    /// Whether the index holds a delivery (without catching up first).
    pub(super) fn contains_indexed(
        &self,
        channel: &str,
        seq: u64,
        id: &str,
    ) -> rusqlite::Result<bool> {
        self.conn()
            .prepare_cached(
                "SELECT EXISTS
                 (SELECT 1 FROM deliveries WHERE channel = ?1 AND seq = ?2 AND id = ?3)",
            )?
            .query_row(params![channel, seq as i64, id], |row| row.get(0))
    }

    /// The next attempt number for a delivery.
    pub fn next_attempt(&self, delivery_id: &str) -> rusqlite::Result<u32> {
        self.fresh();
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
        self.fresh();
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

    /// Resolves a full id or a unique prefix.
    pub fn resolve(&self, prefix: &str) -> Result<String, LookupError> {
        self.fresh();
        self.resolve_pk(prefix).map(|(_, id)| id)
    }

    /// The `pk` and full id of a full id or unique prefix. The prefix is
    /// compared as it is (no `LIKE`: `%` and `_` are characters like any
    /// other), and an empty one names nothing.
    fn resolve_pk(&self, prefix: &str) -> Result<(i64, String), LookupError> {
        if prefix.is_empty() {
            return Err(LookupError::NotFound(String::new()));
        }
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT pk, id FROM delivery_ids
             WHERE id >= ?1 AND substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 6",
        )?;
        let found: Vec<(i64, String)> = stmt
            .query_map(params![prefix], |row| Ok((row.get(0)?, row.get(1)?)))?
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
        self.fresh();
        let (pk, _) = self.resolve_pk(prefix)?;
        self.load(pk)
    }

    /// The delivery stored as `pk`, with its attempts.
    fn load(&self, pk: i64) -> Result<StoredDelivery, LookupError> {
        self.load_with(pk, Files::Read).map(|(d, _)| d)
    }

    /// The delivery stored as `pk`, and its body's length. With
    /// `Files::Skip`, bodies kept in files or in the log are left empty,
    /// and so are the headers kept in the log: what a summary needs,
    /// without reading either.
    pub(super) fn load_with(
        &self,
        pk: i64,
        files: Files,
    ) -> Result<(StoredDelivery, u64), LookupError> {
        let conn = self.conn();
        let (mut delivery, channel, verdict, body_file, logged, webhook, route, heard) = conn
            .query_row(
                &format!(
                "SELECT id, channel, seq, received_at_ms, method, path, query, url, headers, body,
                        verdict, body_file, log_offset, body_len, {WEBHOOK_COLUMNS},
                        {ROUTE_COLUMNS}, {HEARD_COLUMNS}
                 FROM deliveries WHERE pk = ?1"
            ),
                params![pk],
                |row| {
                    let body: Vec<u8> = row.get(9)?;
                    let logged: Option<(i64, i64)> = match (row.get(12)?, row.get(13)?) {
                        (Some(offset), Some(len)) => Some((offset, len)),
                        _ => None,
                    };
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
                            body_blake3: String::new(),
                            queued: false,
                            answered: false,
                            body: bytes::Bytes::from(body),
                        },
                        row.get::<_, String>(1)?,
                        from_json::<Option<Verdict>>(row.get(10)?),
                        row.get::<_, Option<String>>(11)?,
                        logged,
                        webhook_columns(row, 14)?,
                        route_columns(row, 21)?,
                        heard_from(row, 23)?,
                    ))
                },
            )?;
        let rows = attempt_rows(&conn, pk)?;
        // Files and the log are read without holding the connection.
        drop(conn);
        let saved = match (logged, files) {
            (Some((offset, _)), Files::Read) => Some(self.saved_at(offset as u64, &delivery.id)?),
            _ => None,
        };
        let body_len = match (logged, &body_file, files) {
            (Some((_, len)), _, _) => len as u64,
            (None, None, _) => delivery.body.len() as u64,
            (None, Some(name), Files::Read) => {
                delivery.body = self.bodies.get(name)?.into();
                delivery.body.len() as u64
            }
            (None, Some(name), Files::Skip) => self.bodies.len(name),
        };
        let first = saved.as_ref().and_then(|s| s.first.clone());
        if let Some(saved) = saved {
            delivery = saved.delivery;
        }
        let own_offset = logged.map(|(offset, _)| offset);
        let attempts = rows
            .into_iter()
            .map(|row| {
                if files == Files::Skip {
                    return Ok(row.attempt);
                }
                self.complete(row, own_offset, first.as_ref())
            })
            .collect::<Result<Vec<_>, std::io::Error>>()?;
        let stored = StoredDelivery {
            delivery,
            channel,
            verdict: verdict.unwrap_or_else(unverified),
            attempts,
            webhook,
            route,
            heard,
        };
        Ok((stored, body_len))
    }

    /// The delivery saved in the record at `offset`, which must be `id`'s.
    fn saved_at(&self, offset: u64, id: &str) -> std::io::Result<Saved> {
        match entries::decode(self.log.read(offset)?)? {
            Entry::Delivery(saved) if saved.delivery.id == id => Ok(*saved),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the history's index points at offset {offset} for {id}, which holds another record"
                ),
            )),
        }
    }

    /// An attempt with the headers and bodies its row does not hold: from
    /// the log (its delivery's record for the first attempt) or from files.
    fn complete(
        &self,
        row: AttemptRow,
        delivery_offset: Option<i64>,
        first: Option<&Attempt>,
    ) -> std::io::Result<Attempt> {
        let mut attempt = row.attempt;
        match row.log_offset {
            Some(offset) if Some(offset) == delivery_offset => {
                return first.cloned().ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the history's record at offset {offset} holds no attempt"),
                    )
                });
            }
            Some(offset) => {
                return match entries::decode(self.log.read(offset as u64)?)? {
                    Entry::Attempt {
                        attempt: logged, ..
                    } if logged.number == attempt.number => Ok(*logged),
                    _ => Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "the history's index points at offset {offset} for an attempt, which holds another record"
                        ),
                    )),
                };
            }
            None => {}
        }
        if let (Some(name), Outcome::Answered { body, .. }) =
            (row.response_file, &mut attempt.outcome)
        {
            *body = self.bodies.get(&name)?.into();
        }
        if let Some(name) = row.request_file {
            attempt.request_body = Some(self.bodies.get(&name)?);
        }
        Ok(attempt)
    }

    /// Ids of the `limit` most recent deliveries, oldest first (for tests:
    /// the commands and the UI load deliveries whole).
    #[cfg(test)]
    pub fn recent_ids(&self, limit: usize) -> rusqlite::Result<Vec<String>> {
        self.fresh();
        self.recent_column("id", limit)
    }

    /// `pk`s of the `limit` most recent deliveries, oldest first.
    pub(super) fn recent_pks(&self, limit: usize) -> rusqlite::Result<Vec<i64>> {
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
        self.fresh();
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for pk in self.recent_pks(limit)?.into_iter().rev() {
            bytes += self.body_len(pk)?;
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

    /// The size of the request body stored as `pk`, without reading it (a
    /// blob's length is in its record's header).
    fn body_len(&self, pk: i64) -> Result<u64, LookupError> {
        let (inline, file, logged): (i64, Option<String>, Option<i64>) = self
            .conn()
            .prepare_cached(
                "SELECT length(body), body_file, body_len FROM deliveries WHERE pk = ?1",
            )?
            .query_row(params![pk], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        Ok(match (logged, file) {
            (Some(len), _) => len as u64,
            (None, Some(name)) => self.bodies.len(&name),
            (None, None) => inline as u64,
        })
    }
}
