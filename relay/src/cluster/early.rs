//! Answer modes for webhooks another node took.
//!
//! The node a webhook arrives at passes it to the nodes holding the
//! channel (`live`) and answers its sender with the first reply. A holding
//! node applies the channel's mode to the copy it hands its own clients,
//! exactly as for a webhook that arrived here: it keeps the copy in its
//! buffer and replies with the early answer (`now` at once, `within` once
//! the wait is over), and its clients' acknowledgement or late answer frees
//! the copy. A copy whose clients all left goes to the cluster's stream
//! through the outbox, so a client on any node gets it.

use crate::hub::{Listener, Outcome, Reply, first_reply};
use crate::state::RelayState;
use bytes::Bytes;
use hookhole_shared::protocol::{Answer, Message as _, RelayMessage, Wire};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Hands `frame` (a delivery another node took) to this node's `listeners`
/// under the channel's answer mode; their first answer, the early answer,
/// every failure, or `None` after the response timeout.
pub async fn deliver(
    state: &RelayState,
    channel: &str,
    id: &str,
    frame: Bytes,
    listeners: &[Arc<Listener>],
) -> Option<Outcome> {
    let mode = crate::answer::in_force(state, channel, listeners);
    // Decoded only when a copy is kept: at once under `now`, under
    // `within` only once the wait is over.
    if let Answer::Now { status } = mode
        && let Some((seq, message)) = delivery_of(&frame)
    {
        let frames = (
            binary(&crate::ingest::queued(&message)),
            binary(&crate::answer::answered(&message)),
        );
        let early = crate::answer::now(state, channel, (seq, id), frames, listeners, status);
        if let Some(answer) = early.await {
            return Some(Outcome::Answered(answer));
        }
    }
    let timeout = state.config.response_timeout;
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel::<Reply>(listeners.len());
    let message = Message::Binary(frame.clone());
    for listener in listeners {
        listener.deliver(id, message.clone(), tx.clone()).await;
    }
    drop(tx);
    let early = crate::answer::early_wait(mode, timeout).map(|wait| deadline - timeout + wait);
    let outcome = match tokio::time::timeout_at(deadline, crate::answer::first_or_late(early, rx))
        .await
    {
        Ok(Ok(outcome)) => Some(outcome),
        Ok(Err(mut rx)) => {
            if let Some((seq, message)) = delivery_of(&frame) {
                let stored = binary(&crate::ingest::queued(&message));
                let late =
                    crate::answer::late(state, channel, (seq, id), (stored, mode), listeners, rx);
                match late.await {
                    // The listeners are forgotten once their answer came.
                    Ok(answer) => return Some(Outcome::Answered(answer)),
                    Err(back) => rx = back,
                }
            }
            tokio::time::timeout_at(deadline, first_reply(&mut rx))
                .await
                .ok()
        }
        Err(_) => None,
    };
    for listener in listeners {
        listener.forget(id);
    }
    outcome
}

impl super::Cluster {
    /// Sends a delivery to the other nodes holding `channel` without
    /// waiting for their answers: under an early answer mode each keeps and
    /// answers its own copy. The question is closed once they answered (or
    /// after `timeout`).
    pub fn pass_on(self: &Arc<Self>, channel: &str, id: &str, frame: Bytes, timeout: Duration) {
        if self.clients_elsewhere(channel) == 0 {
            return;
        }
        let (cluster, channel, id) = (self.clone(), channel.to_string(), id.to_string());
        tokio::spawn(async move {
            let (tx, mut rx) = mpsc::channel(crate::ingest::REMOTE_REPLIES);
            if let Some(asked) = cluster.ask(&channel, &id, frame, tx).await {
                let drained = async { while rx.recv().await.is_some() {} };
                let _ = tokio::time::timeout(timeout, drained).await;
                cluster.done(&id, asked);
            }
        });
    }
}

/// The delivery a frame holds, and its seq.
fn delivery_of(frame: &Bytes) -> Option<(u64, RelayMessage)> {
    let message = RelayMessage::decode_binary(frame.clone()).ok()?;
    let RelayMessage::Delivery(d) = &message else {
        return None;
    };
    Some((d.seq, message))
}

/// A relay message as one binary frame.
fn binary(message: &RelayMessage) -> Bytes {
    match message.encode() {
        Wire::Binary(bytes) => Bytes::from(bytes),
        Wire::Text(text) => Bytes::from(text),
    }
}
