//! The channels this node holds clients of, seen from the other nodes.
//!
//! While a node has clients on a channel it subscribes to the channel's
//! subjects: `.live` deliveries from other nodes go to its clients and
//! their answer goes back as the reply; `.census` messages keep the
//! listener counts. It also drains the channel's stored webhooks.

use super::live::{ID_HEADER, LIVE_SUFFIX, NODE_HEADER, OUTCOME_HEADER};
use super::{Cluster, ClusterError, subject};
use crate::hub::Outcome;
use crate::state::RelayState;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use hookhole_shared::protocol::{ClientMessage, Message as _, Wire};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The channels this node holds clients of, each with the token that ends
/// its subscription.
#[derive(Default)]
pub struct Interest {
    channels: Mutex<HashMap<String, CancellationToken>>,
}

impl Interest {
    /// The channels held now.
    pub fn held(&self) -> Vec<String> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

impl Cluster {
    /// A client joined `channel` here: the first one makes this node take
    /// the channel's deliveries from other nodes and drain its stored ones.
    /// Ends once NATS knows of the subscription (when NATS is up), so that
    /// a client told it is connected gets webhooks sent to any node.
    pub async fn joined(state: &Arc<RelayState>, channel: &str) {
        let Some(cluster) = &state.cluster else {
            return;
        };
        let stop = {
            let mut channels = cluster
                .interest
                .channels
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if channels.contains_key(channel) {
                drop(channels);
                cluster.census.tell(state, channel, false);
                return;
            }
            let stop = cluster.stop.child_token();
            channels.insert(channel.to_string(), stop.clone());
            stop
        };
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        cluster.tasks.spawn(serve_channel(
            state.clone(),
            channel.to_string(),
            stop,
            subscribed,
        ));
        if cluster.is_up() {
            let _ = tokio::time::timeout(SUBSCRIBE_WAIT, ready).await;
        }
    }

    /// A client left `channel` here: after the last one, the node stops
    /// taking the channel's deliveries (NATS then answers "no responders"
    /// for it unless another node holds it).
    pub fn left(state: &Arc<RelayState>, channel: &str) {
        let Some(cluster) = &state.cluster else {
            return;
        };
        let mut channels = cluster
            .interest
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if state.hub.route(channel).is_some() {
            drop(channels);
            cluster.census.tell(state, channel, false);
            return;
        }
        if let Some(stop) = channels.remove(channel) {
            stop.cancel();
        }
    }
}

/// How long a joining client waits for its relay to subscribe to its
/// channel on NATS before it is welcomed anyway.
const SUBSCRIBE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Takes a channel's messages from other nodes while this node holds
/// clients of it; `subscribed` fires once NATS knows of the subscription.
async fn serve_channel(
    state: Arc<RelayState>,
    channel: String,
    stop: CancellationToken,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let subscription = cluster
        .client
        .subscribe(format!("{}.*", subject(super::CHANNEL, &channel)))
        .await;
    let mut subscriber = match subscription {
        Ok(subscriber) => subscriber,
        Err(e) => {
            tracing::error!(%channel, "cannot subscribe to the channel on NATS: {e}");
            return;
        }
    };
    // The server knows of the subscription before others are told (while
    // NATS is away this waits for it, or for the node to let go).
    tokio::select! {
        _ = cluster.client.flush() => {}
        _ = stop.cancelled() => return,
    }
    let _ = subscribed.send(());
    cluster.census.tell(&state, &channel, true);
    cluster.tasks.spawn(super::stored::drain(
        state.clone(),
        channel.clone(),
        stop.clone(),
    ));
    loop {
        tokio::select! {
            message = subscriber.next() => match message {
                Some(message) if message.subject.ends_with(LIVE_SUFFIX) => {
                    tokio::spawn(answer(state.clone(), channel.clone(), message));
                }
                Some(message) => cluster.census.receive(&state, &channel, &message),
                None => break,
            },
            _ = stop.cancelled() => break,
        }
    }
    let _ = subscriber.unsubscribe().await;
    cluster.census.tell(&state, &channel, false);
}

/// Hands a delivery from another node to this node's clients and replies
/// with their answer. A node whose clients all left says so; a node whose
/// clients did not answer in time says nothing (the asking node times out).
async fn answer(state: Arc<RelayState>, channel: String, message: async_nats::Message) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let Some(reply_to) = message.reply.clone() else {
        return;
    };
    let headers = message.headers.as_ref();
    let Some(id) = headers
        .and_then(|h| h.get(ID_HEADER))
        .map(|v| v.as_str().to_string())
    else {
        return;
    };
    let outcome = match deliver_here(&state, &channel, &id, &message).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(%channel, %id, "cannot take a delivery from another node: {e}");
            return;
        }
    };
    let (kind, wire) = match outcome {
        Some(Outcome::Answered(r)) => ("response", ClientMessage::Response(r).encode()),
        Some(Outcome::Failed(f)) => ("failed", ClientMessage::Failed(f).encode()),
        Some(Outcome::Gone) => ("gone", Wire::Text(String::new())),
        // No answer in time: the asking node's own timeout speaks.
        None => return,
    };
    let payload = match wire {
        Wire::Text(text) => Bytes::from(text),
        Wire::Binary(bytes) => Bytes::from(bytes),
    };
    let mut headers = HeaderMap::new();
    headers.insert(OUTCOME_HEADER, kind);
    headers.insert(NODE_HEADER, cluster.node());
    let Ok(store) = cluster.store().await else {
        return;
    };
    let name = format!("{id}.reply.{}", cluster.node());
    let payload = match store
        .bodies
        .pack(
            &name,
            payload,
            &mut headers,
            super::bodies::Lifetime::Passing,
        )
        .await
    {
        Ok(payload) => payload,
        Err(e) => {
            tracing::warn!(%channel, %id, "cannot reply to another node: {e}");
            return;
        }
    };
    if let Err(e) = cluster
        .client
        .publish_with_headers(reply_to, headers, payload)
        .await
    {
        tracing::warn!(%channel, %id, "cannot reply to another node: {e}");
    }
}

/// Sends the delivery to this node's clients of `channel` under the
/// channel's answer mode ([`super::early`]); their first good answer, the
/// early answer, every failure, or `None` after the response timeout.
async fn deliver_here(
    state: &RelayState,
    channel: &str,
    id: &str,
    message: &async_nats::Message,
) -> Result<Option<Outcome>, ClusterError> {
    let Some(cluster) = &state.cluster else {
        return Ok(None);
    };
    let Some(listeners) = state.hub.route(channel) else {
        return Ok(Some(Outcome::Gone));
    };
    let store = cluster.store().await?;
    let frame = store
        .bodies
        .unpack(
            message.headers.as_ref(),
            message.payload.clone(),
            cluster.max_frame,
        )
        .await?;
    Ok(super::early::deliver(state, channel, id, frame, &listeners).await)
}
