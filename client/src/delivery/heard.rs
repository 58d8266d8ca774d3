//! What the sender (the provider) heard back for a delivery: the local
//! answer, passed through by the relay, or the relay's own answer, given
//! before the local one (a queued delivery, answer modes `now` and
//! `within`). Recorded with each delivery; `late`, the provider's next
//! step and its retries are judged from it
//! ([`crate::webhook::provider_outcome`]), and `show`, the terminal UI and
//! the JSON lines show it.

use serde::ser::SerializeStruct as _;
use serde::{Serialize, Serializer};

/// What the sender of a delivery heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SenderHeard {
    /// The local answer (or the relay's error when there was none): what
    /// every delivery of a history from before answer modes heard.
    #[default]
    Local,
    /// `status` from the relay, which answered by itself.
    Relay { status: u16, why: RelayAnswered },
}

/// Why the relay answered a sender itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayAnswered {
    /// No client was connected: the relay kept the delivery (`202`).
    Queued,
    /// Answer mode `now`: as soon as the relay had kept it.
    AnswerNow,
    /// Answer mode `within`: the local answer did not come in `wait_ms`
    /// (`None`: the relay did not say how long it waited).
    AnswerWithin { wait_ms: Option<u64> },
}

impl RelayAnswered {
    /// The name in JSON, the history's record and its index.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayAnswered::Queued => "queued",
            RelayAnswered::AnswerNow => "answer_now",
            RelayAnswered::AnswerWithin { .. } => "answer_within",
        }
    }

    /// The reason named `name`, with the `within` wait; `None` for a name
    /// this build does not know.
    pub fn parse(name: &str, wait_ms: Option<u64>) -> Option<RelayAnswered> {
        match name {
            "queued" => Some(RelayAnswered::Queued),
            "answer_now" => Some(RelayAnswered::AnswerNow),
            "answer_within" => Some(RelayAnswered::AnswerWithin { wait_ms }),
            _ => None,
        }
    }

    /// The `within` wait, when the reason is `within` and it is known.
    pub fn wait_ms(self) -> Option<u64> {
        match self {
            RelayAnswered::AnswerWithin { wait_ms } => wait_ms,
            _ => None,
        }
    }

    fn describe(self) -> String {
        match self {
            RelayAnswered::Queued => "queued: no client was connected".to_string(),
            RelayAnswered::AnswerNow => "answer mode now".to_string(),
            RelayAnswered::AnswerWithin { wait_ms: Some(ms) } => {
                let wait = hookhole_shared::protocol::Answer::Within { wait_ms: ms };
                let after = wait.to_string();
                let after = after.strip_prefix("within=").unwrap_or(&after);
                format!("answer mode {wait}: the local answer came after {after}")
            }
            RelayAnswered::AnswerWithin { wait_ms: None } => {
                "answer mode within: the local answer did not come in time".to_string()
            }
        }
    }
}

impl SenderHeard {
    /// What a delivery's sender heard as far as the delivery frame says:
    /// the relay's `202` for a queued one, its answer under `now` for an
    /// answered one (`202` until its notice says which status), else the
    /// local answer.
    pub fn on_arrival(queued: bool, answered: bool) -> SenderHeard {
        let why = match (queued, answered) {
            (true, _) => RelayAnswered::Queued,
            (false, true) => RelayAnswered::AnswerNow,
            (false, false) => return SenderHeard::Local,
        };
        SenderHeard::Relay { status: 202, why }
    }

    pub fn is_local(&self) -> bool {
        *self == SenderHeard::Local
    }

    /// The relay's answer, for people (`show`, the UI's detail pane):
    /// `202 from the relay (queued: no client was connected)`; `None` for
    /// the local answer, which the attempts already show.
    pub fn describe(&self) -> Option<String> {
        match self {
            SenderHeard::Local => None,
            SenderHeard::Relay { status, why } => {
                Some(format!("{status} from the relay ({})", why.describe()))
            }
        }
    }
}

/// `{"status": 202, "by": "relay", "why": "queued"}` (and `wait_ms` under
/// `within` when known); `{"by": "local"}` for the local answer, which
/// outputs leave out instead (`skip_serializing_if = "SenderHeard::is_local"`).
impl Serialize for SenderHeard {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            SenderHeard::Local => {
                let mut out = serializer.serialize_struct("SenderHeard", 1)?;
                out.serialize_field("by", "local")?;
                out.end()
            }
            SenderHeard::Relay { status, why } => {
                let wait_ms = why.wait_ms();
                let fields = if wait_ms.is_some() { 4 } else { 3 };
                let mut out = serializer.serialize_struct("SenderHeard", fields)?;
                out.serialize_field("status", &status)?;
                out.serialize_field("by", "relay")?;
                out.serialize_field("why", why.as_str())?;
                if let Some(ms) = wait_ms {
                    out.serialize_field("wait_ms", &ms)?;
                }
                out.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_frame_says_what_the_relay_answered_on_arrival() {
        assert_eq!(SenderHeard::on_arrival(false, false), SenderHeard::Local);
        assert_eq!(
            SenderHeard::on_arrival(true, false),
            SenderHeard::Relay {
                status: 202,
                why: RelayAnswered::Queued
            }
        );
        // A copy the relay kept under `now` and resent to a later client
        // comes queued: kept for a client, as a queued one is.
        assert_eq!(
            SenderHeard::on_arrival(true, true),
            SenderHeard::on_arrival(true, false)
        );
        assert_eq!(
            SenderHeard::on_arrival(false, true),
            SenderHeard::Relay {
                status: 202,
                why: RelayAnswered::AnswerNow
            }
        );
    }

    #[test]
    fn json_and_words_for_each_reason() {
        let cases = [
            (
                RelayAnswered::Queued,
                r#"{"status":202,"by":"relay","why":"queued"}"#,
                "202 from the relay (queued: no client was connected)",
            ),
            (
                RelayAnswered::AnswerNow,
                r#"{"status":202,"by":"relay","why":"answer_now"}"#,
                "202 from the relay (answer mode now)",
            ),
            (
                RelayAnswered::AnswerWithin {
                    wait_ms: Some(1000),
                },
                r#"{"status":202,"by":"relay","why":"answer_within","wait_ms":1000}"#,
                "202 from the relay (answer mode within=1s: the local answer came after 1s)",
            ),
            (
                RelayAnswered::AnswerWithin { wait_ms: Some(300) },
                r#"{"status":202,"by":"relay","why":"answer_within","wait_ms":300}"#,
                "202 from the relay (answer mode within=300ms: the local answer came after 300ms)",
            ),
            (
                RelayAnswered::AnswerWithin { wait_ms: None },
                r#"{"status":202,"by":"relay","why":"answer_within"}"#,
                "202 from the relay (answer mode within: the local answer did not come in time)",
            ),
        ];
        for (why, json, words) in cases {
            let heard = SenderHeard::Relay { status: 202, why };
            assert_eq!(serde_json::to_string(&heard).unwrap(), json);
            assert_eq!(heard.describe().as_deref(), Some(words));
            assert_eq!(RelayAnswered::parse(why.as_str(), why.wait_ms()), Some(why));
        }
        assert_eq!(SenderHeard::Local.describe(), None);
        assert_eq!(RelayAnswered::parse("someday", None), None);
    }
}
