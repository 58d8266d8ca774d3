//! What the terminal UI knows about one delivery: the request as it
//! arrived, its signature verdict, and every attempt at forwarding it.

use crate::delivery::attempt::failure_code;
use crate::delivery::{Attempt, Kind, Outcome};
use crate::events::{DeliveryEvent, Exchange};
use crate::webhook::Webhook;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::FailureCode;
use hookhole_shared::signature::{Registry, Verdict};

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
    /// Provider, event type and id, duplicate, deadline and next step.
    pub webhook: Option<Webhook>,
    /// The route that took it (`None`: it went to `--forward`).
    pub route: Option<crate::route::Label>,
    /// What its sender heard: the local answer, or the relay's own.
    pub heard: crate::delivery::SenderHeard,
}

impl Record {
    /// The bytes of bodies this record holds: the request's and every
    /// answer's.
    pub fn held_bytes(&self) -> usize {
        self.body.len() + self.attempts.iter().map(Attempt::held_bytes).sum::<usize>()
    }

    /// A record from the engine's delivery event (its full exchange, or
    /// just the summary when the exchange is not attached).
    pub fn from_event(event: &DeliveryEvent) -> Record {
        let (url, headers, body, outcome) = match event.exchange.as_deref() {
            Some(Exchange {
                delivery, outcome, ..
            }) => (
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
                    (Some(status), _) => Outcome::Answered {
                        status,
                        headers: Vec::new(),
                        body: Bytes::new(),
                    },
                    // `code: message`, as the engine wrote it.
                    (None, error) => {
                        let error = error.as_deref().unwrap_or_default();
                        let (code, message) = error.split_once(": ").unwrap_or(("", error));
                        Outcome::Failed {
                            code: failure_code(code).unwrap_or(FailureCode::LocalError),
                            message: message.to_string(),
                        }
                    }
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
                duration_ms: Some(event.duration_ms),
                target: event.target.clone(),
                ..Attempt::new(Kind::Original, 1, received_at_ms, outcome)
            }],
            webhook: event.webhook.clone(),
            route: event.route.clone(),
            heard: event.sender_heard,
        }
    }

    /// A record from the history (deliveries of earlier runs); `registry`
    /// judges its webhook facts.
    pub fn from_stored(stored: &crate::history::StoredDelivery, registry: &Registry) -> Record {
        let d = &stored.delivery;
        Record {
            id: d.id.clone(),
            seq: d.seq,
            received_at_ms: d.received_at_ms,
            method: d.method.clone(),
            path: crate::delivery::shown_path(&d.path).to_string(),
            query: d.query.clone(),
            url: d.url.clone(),
            headers: d.headers.clone(),
            body: d.body.clone(),
            verdict: stored.verdict.clone(),
            attempts: stored.attempts.clone(),
            webhook: stored.webhook(registry),
            route: stored.route.clone(),
            heard: stored.heard,
        }
    }

    /// Where a replay goes when a route sent the delivery elsewhere: the
    /// target of its first attempt; `None` (the listener's `--forward`)
    /// when no route took it or the route answered it.
    pub fn route_target(&self) -> Option<crate::target::Target> {
        self.route.as_ref()?;
        let first = self.attempts.iter().find(|a| a.kind == Kind::Original)?;
        crate::target::Target::parse(first.target.as_deref()?).ok()
    }

    /// The parts a replay sends, as they arrived.
    pub fn request(&self) -> crate::replay::Request {
        crate::replay::Request {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// For the `f` filter: see [`crate::delivery::failed`].
    pub fn failed(&self) -> bool {
        crate::delivery::failed(&self.attempts, &self.verdict)
    }

    /// The header value, for display.
    pub fn header(&self, name: &str) -> Option<String> {
        hookhole_shared::headers::get(&self.headers, name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}
