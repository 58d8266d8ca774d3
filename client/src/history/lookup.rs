//! Reading the history back: deliveries by id or prefix, the most recent
//! ones, and the summaries of `hookhole history`.

use super::columns::outcome_from;
use super::records::Summary;
use super::store::{History, LookupError, from_json, unverified};
use crate::delivery::{self, Attempt, Outcome, StoredDelivery};
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use rusqlite::{OptionalExtension, params};

/// Whether loading a delivery reads the bodies kept in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Files {
    Read,
    Skip,
}

impl History {
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
    pub(super) fn pk_of(&self, id: &str) -> rusqlite::Result<Option<i64>> {
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

    /// Resolves a full id or a unique prefix.
    pub fn resolve(&self, prefix: &str) -> Result<String, LookupError> {
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
                        body_blake3: String::new(),
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
                    response_body_file, request_body_file, target
             FROM attempts WHERE delivery = ?1
             ORDER BY number",
        )?;
        let attempts = stmt
            .query_map(params![pk], |row| {
                let outcome = outcome_from(
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    from_json(row.get(7)?),
                    row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
                )
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        4,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                let attempt = Attempt {
                    number: row.get(0)?,
                    kind: row.get(1)?,
                    started_ms: row.get::<_, i64>(2)? as u64,
                    duration_ms: row.get::<_, Option<i64>>(3)?.map(|d| d as u64),
                    outcome,
                    request_headers: from_json(row.get(9)?),
                    request_body: row.get(10)?,
                    verdict: from_json(row.get(11)?),
                    target: row.get(14)?,
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
                if let (Some(name), Outcome::Answered { body, .. }) =
                    (response_file, &mut attempt.outcome)
                {
                    *body = self.bodies.get(&name)?.into();
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

    /// Ids of the `limit` most recent deliveries, oldest first (for tests:
    /// the commands and the UI load deliveries whole).
    #[cfg(test)]
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
        let (inline, file): (i64, Option<String>) = self
            .conn()
            .prepare_cached("SELECT length(body), body_file FROM deliveries WHERE pk = ?1")?
            .query_row(params![pk], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(match file {
            Some(name) => self.bodies.len(&name),
            None => inline as u64,
        })
    }

    /// Summaries for `hookhole history`, oldest first: the `limit` most
    /// recent (of the failed ones, with `failed_only`).
    pub fn summaries(&self, limit: usize, failed_only: bool) -> Result<Vec<Summary>, LookupError> {
        let scan = if failed_only { usize::MAX } else { limit };
        let mut out = Vec::new();
        for pk in self.recent_pks(scan)? {
            // A listing reads no body files: they may be large, or gone.
            let (d, body_bytes) = self.load_with(pk, Files::Skip)?;
            let failed = d.failed();
            if failed_only && !failed {
                continue;
            }
            // The attempt that decides, not one never sent after it.
            let last = delivery::deciding(&d.attempts);
            out.push(Summary {
                id: d.delivery.id.clone(),
                channel: d.channel.clone(),
                seq: d.delivery.seq,
                received_at_ms: d.delivery.received_at_ms,
                method: d.delivery.method.clone(),
                path: d.delivery.path.clone(),
                query: d.delivery.query.clone(),
                status: last.and_then(|a| a.outcome.status()),
                error: last
                    .and_then(|a| a.outcome.error())
                    .map(|(code, _)| code.to_string()),
                attempts: d.attempts.len() as u32,
                body_bytes,
                failed,
                signature: d.verdict.clone(),
            });
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }
}
