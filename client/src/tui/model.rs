//! What the terminal UI knows about one delivery: the request as it
//! arrived, its signature verdict, and every attempt at forwarding it.

use crate::events::{DeliveryEvent, Exchange};
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::{Status, Verdict};

/// How an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// The delivery as it came through the relay.
    Original,
    /// `r`: the stored bytes again, straight to the local server.
    Replay,
    /// `R`: re-signed with a fresh timestamp.
    Resigned,
    /// `e`: edited in `$EDITOR`.
    Edited,
}

impl AttemptKind {
    /// The name stored in the history.
    pub fn stored(self) -> &'static str {
        match self {
            AttemptKind::Original => "original",
            AttemptKind::Replay => "replay",
            AttemptKind::Resigned => "resigned",
            AttemptKind::Edited => "edited",
        }
    }

    pub fn from_stored(name: &str) -> AttemptKind {
        match name {
            "replay" => AttemptKind::Replay,
            "resigned" => AttemptKind::Resigned,
            "edited" => AttemptKind::Edited,
            _ => AttemptKind::Original,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AttemptKind::Original => "original",
            AttemptKind::Replay => "replay",
            AttemptKind::Resigned => "re-signed replay",
            AttemptKind::Edited => "edited replay",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Response {
        status: u16,
        headers: Vec<Header>,
        body: Bytes,
    },
    Failed {
        code: String,
        message: String,
    },
}

impl Outcome {
    /// The bytes of the answer's body held in memory.
    pub fn body_len(&self) -> usize {
        match self {
            Outcome::Response { body, .. } => body.len(),
            _ => 0,
        }
    }

    /// What a forward to the local server got.
    pub fn of(
        result: &Result<hookhole_shared::protocol::Response, hookhole_shared::protocol::Failure>,
    ) -> Outcome {
        match result {
            Ok(r) => Outcome::Response {
                status: r.status,
                headers: r.headers.clone(),
                body: r.body.clone(),
            },
            Err(f) => Outcome::Failed {
                code: f.code.as_str().to_string(),
                message: f.message.clone(),
            },
        }
    }

    /// What a saved attempt got.
    pub fn of_stored(a: &crate::history::StoredAttempt) -> Outcome {
        match (a.status, &a.error_code) {
            (Some(status), _) => Outcome::Response {
                status,
                headers: a.response_headers.clone(),
                body: Bytes::from(a.response_body.clone()),
            },
            (None, Some(code)) => Outcome::Failed {
                code: code.clone(),
                message: a.error_message.clone().unwrap_or_default(),
            },
            // Saved before the answer came (the process stopped).
            (None, None) => Outcome::Failed {
                code: "interrupted".into(),
                message: "hookhole stopped before this attempt finished".into(),
            },
        }
    }

    /// 2xx answers are successes; errors and other statuses are failures.
    pub fn failed(&self) -> bool {
        match self {
            Outcome::Pending => false,
            Outcome::Response { status, .. } => !(200..300).contains(status),
            Outcome::Failed { .. } => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub number: u32,
    pub kind: AttemptKind,
    pub started_ms: u64,
    pub duration_ms: Option<u64>,
    pub outcome: Outcome,
    /// The verdict of what this attempt sent, when it differs from the
    /// original (re-signed or edited).
    pub verdict: Option<Verdict>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub seq: u64,
    pub received_at_ms: u64,
    pub method: String,
    /// The path after the channel, `/` when empty.
    pub path: String,
    pub query: Option<String>,
    /// The public URL the sender called.
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Bytes,
    pub verdict: Verdict,
    pub attempts: Vec<Attempt>,
}

impl Record {
    /// The bytes of bodies this record holds: the request's and every
    /// answer's.
    pub fn held_bytes(&self) -> usize {
        self.body.len()
            + self
                .attempts
                .iter()
                .map(|a| a.outcome.body_len())
                .sum::<usize>()
    }

    /// A record from the engine's delivery event (its full exchange, or
    /// just the summary when the exchange is not attached).
    pub fn from_event(event: &DeliveryEvent) -> Record {
        let (url, headers, body, outcome) = match event.exchange.as_deref() {
            Some(Exchange { delivery, outcome }) => (
                delivery.url.clone(),
                delivery.headers.clone(),
                delivery.body.clone(),
                Outcome::of(outcome),
            ),
            None => (
                String::new(),
                Vec::new(),
                Bytes::new(),
                match (event.status, &event.error) {
                    (Some(status), _) => Outcome::Response {
                        status,
                        headers: Vec::new(),
                        body: Bytes::new(),
                    },
                    (None, error) => Outcome::Failed {
                        code: "error".into(),
                        message: error.clone().unwrap_or_default(),
                    },
                },
            ),
        };
        let received_at_ms = event
            .exchange
            .as_ref()
            .map_or(0, |e| e.delivery.received_at_ms);
        Record {
            id: event.id.clone(),
            seq: event.seq,
            received_at_ms,
            method: event.method.clone(),
            path: event.path.clone(),
            query: event.query.clone(),
            url,
            headers,
            body,
            verdict: event.signature.clone(),
            attempts: vec![Attempt {
                number: 1,
                kind: AttemptKind::Original,
                started_ms: received_at_ms,
                duration_ms: Some(event.duration_ms),
                outcome,
                verdict: None,
            }],
        }
    }

    /// A record from the history (deliveries of earlier runs).
    pub fn from_stored(stored: &crate::history::StoredDelivery) -> Record {
        let d = &stored.delivery;
        let attempts = stored
            .attempts
            .iter()
            .map(|a| Attempt {
                number: a.number,
                kind: AttemptKind::from_stored(&a.kind),
                started_ms: a.started_ms,
                duration_ms: a.duration_ms,
                outcome: Outcome::of_stored(a),
                verdict: a.verdict.clone(),
            })
            .collect();
        Record {
            id: d.id.clone(),
            seq: d.seq,
            received_at_ms: d.received_at_ms,
            method: d.method.clone(),
            path: if d.path.is_empty() {
                "/".into()
            } else {
                d.path.clone()
            },
            query: d.query.clone(),
            url: d.url.clone(),
            headers: d.headers.clone(),
            body: d.body.clone(),
            verdict: stored.verdict.clone(),
            attempts,
        }
    }

    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// For the `f` filter: the last attempt failed, or the signature is
    /// invalid or unreadable.
    pub fn failed(&self) -> bool {
        self.last().is_some_and(|a| a.outcome.failed())
            || matches!(self.verdict.status, Status::Invalid | Status::Malformed)
    }

    /// The header value, for display.
    pub fn header(&self, name: &str) -> Option<String> {
        hookhole_shared::headers::get(&self.headers, name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// The symbol and word for a status; never colour alone.
pub fn badge(status: Status) -> &'static str {
    match status {
        Status::Valid => "✓ valid",
        Status::Invalid => "✗ invalid",
        Status::Expired => "⏱ expired",
        Status::Unsigned => "– unsigned",
        Status::NoSecret => "? no_secret",
        Status::Malformed => "! malformed",
    }
}
