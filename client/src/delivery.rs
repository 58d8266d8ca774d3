//! The client's one vocabulary for deliveries: the request as recorded, the
//! attempts at forwarding it, and the one rule for "failed".
//!
//! The history stores these types ([`crate::history`] maps them to columns,
//! checked both ways), the terminal UI shows them, and `history`, `show`,
//! `replay` and `export` read them.
//!
//! - [`attempt`]: an attempt, its [`Kind`] and its [`Outcome`].
//! - [`heard`]: what the sender heard back, the local answer or the relay's.

pub mod attempt;
pub mod heard;

pub use attempt::{Attempt, Kind, NotSent, Outcome};
pub use heard::{RelayAnswered, SenderHeard};

use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::{Registry, Status, Verdict};

/// A delivery as recorded: the request as it arrived, its signature verdict
/// and every attempt at it, oldest first, and its webhook facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    pub delivery: Delivery,
    pub channel: String,
    pub verdict: Verdict,
    pub attempts: Vec<Attempt>,
    /// `None` without a provider, and in histories from before issue 19.
    pub webhook: Option<crate::webhook::Recorded>,
    /// The route that took it; `None` when it went to `--forward`, and in
    /// histories from before issue 20.
    pub route: Option<crate::route::Label>,
    /// What its sender heard: the local answer in histories from before
    /// it was recorded.
    pub heard: SenderHeard,
}

/// The path after the channel as people, scripts and routes see it: `/`
/// for a webhook sent to the channel's bare URL (the wire has it empty),
/// as `--forward` appends it.
pub fn shown_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

impl StoredDelivery {
    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// See [`failed`].
    pub fn failed(&self) -> bool {
        failed(&self.attempts, &self.verdict)
    }

    /// The `webhook` object (`late` and the next step judged by what the
    /// sender heard: [`crate::webhook::provider_outcome`]), by the rules in
    /// `registry`.
    pub fn webhook(&self, registry: &Registry) -> Option<crate::webhook::Webhook> {
        let recorded = self.webhook.as_ref()?;
        let heard = crate::webhook::provider_outcome(self.heard, &self.attempts);
        Some(crate::webhook::Webhook::of(
            registry,
            recorded,
            heard.as_ref(),
        ))
    }

    /// Where the last attempt that recorded one was sent.
    pub fn last_target(&self) -> Option<&str> {
        self.attempts.iter().rev().find_map(|a| a.target.as_deref())
    }
}

/// The attempt that decides how a delivery went: the last one that was sent
/// (an attempt that was never sent says nothing about the delivery).
pub fn deciding(attempts: &[Attempt]) -> Option<&Attempt> {
    attempts.iter().rev().find(|a| a.outcome.failed().is_some())
}

/// The one rule for "failed", used by the UI's `f`, `history --failed`,
/// `replay --failed` and `export --failed`: the signature is invalid or
/// unreadable, or the deciding attempt failed ([`Outcome::failed`]), or no
/// attempt was ever sent (the local server never saw the delivery).
pub fn failed(attempts: &[Attempt], verdict: &Verdict) -> bool {
    matches!(verdict.status, Status::Invalid | Status::Malformed)
        || deciding(attempts)
            .and_then(|a| a.outcome.failed())
            .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hookhole_shared::protocol::FailureCode;

    fn attempt(number: u32, outcome: Outcome) -> Attempt {
        Attempt::new(Kind::Replay, number, 0, outcome)
    }

    fn answered(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn verdict(status: Status) -> Verdict {
        Verdict {
            status,
            ..crate::history::store::unverified()
        }
    }

    #[test]
    fn the_failed_rule_over_every_outcome() {
        let ok = verdict(Status::Valid);
        let cases = [
            (answered(200), false),
            (answered(299), false),
            (answered(199), true),
            (answered(301), true),
            (answered(500), true),
            (
                Outcome::Failed {
                    code: FailureCode::LocalUnreachable,
                    message: "refused".into(),
                },
                true,
            ),
            (Outcome::Interrupted, true),
            // Under way: not failed (yet).
            (Outcome::Pending, false),
            // Never sent, and nothing before it: the server never saw it.
            (
                Outcome::NotSent(NotSent::NotResigned("no secret".into())),
                true,
            ),
        ];
        for (outcome, want) in cases {
            let attempts = [attempt(1, outcome.clone())];
            assert_eq!(failed(&attempts, &ok), want, "{outcome:?}");
        }
    }

    #[test]
    fn an_attempt_never_sent_leaves_the_verdict_of_the_one_before() {
        let ok = verdict(Status::Valid);
        let not_sent = Outcome::NotSent(NotSent::NotResigned("no secret".into()));
        let attempts = [attempt(1, answered(201)), attempt(2, not_sent.clone())];
        assert!(!failed(&attempts, &ok), "201 then not re-signed");
        let attempts = [attempt(1, answered(502)), attempt(2, not_sent)];
        assert!(failed(&attempts, &ok), "502 then not re-signed");
    }

    #[test]
    fn no_attempt_or_a_bad_signature_is_failed() {
        assert!(failed(&[], &verdict(Status::Valid)), "never forwarded");
        let attempts = [attempt(1, answered(200))];
        for status in [Status::Invalid, Status::Malformed] {
            assert!(failed(&attempts, &verdict(status)), "{status:?}");
        }
        for status in [Status::Expired, Status::Unsigned, Status::NoSecret] {
            assert!(!failed(&attempts, &verdict(status)), "{status:?}");
        }
    }
}
