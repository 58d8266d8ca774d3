//! What the engine reports: one value per event, printed as one JSON line in
//! headless mode (and later drawn by the terminal UI).
//!
//! Field names are a public interface: add fields, never rename them.

use hookhole_shared::protocol::{Answer, Delivery, Failure, Response};
use hookhole_shared::signature::Verdict;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Connected for the first time: the URL to paste into the provider.
    Ready {
        public_url: String,
        channel: String,
        listeners: u32,
        forward: String,
        /// The relay connected to (its URL without credentials).
        relay: String,
        /// The answer mode in force on the channel (the strictest its
        /// clients ask for; `local` where the relay cannot apply another).
        answer: Answer,
    },
    /// One attempt at forwarding a delivery to the local server (boxed: it
    /// is much larger than the other events).
    Delivery(Box<DeliveryEvent>),
    /// The number of clients on the channel changed, and with it maybe the
    /// answer mode in force.
    Listeners { count: u32, answer: Answer },
    /// The link to the relay changed state.
    Connection(ConnectionEvent),
    /// A provider retry played by hookhole (`listen --retries`, the UI's
    /// `p`): a `delivery` line like the first attempt's, with the attempt's
    /// `kind` (`retry`).
    #[serde(rename = "delivery")]
    Retried(Box<RetriedEvent>),
    /// The next provider retry of a delivery is due in `in_ms`.
    RetryScheduled {
        id: String,
        /// The number the retry's attempt will have in the history.
        attempt: u32,
        /// The attempt number the provider would send (`Malomo-Attempt-Number`).
        provider_attempt: u32,
        in_ms: u64,
    },
    /// The provider's retries of a delivery ended: `why`, and what the
    /// provider does then.
    RetriesEnded {
        id: String,
        why: crate::retries::Ended,
        /// Attempts the provider would have made, the first included.
        provider_attempts: u32,
        message: String,
        /// What the provider does after its last attempt, when documented
        /// and the schedule ran out.
        #[serde(skip_serializing_if = "Option::is_none")]
        then: Option<String>,
    },
    /// The relay's heartbeat arrived: the link is alive (terminal UI only;
    /// never printed as a JSON line).
    Heartbeat,
}

/// A whole exchange: the request as it arrived, what the local server
/// did with it, and what the sender heard. Carried to the history's writer
/// and the terminal UI, not printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub delivery: Delivery,
    pub outcome: Result<Response, Failure>,
    pub heard: crate::delivery::SenderHeard,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryEvent {
    pub id: String,
    pub seq: u64,
    pub attempt: u32,
    pub method: String,
    /// Path after the channel (`/` when the webhook URL had none).
    pub path: String,
    pub query: Option<String>,
    /// The local server's status code; `None` when it could not be reached.
    pub status: Option<u16>,
    /// Why there is no status (`local_unreachable: ...`).
    pub error: Option<String>,
    pub duration_ms: u64,
    pub body_bytes: usize,
    /// Whether the signature verifies: `scheme`, `status`, `reason`, and
    /// when known the matching secret (masked) and timestamp age.
    pub signature: Verdict,
    /// What the delivery said about itself as a webhook (provider, event
    /// type and id, attempt), whether its event arrived before, and its
    /// provider's deadline and next step; absent without a provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook::Webhook>,
    /// The route that took the delivery: its name, else its number;
    /// absent when none did (it went to `--forward`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<crate::route::Label>,
    /// What the sender heard, when the relay answered it itself
    /// (`{"status":202,"by":"relay","why":"queued"}`); absent when it heard
    /// the local answer (`status`, `error`).
    #[serde(skip_serializing_if = "crate::delivery::SenderHeard::is_local")]
    pub sender_heard: crate::delivery::SenderHeard,
    /// The local server it was sent to (`None`: a route answered it).
    #[serde(skip)]
    pub target: Option<String>,
    #[serde(skip)]
    pub exchange: Option<Arc<Exchange>>,
}

/// A retry's `delivery` line: the fields of the first attempt's, then the
/// attempt's kind. The attempt itself goes to the terminal UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetriedEvent {
    #[serde(flatten)]
    pub delivery: DeliveryEvent,
    pub kind: crate::delivery::Kind,
    #[serde(skip)]
    pub made: crate::delivery::Attempt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Connected again after a loss.
    Connected,
    /// Lost or not yet made; retrying after `retry_in_ms`.
    Reconnecting,
    /// The relay refused us for good (wrong version, bad channel): not retrying.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionEvent {
    pub state: LinkState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<u32>,
    /// The relay this is about (its URL without credentials): the one
    /// connected to, the one lost or unreachable, the one that refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    /// Reconnecting: the relay the next attempt goes to (another one when
    /// several are configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_relay: Option<String>,
    /// Connected: the URL to send webhooks to, as this relay gives it (it
    /// may differ from the last relay's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Connected: the answer mode in force on the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

impl Event {
    /// The URL to send webhooks to, when this event gives one: the first
    /// connection, and every later one (the relay connected to says).
    pub fn public_url(&self) -> Option<&str> {
        match self {
            Event::Ready { public_url, .. } => Some(public_url),
            Event::Connection(c) => c.public_url.as_deref(),
            _ => None,
        }
    }

    /// The event as one line of JSON (no newline), with the characters a
    /// terminal would obey escaped (`hookhole_shared::printable`): paths,
    /// header-derived reasons and errors come from the sender or the relay.
    pub fn to_json_line(&self) -> String {
        // Plain strings and numbers: serialising cannot fail.
        hookhole_shared::printable::to_json(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::signature::Status;

    #[test]
    fn delivery_line_has_the_documented_shape() {
        let event = Event::Delivery(Box::new(DeliveryEvent {
            id: "abc".into(),
            seq: 4,
            attempt: 1,
            method: "POST".into(),
            path: "/x/y".into(),
            query: Some("q=1".into()),
            status: None,
            error: Some("local_unreachable: connection refused".into()),
            duration_ms: 3,
            body_bytes: 123,
            signature: Verdict {
                scheme: Some("stripe".into()),
                status: Status::Expired,
                reason: "signature matches but the timestamp is 600 s old (tolerance 300 s)".into(),
                secret: Some("secret 1 of 1, whsec_…5e2".into()),
                timestamp_age_s: Some(600),
                candidates: vec!["stripe".into()],
            },
            webhook: None,
            route: None,
            sender_heard: crate::delivery::SenderHeard::Local,
            target: None,
            exchange: None,
        }));
        assert_eq!(
            event.to_json_line(),
            r#"{"event":"delivery","id":"abc","seq":4,"attempt":1,"method":"POST","path":"/x/y","query":"q=1","status":null,"error":"local_unreachable: connection refused","duration_ms":3,"body_bytes":123,"signature":{"scheme":"stripe","status":"expired","reason":"signature matches but the timestamp is 600 s old (tolerance 300 s)","secret":"secret 1 of 1, whsec_…5e2","timestamp_age_s":600,"candidates":["stripe"]}}"#
        );
    }

    /// `sender_heard` is there only when the relay answered the sender
    /// itself; `status` stays the local server's.
    #[test]
    fn a_delivery_the_relay_answered_says_what_the_sender_heard() {
        let event = Event::Delivery(Box::new(DeliveryEvent {
            id: "abc".into(),
            seq: 4,
            attempt: 1,
            method: "POST".into(),
            path: "/".into(),
            query: None,
            status: Some(500),
            error: None,
            duration_ms: 1000,
            body_bytes: 2,
            signature: crate::history::store::unverified(),
            webhook: None,
            route: None,
            sender_heard: crate::delivery::SenderHeard::Relay {
                status: 202,
                why: crate::delivery::RelayAnswered::AnswerWithin { wait_ms: Some(300) },
            },
            target: None,
            exchange: None,
        }));
        let line: serde_json::Value = serde_json::from_str(&event.to_json_line()).unwrap();
        assert_eq!(line["status"], 500);
        assert_eq!(
            line["sender_heard"],
            serde_json::json!({"status": 202, "by": "relay", "why": "answer_within", "wait_ms": 300})
        );
    }

    #[test]
    fn hidden_characters_are_escaped_and_the_line_stays_json() {
        let event = Event::Connection(ConnectionEvent {
            state: LinkState::Reconnecting,
            reason: Some("bye\x1b]0;t\x07\u{9b}2J\u{202e}\u{2028}".into()),
            retry_in_ms: None,
            listeners: None,
            relay: None,
            next_relay: None,
            public_url: None,
            answer: None,
        });
        let line = event.to_json_line();
        assert_eq!(
            line,
            r#"{"event":"connection","state":"reconnecting","reason":"bye\u001b]0;t\u0007\u009b2J\u202e\u2028"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["reason"], "bye\x1b]0;t\x07\u{9b}2J\u{202e}\u{2028}");
    }

    #[test]
    fn ready_and_connection_lines() {
        let ready = Event::Ready {
            public_url: "http://127.0.0.1:8080/dev".into(),
            channel: "dev".into(),
            listeners: 1,
            forward: "http://127.0.0.1:3000".into(),
            relay: "http://127.0.0.1:8080".into(),
            answer: Answer::NOW,
        };
        assert_eq!(
            ready.to_json_line(),
            r#"{"event":"ready","public_url":"http://127.0.0.1:8080/dev","channel":"dev","listeners":1,"forward":"http://127.0.0.1:3000","relay":"http://127.0.0.1:8080","answer":"now"}"#
        );
        let listeners = Event::Listeners {
            count: 2,
            answer: Answer::Local,
        };
        assert_eq!(
            listeners.to_json_line(),
            r#"{"event":"listeners","count":2,"answer":"local"}"#
        );
        let lost = Event::Connection(ConnectionEvent {
            state: LinkState::Reconnecting,
            reason: Some("the relay went away: relay shutting down".into()),
            retry_in_ms: Some(0),
            listeners: None,
            relay: Some("https://a.example.com".into()),
            next_relay: Some("https://b.example.com".into()),
            public_url: None,
            answer: None,
        });
        assert_eq!(
            lost.to_json_line(),
            r#"{"event":"connection","state":"reconnecting","reason":"the relay went away: relay shutting down","retry_in_ms":0,"relay":"https://a.example.com","next_relay":"https://b.example.com"}"#
        );
        let moved = Event::Connection(ConnectionEvent {
            state: LinkState::Connected,
            reason: None,
            retry_in_ms: None,
            listeners: Some(1),
            relay: Some("https://b.example.com".into()),
            next_relay: None,
            public_url: Some("https://hooks.example.com/dev".into()),
            answer: None,
        });
        assert_eq!(
            moved.to_json_line(),
            r#"{"event":"connection","state":"connected","listeners":1,"relay":"https://b.example.com","public_url":"https://hooks.example.com/dev"}"#
        );
    }
}
