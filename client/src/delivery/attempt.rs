//! One attempt at forwarding a delivery: how it was made ([`Kind`]), how it
//! ended ([`Outcome`]), what was sent and where.

use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::{Failure, FailureCode, Response};
use hookhole_shared::signature::Verdict;

/// How an attempt was made (serialised by its [`Kind::as_str`] name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The delivery as it came through the relay.
    Original,
    /// The stored bytes again (`r`, `hookhole replay`).
    Replay,
    /// Re-signed with a fresh timestamp (`R`, `hookhole replay --resign`).
    Resigned,
    /// Edited in `$EDITOR` first (`e`).
    Edited,
    /// The provider's retry, played by hookhole (`listen --retries`, `p`):
    /// the next attempt number, re-signed when the secret is configured.
    Retry,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Original,
        Kind::Replay,
        Kind::Resigned,
        Kind::Edited,
        Kind::Retry,
    ];

    /// The name in the history and in JSON and HAR exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Original => "original",
            Kind::Replay => "replay",
            Kind::Resigned => "resigned",
            Kind::Edited => "edited",
            Kind::Retry => "retry",
        }
    }

    /// The kind named `name` by [`Kind::as_str`].
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// What the UI and `show` call it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Original => "original",
            Kind::Replay => "replay",
            Kind::Resigned => "re-signed replay",
            Kind::Edited => "edited replay",
            Kind::Retry => "provider retry",
        }
    }
}

/// Why an attempt was recorded without being sent. Builds before issue 16
/// recorded `R` without a secret this way; nothing records it any more,
/// but their histories still hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSent {
    NotResigned(String),
}

impl NotSent {
    /// The name in the history's `error_code` column.
    pub const NOT_RESIGNED: &'static str = "not_resigned";
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Under way (the UI, before the answer).
    Pending,
    /// The local server answered.
    Answered {
        status: u16,
        headers: Vec<Header>,
        body: Bytes,
    },
    /// No answer: why, as the relay hears it.
    Failed { code: FailureCode, message: String },
    /// Saved before its end: hookhole stopped while it was under way.
    Interrupted,
    /// Recorded but never sent.
    NotSent(NotSent),
}

impl Outcome {
    /// What a forward to the local server got.
    pub fn of(result: &Result<Response, Failure>) -> Outcome {
        match result {
            Ok(r) => Outcome::Answered {
                status: r.status,
                headers: r.headers.clone(),
                body: r.body.clone(),
            },
            Err(f) => Outcome::Failed {
                code: f.code,
                message: f.message.clone(),
            },
        }
    }

    /// Whether this attempt failed: a 2xx answer succeeded, anything else
    /// failed, an interrupted one too (nobody knows what the server did);
    /// one under way has not failed (yet). `None` for an attempt never
    /// sent: it says nothing about the delivery.
    pub fn failed(&self) -> Option<bool> {
        match self {
            Outcome::Pending => Some(false),
            Outcome::Answered { status, .. } => Some(!(200..300).contains(status)),
            Outcome::Failed { .. } | Outcome::Interrupted => Some(true),
            Outcome::NotSent(_) => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The code and message of an attempt that got no answer.
    pub fn error(&self) -> Option<(&'static str, &str)> {
        match self {
            Outcome::Failed { code, message } => Some((code.as_str(), message)),
            Outcome::NotSent(NotSent::NotResigned(message)) => {
                Some((NotSent::NOT_RESIGNED, message))
            }
            Outcome::Interrupted => Some((
                "interrupted",
                "hookhole stopped before this attempt finished",
            )),
            Outcome::Pending | Outcome::Answered { .. } => None,
        }
    }

    /// The answer's headers (none without an answer).
    pub fn headers(&self) -> &[Header] {
        match self {
            Outcome::Answered { headers, .. } => headers,
            _ => &[],
        }
    }

    /// The answer's body (empty without an answer).
    pub fn body(&self) -> &[u8] {
        match self {
            Outcome::Answered { body, .. } => body,
            _ => &[],
        }
    }
}

/// The failure code named `name` by [`FailureCode::as_str`] (its wire name).
pub fn failure_code(name: &str) -> Option<FailureCode> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// One attempt at forwarding a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub number: u32,
    pub kind: Kind,
    pub started_ms: u64,
    pub duration_ms: Option<u64>,
    pub outcome: Outcome,
    /// What was sent, when it differs from the delivery (re-signed, edited).
    pub request_headers: Option<Vec<Header>>,
    pub request_body: Option<Vec<u8>>,
    /// The verdict of what was sent, when it differs from the delivery.
    pub verdict: Option<Verdict>,
    /// The local server it went to (`http://host:port/base`); `None` in
    /// histories from before issue 16.
    pub target: Option<String>,
}

impl Attempt {
    pub fn new(kind: Kind, number: u32, started_ms: u64, outcome: Outcome) -> Attempt {
        Attempt {
            number,
            kind,
            started_ms,
            duration_ms: None,
            outcome,
            request_headers: None,
            request_body: None,
            verdict: None,
            target: None,
        }
    }

    /// The first attempt, as the engine made it: sent to `target`, or
    /// answered by a route without one.
    pub fn first(
        result: &Result<Response, Failure>,
        target: Option<&crate::target::Target>,
        started_ms: u64,
        duration_ms: u64,
    ) -> Attempt {
        Attempt {
            duration_ms: Some(duration_ms),
            target: target.map(ToString::to_string),
            ..Attempt::new(Kind::Original, 1, started_ms, Outcome::of(result))
        }
    }

    /// Records what was sent, when it differs from the delivery.
    pub fn sent(&mut self, headers: &[Header], body: &[u8]) {
        self.request_headers = Some(headers.to_vec());
        self.request_body = Some(body.to_vec());
    }

    /// The bytes of bodies this attempt holds in memory.
    pub fn held_bytes(&self) -> usize {
        self.outcome.body().len() + self.request_body.as_ref().map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("Replay"), None);
        // Failure codes are read by their wire name (serde), so a new code
        // needs no second list here.
        let code = FailureCode::ResponseTooLarge;
        assert_eq!(failure_code(code.as_str()), Some(code));
        assert_eq!(failure_code(NotSent::NOT_RESIGNED), None);
    }
}
