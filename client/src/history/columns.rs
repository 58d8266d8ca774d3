//! The checked mapping between an attempt's [`Kind`] and [`Outcome`] and
//! the history's columns: every name written is one these types give, and
//! every name read is turned back into one of them or refused. Also the
//! attempts' rows, read back, and a delivery's webhook, route and
//! sender-heard columns.

use crate::delivery::attempt::failure_code;
use crate::delivery::{Attempt, Kind, NotSent, Outcome, RelayAnswered, SenderHeard};
use crate::webhook::{Arrival, Recorded};
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::webhook::WebhookFacts;
use rusqlite::params;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

impl ToSql for Kind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Kind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Kind> {
        let name = value.as_str()?;
        Kind::parse(name).ok_or_else(|| unknown("attempt kind", name))
    }
}

fn unknown(what: &str, name: &str) -> FromSqlError {
    FromSqlError::Other(
        format!(
            "unknown {what} {:?} in the history",
            hookhole_shared::printable::line(name)
        )
        .into(),
    )
}

/// The `status`, `error_code` and `error_message` columns of an outcome.
/// One under way is stored as one interrupted: no status, no error.
pub(super) fn outcome_columns(outcome: &Outcome) -> (Option<u16>, Option<&str>, Option<&str>) {
    match outcome {
        Outcome::Answered { status, .. } => (Some(*status), None, None),
        Outcome::Failed { code, message } => (None, Some(code.as_str()), Some(message)),
        Outcome::NotSent(NotSent::NotResigned(message)) => {
            (None, Some(NotSent::NOT_RESIGNED), Some(message))
        }
        Outcome::Pending | Outcome::Interrupted => (None, None, None),
    }
}

/// The outcome stored in those columns, with the answer's headers and body.
pub(super) fn outcome_from(
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    headers: Vec<Header>,
    body: Bytes,
) -> FromSqlResult<Outcome> {
    let message = message.unwrap_or_default();
    Ok(match (status, code.as_deref()) {
        (Some(status), _) => Outcome::Answered {
            status,
            headers,
            body,
        },
        (None, None) => Outcome::Interrupted,
        (None, Some(NotSent::NOT_RESIGNED)) => Outcome::NotSent(NotSent::NotResigned(message)),
        (None, Some(name)) => Outcome::Failed {
            code: failure_code(name).ok_or_else(|| unknown("failure code", name))?,
            message,
        },
    })
}

/// An attempt's row: the attempt as far as the row holds it, and where the
/// rest is.
pub(super) struct AttemptRow {
    pub(super) attempt: Attempt,
    pub(super) response_file: Option<String>,
    pub(super) request_file: Option<String>,
    pub(super) log_offset: Option<i64>,
}

pub(super) fn attempt_rows(
    conn: &rusqlite::Connection,
    pk: i64,
) -> rusqlite::Result<Vec<AttemptRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT number, kind, started_ms, duration_ms, status, error_code, error_message,
                response_headers, response_body, request_headers, request_body, verdict,
                response_body_file, request_body_file, target, log_offset
         FROM attempts WHERE delivery = ?1
         ORDER BY number",
    )?;
    stmt.query_map(params![pk], |row| {
        let outcome = outcome_from(
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            super::store::from_json(row.get(7)?),
            bytes::Bytes::from(row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default()),
        )
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
        })?;
        Ok(AttemptRow {
            attempt: Attempt {
                number: row.get(0)?,
                kind: row.get(1)?,
                started_ms: row.get::<_, i64>(2)? as u64,
                duration_ms: row.get::<_, Option<i64>>(3)?.map(|d| d as u64),
                outcome,
                request_headers: super::store::from_json(row.get(9)?),
                request_body: row.get(10)?,
                verdict: super::store::from_json(row.get(11)?),
                target: row.get(14)?,
            },
            response_file: row.get(12)?,
            request_file: row.get(13)?,
            log_offset: row.get(15)?,
        })
    })?
    .collect()
}

/// The webhook columns of a delivery's row, as selected by
/// [`WEBHOOK_COLUMNS`] from column `at` on; `None` for a delivery without
/// a provider (and every row of older versions).
pub(super) const WEBHOOK_COLUMNS: &str =
    "provider, event_type, event_id, event_attempt, deadline_ms, duplicate_of, seen";

/// The route that took a delivery: its number and name, from column `at`
/// on; `None` when none did (and in rows of older versions).
pub(super) const ROUTE_COLUMNS: &str = "route, route_name";

pub(super) fn route_columns(
    row: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<crate::route::Label>> {
    match row.get::<_, Option<u32>>(at)? {
        Some(number) => Ok(Some(crate::route::Label {
            number,
            name: row.get(at + 1)?,
        })),
        None => Ok(None),
    }
}

/// What a delivery's sender heard, from column `at` on: the relay's
/// status, why it answered, and its `within` wait; all NULL for the local
/// answer (and in rows of older versions).
pub(super) const HEARD_COLUMNS: &str = "heard_status, heard_why, heard_wait_ms";

/// The [`HEARD_COLUMNS`] of `heard`.
pub(super) fn heard_columns(
    heard: SenderHeard,
) -> (Option<u16>, Option<&'static str>, Option<i64>) {
    match heard {
        SenderHeard::Local => (None, None, None),
        SenderHeard::Relay { status, why } => (
            Some(status),
            Some(why.as_str()),
            why.wait_ms().map(|ms| ms.min(i64::MAX as u64) as i64),
        ),
    }
}

pub(super) fn heard_from(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SenderHeard> {
    let (Some(status), Some(why)) = (
        row.get::<_, Option<u16>>(at)?,
        row.get::<_, Option<String>>(at + 1)?,
    ) else {
        return Ok(SenderHeard::Local);
    };
    let wait_ms = row
        .get::<_, Option<i64>>(at + 2)?
        .map(|ms| ms.max(0) as u64);
    let why = RelayAnswered::parse(&why, wait_ms).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            at + 1,
            rusqlite::types::Type::Text,
            unknown("reason for the relay's answer", &why).into(),
        )
    })?;
    Ok(SenderHeard::Relay { status, why })
}

pub(super) fn webhook_columns(
    row: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<Recorded>> {
    let Some(provider) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    let seen: Option<u32> = row.get(at + 6)?;
    Ok(Some(Recorded {
        facts: WebhookFacts {
            provider,
            event_type: row.get(at + 1)?,
            event_id: row.get(at + 2)?,
            attempt: row.get(at + 3)?,
            deadline_ms: row
                .get::<_, Option<i64>>(at + 4)?
                .map(|ms| ms.max(0) as u64),
        },
        arrival: match seen {
            Some(seen) => Some(Arrival {
                duplicate_of: row.get(at + 5)?,
                seen,
            }),
            None => None,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::protocol::FailureCode;

    #[test]
    fn every_outcome_reads_back_as_written() {
        let outcomes = [
            Outcome::Answered {
                status: 503,
                headers: vec![Header::new("x", "1")],
                body: Bytes::from_static(b"down"),
            },
            Outcome::Failed {
                code: FailureCode::LocalTimeout,
                message: "slow".into(),
            },
            Outcome::NotSent(NotSent::NotResigned("no secret".into())),
            Outcome::Interrupted,
        ];
        for outcome in outcomes {
            let (status, code, message) = outcome_columns(&outcome);
            let back = outcome_from(
                status,
                code.map(str::to_string),
                message.map(str::to_string),
                outcome.headers().to_vec(),
                Bytes::copy_from_slice(outcome.body()),
            )
            .unwrap();
            assert_eq!(back, outcome);
        }
        let err = outcome_from(
            None,
            Some("bogus\x1b[2J".into()),
            None,
            Vec::new(),
            Bytes::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown failure code"), "{err}");
        assert!(!err.to_string().contains('\x1b'), "{err}");
    }
}
