//! Answer modes: answering a sender before the local answer comes, without
//! losing the delivery.
//!
//! A channel's mode is the strictest its clients ask for in their hellos
//! ([`Answer::strictest`]). The relay answers early only once the delivery
//! is committed to its offline buffer (the store that keeps deliveries for
//! absent clients, `synchronous=FULL`), where it stays until a client has
//! saved it:
//!
//! - `now`: stored, answered, then sent to the clients marked `answered`;
//!   a client forwards it, saves it, and acknowledges it, which frees the
//!   stored copy.
//! - `within`: sent as usual; if no answer came in time, stored, answered
//!   `202`, and the client's answer when it comes (sent only after the
//!   client saved the delivery, even past the sender's response timeout)
//!   frees the stored copy.
//!
//! Either way the relay tells those clients it answered the sender itself
//! ([`RelayMessage::Answered`], with the status it sent), so their
//! history records what the sender heard rather than the local answer.
//!
//! A client that dies in between leaves the stored copy, which the relay
//! sends (as a queued delivery) to the next client that connects; one that
//! had saved it already acknowledges it without forwarding it again.
//!
//! Without a buffer (`--offline reject`, no data dir) nothing can be kept:
//! such a relay applies `local`, and says so to clients.
//!
//! In a cluster each node keeps the copies it hands to its own clients: the
//! mode in force is the strictest of this node's clients and of the other
//! nodes' (each node tells its own in the census), and the node holding the
//! clients applies it, whether the webhook arrived here or at another node
//! (which passes on the early answer like any other answer).

use crate::hub::{Listener, Outcome, Reply, first_reply};
use crate::state::RelayState;
use bytes::Bytes;
use hookhole_shared::protocol::{Answer, Message as _, RelayMessage, Response, Wire};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The mode in force for `channel`, whose clients on this node are
/// `listeners`, as applied (a `within` no sooner than the response timeout
/// is `local`): the strictest of theirs and, in a cluster, of the modes the
/// other nodes holding the channel told ([`here`] on each).
pub fn in_force(state: &RelayState, channel: &str, listeners: &[Arc<Listener>]) -> Answer {
    let elsewhere = state
        .cluster
        .as_ref()
        .map(|cluster| cluster.answers_elsewhere(channel))
        .unwrap_or_default();
    applied(
        state,
        Answer::strictest([here(state, listeners)].into_iter().chain(elsewhere)),
    )
}

/// The mode this node's own clients of a channel ask for, as this node can
/// apply it: `local` without a buffer to keep early-answered deliveries.
pub fn here(state: &RelayState, listeners: &[Arc<Listener>]) -> Answer {
    if state.buffer.is_none() {
        return Answer::Local;
    }
    applied(state, Answer::strictest(listeners.iter().map(|l| l.answer)))
}

fn applied(state: &RelayState, mode: Answer) -> Answer {
    match mode {
        Answer::Within { .. } if early_wait(mode, state.config.response_timeout).is_none() => {
            Answer::Local
        }
        mode => mode,
    }
}

/// How long a sender waits for the local answer before `within` answers
/// `202`, when that is sooner than the relay's response timeout.
pub fn early_wait(mode: Answer, timeout: std::time::Duration) -> Option<std::time::Duration> {
    match mode {
        Answer::Within { wait_ms } => {
            Some(std::time::Duration::from_millis(wait_ms)).filter(|wait| *wait < timeout)
        }
        _ => None,
    }
}

/// The same delivery, marked as answered already (answer mode `now`).
pub fn answered(message: &RelayMessage) -> RelayMessage {
    let mut message = message.clone();
    if let RelayMessage::Delivery(d) = &mut message {
        d.answered = true;
    }
    message
}

/// Waits for the listeners' first reply; under `within`, only until
/// `early`: past it, the receiver is handed back for [`late`].
pub async fn first_or_late(
    early: Option<Instant>,
    mut rx: mpsc::Receiver<Reply>,
) -> Result<Outcome, mpsc::Receiver<Reply>> {
    match early {
        Some(at) => match tokio::time::timeout_at(at, first_reply(&mut rx)).await {
            Ok(outcome) => Ok(outcome),
            Err(_) => Err(rx),
        },
        None => Ok(first_reply(&mut rx).await),
    }
}

/// The early answer: `status`, with what was kept (no body where the
/// status forbids one). A protocol response, as a client's answer is: a
/// node answering early for a webhook another node took replies with it.
fn accepted(status: u16, id: &str) -> Response {
    let (headers, body) = if matches!(status, 204 | 205) {
        (Vec::new(), Bytes::new())
    } else {
        let body = serde_json::json!({ "accepted": true, "id": id }).to_string();
        (crate::error::json_headers(), Bytes::from(body))
    };
    Response {
        id: id.to_string(),
        status,
        headers,
        body,
    }
}

/// `now`: keeps the delivery (`stored`, its queued frame), then answers
/// `status` and sends `live` (its `answered` frame) to `listeners`, each
/// followed by the notice of the status.
/// `None` when it cannot be kept: the caller answers as `local` does.
pub async fn now(
    state: &RelayState,
    channel: &str,
    (seq, id): (u64, &str),
    (stored, live): (Bytes, Bytes),
    listeners: &[Arc<Listener>],
    status: u16,
) -> Option<Response> {
    let writer = state.buffer.as_ref()?;
    if let Err(e) = writer.push(channel, seq, id, stored).await {
        tracing::warn!(%channel, %id, "answer mode now: cannot keep the delivery ({e}); waiting for the local answer");
        return None;
    }
    state.metrics.count_delivered();
    let listeners = listeners.to_vec();
    let notice = answered_notice(id, status, None);
    // The sender need not wait for a client's outbox (a client under load
    // makes room slowly); the kept copy covers a client that never gets it.
    // The notice goes right behind the delivery, on the same ordered link.
    tokio::spawn(async move {
        let message = Message::Binary(live);
        for listener in &listeners {
            listener.send(message.clone()).await;
            listener.send(notice.clone()).await;
        }
    });
    Some(accepted(status, id))
}

/// Tells a client that the relay answered delivery `id`'s sender itself
/// with `status` (after `wait_ms` under `within`).
fn answered_notice(id: &str, status: u16, wait_ms: Option<u64>) -> Message {
    let notice = RelayMessage::Answered {
        id: id.to_string(),
        status,
        wait_ms,
    };
    match notice.encode() {
        Wire::Text(text) => Message::text(text),
        Wire::Binary(bytes) => Message::Binary(bytes.into()),
    }
}

/// How long the relay waits, after a `within` answer, for the client's
/// answer that frees the kept copy. A client answers within its forward
/// timeout (30 s by default), often later than the sender's response
/// timeout; past this bound the copy waits for the client's next
/// connection, where it is acknowledged as saved.
const LATE_ANSWER_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// `within` (`mode`), when the wait is over: keeps the delivery (`stored`,
/// its queued frame), answers `202` and tells the clients so; the local exchange goes on, and the client's
/// answer (sent after it saved the delivery) frees the kept copy.
/// `Err(rx)` when it cannot be kept: the caller waits on as `local` does.
pub async fn late(
    state: &RelayState,
    channel: &str,
    (seq, id): (u64, &str),
    (stored, mode): (Bytes, Answer),
    listeners: &[Arc<Listener>],
    mut rx: mpsc::Receiver<Reply>,
) -> Result<Response, mpsc::Receiver<Reply>> {
    let Some(writer) = &state.buffer else {
        return Err(rx);
    };
    if let Err(e) = writer.push(channel, seq, id, stored).await {
        tracing::warn!(%channel, %id, "answer mode within: cannot keep the delivery ({e}); waiting for the local answer");
        return Err(rx);
    }
    state.metrics.count_delivered();
    let wait_ms = match mode {
        Answer::Within { wait_ms } => Some(wait_ms),
        _ => None,
    };
    let notice = answered_notice(id, 202, wait_ms);
    let (writer, channel, listeners) = (writer.clone(), channel.to_string(), listeners.to_vec());
    let key = id.to_string();
    tokio::spawn(async move {
        for listener in &listeners {
            listener.send(notice.clone()).await;
        }
        let outcome = tokio::time::timeout(LATE_ANSWER_LIMIT, first_reply(&mut rx)).await;
        for listener in &listeners {
            listener.forget(&key);
        }
        match outcome {
            // Either reply comes only after the client saved the delivery.
            Ok(Outcome::Answered(_) | Outcome::Failed(_)) => writer.ack(&channel, vec![seq]),
            _ => {
                tracing::info!(%channel, id = %key, "no answer from a client: kept for the next one")
            }
        }
    });
    Ok(accepted(202, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_answers_early_only_before_the_response_timeout() {
        let timeout = std::time::Duration::from_secs(10);
        let within = |ms| Answer::Within { wait_ms: ms };
        assert_eq!(
            early_wait(within(1000), timeout),
            Some(std::time::Duration::from_secs(1))
        );
        assert_eq!(early_wait(within(10_000), timeout), None);
        assert_eq!(early_wait(Answer::Local, timeout), None);
        assert_eq!(early_wait(Answer::NOW, timeout), None);
    }

    #[test]
    fn a_no_content_answer_has_no_body() {
        let response = accepted(204, "d1");
        assert_eq!(response.status, 204);
        assert!(response.headers.is_empty() && response.body.is_empty());
        let response = accepted(202, "d1");
        assert_eq!(response.status, 202);
        assert!(response.headers.iter().any(|h| h.name == "content-type"));
    }
}
