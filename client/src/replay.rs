//! The one replay path: a stored delivery sent to the local server again,
//! as-is, re-signed with a fresh timestamp, or edited, and recorded as a new
//! attempt with the verdict of what was sent. The terminal UI (`r`, `R`,
//! `e`) and `hookhole replay` both come through [`Replayer::replay`].
//!
//! - [`resign`]: fresh signature headers for a request.

pub mod resign;

use crate::delivery::{Attempt, Kind, Outcome, StoredDelivery};
use crate::forward::Forwarder;
use crate::history::History;
use crate::outgoing::{self, Parts};
use crate::verification::Verifier;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The parts of a request a replay sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<Header>,
    pub body: Bytes,
}

/// How to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The stored bytes again.
    AsIs,
    /// Signed afresh with the configured secret for the delivery's scheme.
    Resigned,
    /// These parts instead of the stored ones (edited in `$EDITOR`).
    Edited(Request),
    /// The provider's retry (`listen --retries`): `attempt` written where
    /// the provider numbers attempts (`at`), then signed afresh when the
    /// scheme's secret is configured (sent as stored otherwise).
    Retry {
        at: Option<hookhole_shared::webhook::FieldSource>,
        attempt: u32,
    },
}

impl Mode {
    pub fn kind(&self) -> Kind {
        match self {
            Mode::AsIs => Kind::Replay,
            Mode::Resigned => Kind::Resigned,
            Mode::Edited(_) => Kind::Edited,
            Mode::Retry { .. } => Kind::Retry,
        }
    }
}

/// A stored delivery to replay, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub id: String,
    /// The number the new attempt gets.
    pub number: u32,
    /// The public URL the sender called (signed by some schemes).
    pub url: String,
    /// The scheme the delivery's signature was verified with.
    pub scheme: Option<String>,
    /// The request as recorded.
    pub request: Request,
    pub mode: Mode,
    /// Where to send it; `None`: the replayer's target. A delivery a route
    /// sent elsewhere is replayed there.
    pub target: Option<crate::target::Target>,
}

impl Replay {
    /// A replay of a delivery from the history.
    pub fn of(stored: &StoredDelivery, number: u32, mode: Mode) -> Replay {
        let d = &stored.delivery;
        Replay {
            id: d.id.clone(),
            number,
            url: d.url.clone(),
            scheme: stored.verdict.scheme.clone(),
            request: Request {
                method: d.method.clone(),
                path: d.path.clone(),
                query: d.query.clone(),
                headers: d.headers.clone(),
                body: d.body.clone(),
            },
            mode,
            target: None,
        }
    }
}

/// A replay that was not made: nothing was sent or recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReplayed {
    /// Re-signing needs the scheme's secret; the message says which
    /// `--secret` would do.
    #[error("not re-signed: {0}")]
    NotResigned(String),
    /// A retry's attempt number cannot be written (a body field in a body
    /// that is not a JSON object).
    #[error("not retried: {0}")]
    NotNumbered(String),
}

/// A replay made: its attempt, and whether the history saved it.
#[derive(Debug)]
pub struct Replayed {
    pub attempt: Attempt,
    pub saved: Result<(), String>,
}

/// What a replay needs (cheap to clone).
#[derive(Clone)]
pub struct Replayer {
    pub forwarder: Forwarder,
    pub verifier: Arc<Verifier>,
    /// Where the attempt is recorded; `None` when there is no history.
    pub history: Option<Arc<History>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Replayer {
    /// Sends the replay, records its attempt (with what was sent and its
    /// verdict, when that differs from the delivery) and returns it. A
    /// re-signing without a secret sends and records nothing.
    pub async fn replay(&self, replay: Replay) -> Result<Replayed, NotReplayed> {
        let started_ms = now_ms();
        let now_s = (started_ms / 1000) as i64;
        let kind = replay.mode.kind();
        // Bodies are `Bytes`: the copy shares the buffer.
        let mut request = match &replay.mode {
            Mode::Edited(edited) => edited.clone(),
            Mode::AsIs | Mode::Resigned | Mode::Retry { .. } => replay.request.clone(),
        };
        if let Mode::Retry {
            at: Some(at),
            attempt,
        } = &replay.mode
        {
            number_attempt(&mut request, at, *attempt).map_err(NotReplayed::NotNumbered)?;
        }
        match kind {
            Kind::Resigned => resign::resign(&replay, &mut request, &self.verifier, now_s)
                .map_err(NotReplayed::NotResigned)?,
            // A provider signs every retry afresh; without its secret the
            // retry goes as stored (its verdict, recorded below, says so).
            Kind::Retry => {
                let _ = resign::resign(&replay, &mut request, &self.verifier, now_s);
            }
            _ => {}
        }
        let parts = Parts {
            id: &replay.id,
            method: &request.method,
            path: &request.path,
            query: request.query.as_deref(),
            headers: &request.headers,
            body: &request.body,
        };
        let started = Instant::now();
        let routed = replay
            .target
            .as_ref()
            .map(|target| self.forwarder.to(target));
        let forwarder = routed.as_ref().unwrap_or(&self.forwarder);
        let result = match outgoing::build_parts(forwarder.target(), parts) {
            Err(malformed) => Err(malformed.failure(&replay.id)),
            Ok(outgoing) => forwarder.send(&replay.id, outgoing, usize::MAX).await,
        };
        let mut attempt = Attempt {
            duration_ms: Some(started.elapsed().as_millis() as u64),
            target: Some(forwarder.target().to_string()),
            ..Attempt::new(kind, replay.number, started_ms, Outcome::of(&result))
        };
        // What was sent verifies differently after re-signing or editing.
        if kind != Kind::Replay {
            attempt.sent(&request.headers, &request.body);
            attempt.verdict = Some(self.verifier.check_parts(
                &request.method,
                &replay.url,
                &request.headers,
                &request.body,
                now_s,
            ));
        }
        let saved = match self.history.clone() {
            None => Ok(()),
            Some(history) => {
                let (id, copy) = (replay.id.clone(), attempt.clone());
                tokio::task::spawn_blocking(move || history.record_attempt(&id, &copy))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            }
        };
        Ok(Replayed { attempt, saved })
    }
}

/// `request` carrying `attempt` where the provider numbers attempts.
fn number_attempt(
    request: &mut Request,
    at: &hookhole_shared::webhook::FieldSource,
    attempt: u32,
) -> Result<(), String> {
    let mut body = request.body.to_vec();
    crate::webhook::attempt_number::write(&mut request.headers, &mut body, at, attempt)?;
    request.body = Bytes::from(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Keep;
    use hookhole_shared::protocol::Delivery;
    use hookhole_shared::signature::{Registry, Status, Verdict};

    /// A history holding one stripe delivery answered `201`.
    fn answered_history(dir: &std::path::Path) -> Arc<History> {
        let history = History::open(dir, Keep::count_only(10)).unwrap();
        let delivery = Delivery {
            id: "d1".into(),
            seq: 1,
            received_at_ms: 1_000,
            method: "POST".into(),
            path: "/hook".into(),
            query: None,
            headers: vec![Header::new("stripe-signature", "t=1,v1=00")],
            body_blake3: String::new(),
            url: "https://relay/ch/hook".into(),
            queued: false,
            answered: false,
            body: Bytes::from_static(b"{}"),
        };
        let verdict = Verdict {
            scheme: Some("stripe".into()),
            status: Status::Expired,
            ..crate::history::store::unverified()
        };
        history.record_delivery("ch", &delivery, &verdict).unwrap();
        let answered = Outcome::Answered {
            status: 201,
            headers: Vec::new(),
            body: Bytes::new(),
        };
        history
            .record_attempt("d1", &Attempt::new(Kind::Original, 1, 1_000, answered))
            .unwrap();
        Arc::new(history)
    }

    #[tokio::test]
    async fn resigning_without_a_secret_sends_and_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let history = answered_history(dir.path());
        let before = history.get("d1").unwrap();
        // Port 9 on loopback: nothing may be sent there anyway.
        let target = crate::target::Target::parse("9").unwrap();
        let replayer = Replayer {
            forwarder: Forwarder::new(target, std::time::Duration::from_secs(1), 1024),
            verifier: Arc::new(Verifier {
                registry: Registry::builtin(),
                secrets: Vec::new(),
            }),
            history: Some(history.clone()),
        };
        let replay = Replay::of(&before, 2, Mode::Resigned);
        let refused = replayer.replay(replay).await.unwrap_err();
        assert!(
            refused.to_string().contains("--secret stripe="),
            "{refused}"
        );
        assert_eq!(history.get("d1").unwrap(), before, "nothing recorded");
        assert!(
            history.summaries_of(10, true).unwrap().is_empty(),
            "not failed"
        );
    }
}
