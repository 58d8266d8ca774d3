//! The checked mapping between an attempt's [`Kind`] and [`Outcome`] and
//! the history's columns: every name written is one these types give, and
//! every name read is turned back into one of them or refused.

use crate::delivery::attempt::failure_code;
use crate::delivery::{Kind, NotSent, Outcome};
use bytes::Bytes;
use hookhole_shared::headers::Header;
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
    body: Vec<u8>,
) -> FromSqlResult<Outcome> {
    let message = message.unwrap_or_default();
    Ok(match (status, code.as_deref()) {
        (Some(status), _) => Outcome::Answered {
            status,
            headers,
            body: Bytes::from(body),
        },
        (None, None) => Outcome::Interrupted,
        (None, Some(NotSent::NOT_RESIGNED)) => Outcome::NotSent(NotSent::NotResigned(message)),
        (None, Some(name)) => Outcome::Failed {
            code: failure_code(name).ok_or_else(|| unknown("failure code", name))?,
            message,
        },
    })
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
                outcome.body().to_vec(),
            )
            .unwrap();
            assert_eq!(back, outcome);
        }
        let err = outcome_from(
            None,
            Some("bogus\x1b[2J".into()),
            None,
            Vec::new(),
            Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown failure code"), "{err}");
        assert!(!err.to_string().contains('\x1b'), "{err}");
    }
}
