//! Webhooks kept for absent clients, in a JetStream stream.
//!
//! One stream, `HOOKHOLE_BUFFER`, with work-queue retention and a subject
//! per channel (`hh.v1.stored.{channel}`): a message goes once acknowledged.
//! Its limits are the relay's buffer limits: per channel by count (discard
//! new per subject), in all by count and bytes, and by age. Each message's
//! `Nats-Msg-Id` is the channel and delivery id, so a publish retried (or
//! moved again from an outbox) within the duplicate window is stored once.
//!
//! A node holding clients of a channel drains it through the channel's
//! durable pull consumer, one message at a time (`max_ack_pending` 1: in
//! order), acknowledging to JetStream only once a client saved it.

use super::live::ID_HEADER;
use super::{Cluster, ClusterError, ClusterMetrics, STORED, STREAM, subject};
use crate::buffer::{BufferError, Limits};
use crate::hub::Reply;
use crate::state::RelayState;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// How long JetStream waits for word on a stored delivery handed to a node
/// before it sends it again (to the next client of the channel): short, so
/// that one handed to a node that died is not held up long. A node whose
/// client is still working on it says so every [`PROGRESS`].
const ACK_WAIT: Duration = Duration::from_secs(10);
const PROGRESS: Duration = Duration::from_secs(3);
/// How long a client may take to save one stored delivery (forwarding it
/// to a slow local server included) before it goes to the next client.
const SAVE_WAIT: Duration = Duration::from_secs(300);
/// A channel's consumer that nobody used for this long is removed.
const CONSUMER_IDLE: Duration = Duration::from_secs(24 * 3600);
/// How long a retried publish is recognised as the same message.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Wait before draining again after NATS failed.
const RETRY: Duration = Duration::from_secs(1);

/// Why a webhook was not stored.
#[derive(Debug)]
pub enum StoreError {
    /// A limit refused it: the sender hears 429 or 507.
    Full(BufferError),
    /// NATS could not take it now: the relay's own outbox can.
    Unavailable(ClusterError),
}

pub async fn open(
    jetstream: &jetstream::Context,
    limits: &Limits,
) -> Result<stream::Stream, ClusterError> {
    let config = stream::Config {
        name: STREAM.to_string(),
        description: Some("hookhole: webhooks waiting for a client".into()),
        subjects: vec![format!("{STORED}.>")],
        retention: stream::RetentionPolicy::WorkQueue,
        discard: stream::DiscardPolicy::New,
        discard_new_per_subject: true,
        max_messages_per_subject: clamp(limits.count),
        max_messages: clamp(limits.total_count),
        max_bytes: clamp(limits.total_bytes),
        max_age: limits.age,
        duplicate_window: DUPLICATE_WINDOW,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    let mut stream = jetstream
        .get_or_create_stream(config.clone())
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot open the buffer stream: {e}")))?;
    // Made by another relay, or by this one with other flags: the limits
    // of the relay started last hold (all nodes should be given the same).
    let current = stream
        .info()
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot read the buffer stream: {e}")))?
        .config
        .clone();
    let limits_of = |c: &stream::Config| {
        (
            c.max_messages_per_subject,
            c.max_messages,
            c.max_bytes,
            c.max_age,
        )
    };
    if limits_of(&current) != limits_of(&config) {
        tracing::info!("the cluster's buffer stream takes this relay's buffer limits");
        jetstream
            .update_stream(stream::Config {
                max_messages_per_subject: config.max_messages_per_subject,
                max_messages: config.max_messages,
                max_bytes: config.max_bytes,
                max_age: config.max_age,
                ..current
            })
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot set the stream's limits: {e}")))?;
    }
    Ok(stream)
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a refusal from JetStream means for the sender. The server says it
/// in words only ("maximum messages per subject exceeded", ...).
fn refusal(error: &str, limits: &Limits) -> Option<BufferError> {
    let error = error.to_ascii_lowercase();
    if error.contains("per subject") {
        Some(BufferError::TooMany(limits.count))
    } else if error.contains("maximum messages") {
        Some(BufferError::RelayTooMany(limits.total_count))
    } else if error.contains("maximum bytes") || error.contains("insufficient resources") {
        Some(BufferError::RelayTooLarge(limits.total_bytes))
    } else {
        None
    }
}

impl Cluster {
    /// Stores a webhook for `channel`'s absent clients; ends once JetStream
    /// has it (a `202` may then go to the sender).
    pub async fn store_delivery(
        &self,
        channel: &str,
        id: &str,
        frame: Bytes,
    ) -> Result<(), StoreError> {
        let store = self.store().await.map_err(StoreError::Unavailable)?;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{channel}.{id}").as_str());
        headers.insert(ID_HEADER, id);
        let payload = store
            .bodies
            .pack(
                &format!("{id}.stored"),
                frame,
                &mut headers,
                super::bodies::Lifetime::Kept,
            )
            .await
            .map_err(StoreError::Unavailable)?;
        let acked = async {
            self.jetstream
                .publish_with_headers(subject(STORED, channel), headers, payload)
                .await?
                .await
        }
        .await;
        match acked {
            Ok(_) => {
                ClusterMetrics::count(&self.metrics.stored);
                Ok(())
            }
            Err(e) => {
                let text = format!("{e:#}");
                match refusal(&text, &self.buffer_limits) {
                    Some(full) => Err(StoreError::Full(full)),
                    None => Err(StoreError::Unavailable(ClusterError::Nats(text))),
                }
            }
        }
    }
}

/// Sends `channel`'s stored webhooks to this node's clients, in order, for
/// as long as the node holds the channel.
pub async fn drain(state: Arc<RelayState>, channel: String, stop: CancellationToken) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    while !stop.is_cancelled() {
        if let Err(e) = drain_once(&state, cluster, &channel, &stop).await {
            tracing::warn!(%channel, "stored deliveries: {e}; trying again");
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

/// One consumer session: until it fails or the node lets go.
async fn drain_once(
    state: &RelayState,
    cluster: &Cluster,
    channel: &str,
    stop: &CancellationToken,
) -> Result<(), ClusterError> {
    let store = cluster.store().await?;
    // Consumer names allow what channel names are made of.
    let durable = format!("channel-{channel}");
    let consumer: consumer::PullConsumer = store
        .stream
        .get_or_create_consumer(
            &durable,
            consumer::pull::Config {
                durable_name: Some(durable.clone()),
                filter_subject: subject(STORED, channel),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: 1,
                inactive_threshold: CONSUMER_IDLE,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot open the channel's consumer: {e}")))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| ClusterError::Nats(e.to_string()))?;
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            _ = stop.cancelled() => return Ok(()),
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Err(ClusterError::Nats(e.to_string())),
            None => return Err(ClusterError::Nats("the consumer ended".into())),
        };
        let saved = hand_over(state, cluster, channel, &message).await;
        let acked = if saved {
            message.double_ack().await
        } else {
            message.ack_with(AckKind::Nak(None)).await
        };
        if let Err(e) = acked {
            return Err(ClusterError::Nats(format!("cannot acknowledge: {e}")));
        }
        if saved {
            store.bodies.discard(message.headers.as_ref()).await;
        }
    }
}

/// Sends one stored webhook to a client of the channel here; true once the
/// client saved it.
async fn hand_over(
    state: &RelayState,
    cluster: &Cluster,
    channel: &str,
    message: &jetstream::Message,
) -> bool {
    let Some(id) = message
        .headers
        .as_ref()
        .and_then(|h| h.get(ID_HEADER))
        .map(|v| v.as_str().to_string())
    else {
        tracing::warn!(%channel, "a stored message without a delivery id: dropped");
        return true;
    };
    let Ok(store) = cluster.store().await else {
        return false;
    };
    let frame = match store
        .bodies
        .unpack(
            message.headers.as_ref(),
            message.payload.clone(),
            cluster.max_frame,
        )
        .await
    {
        // Stored by a protocol-1 relay, perhaps, before the upgrade.
        Ok(frame) => crate::frame_upgrade::current(frame),
        Err(e) => {
            tracing::warn!(%channel, %id, "cannot read a stored delivery: {e}");
            return false;
        }
    };
    // The longest-connected client takes the stored ones, as on one relay.
    let Some(listener) = state.hub.route(channel).and_then(|l| l.first().cloned()) else {
        return false;
    };
    let (tx, mut rx) = mpsc::channel(1);
    if !listener.deliver(&id, Message::Binary(frame), tx).await {
        return false;
    }
    let waiting = async {
        let mut progress = tokio::time::interval(PROGRESS);
        progress.tick().await;
        loop {
            tokio::select! {
                reply = rx.recv() => match reply {
                    Some(Reply::Saved) => return true,
                    Some(_) => {}
                    // The client left: the delivery goes to the next one.
                    None => return false,
                },
                _ = progress.tick() => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        }
    };
    let saved = tokio::time::timeout(SAVE_WAIT, waiting)
        .await
        .unwrap_or(false);
    listener.forget(&id);
    saved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_the_buffer_errors() {
        let limits = Limits::default();
        let case = |text: &str| refusal(text, &limits);
        assert!(matches!(
            case("maximum messages per subject exceeded"),
            Some(BufferError::TooMany(_))
        ));
        assert!(matches!(
            case("maximum messages exceeded"),
            Some(BufferError::RelayTooMany(_))
        ));
        assert!(matches!(
            case("maximum bytes exceeded"),
            Some(BufferError::RelayTooLarge(_))
        ));
        assert!(case("timed out: didn't receive ack in time").is_none());
    }
}
