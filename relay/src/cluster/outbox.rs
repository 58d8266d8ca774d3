//! The relay's own SQLite buffer as an outbox while NATS is away.
//!
//! A webhook for a channel with no client on this node, arriving while
//! NATS cannot be reached, is kept in the local buffer (and answered `202`
//! once committed, as on a relay of its own). When NATS is back, each is
//! published to the stream with the same message id (channel and delivery
//! id, so a move retried after a crash is stored once) and then released
//! locally. A channel with a client here is left alone: the client is sent
//! the local buffer on joining, as always.

use super::stored::StoreError;
use crate::state::RelayState;
use hookhole_shared::protocol::{Message as _, RelayMessage};
use std::sync::Arc;
use std::time::Duration;

/// How often the outbox is looked at while NATS is up (a webhook may have
/// been kept just as the link came back).
const SWEEP: Duration = Duration::from_secs(2);
/// Bytes read from the buffer at a time.
const PAGE_BYTES: u64 = 4 * 1024 * 1024;

/// Moves the outbox to JetStream whenever NATS is up, for the relay's life.
pub async fn run(state: Arc<RelayState>) {
    let (Some(cluster), Some(writer)) = (&state.cluster, &state.buffer) else {
        return;
    };
    loop {
        tokio::select! {
            _ = cluster.link.back.notified() => {}
            _ = tokio::time::sleep(SWEEP) => {}
            _ = cluster.stop.cancelled() => return,
        }
        if !cluster.is_up() {
            continue;
        }
        // Opens the stream and buckets if nothing did yet, so that a NATS
        // without JetStream shows in the health check before any webhook.
        if let Err(e) = cluster.store().await {
            tracing::warn!("cannot open the cluster's stream and buckets: {e}");
            continue;
        }
        for channel in writer.buffer().channels() {
            if state.hub.route(&channel).is_some() {
                continue;
            }
            if let Err(e) = move_channel(&state, &channel).await {
                tracing::warn!(%channel, "outbox: {e}; trying again later");
                break;
            }
        }
    }
}

/// Moves one channel's outbox to the stream, a page at a time.
async fn move_channel(state: &RelayState, channel: &str) -> Result<(), String> {
    let (Some(cluster), Some(writer)) = (&state.cluster, &state.buffer) else {
        return Ok(());
    };
    loop {
        let (buffer, name) = (writer.buffer().clone(), channel.to_string());
        let page = tokio::task::spawn_blocking(move || buffer.page(&name, None, PAGE_BYTES))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            return Ok(());
        }
        let mut moved = Vec::new();
        let mut result = Ok(());
        for (seq, frame) in page {
            let id = match RelayMessage::decode_binary(frame.clone()) {
                Ok(RelayMessage::Delivery(d)) => d.id,
                _ => {
                    tracing::warn!(%channel, seq, "outbox: not a delivery; dropped");
                    moved.push(seq);
                    continue;
                }
            };
            match cluster.store_delivery(channel, &id, frame).await {
                Ok(()) => {
                    super::ClusterMetrics::count(&cluster.metrics.moved);
                    moved.push(seq);
                }
                // The stream is full for it: it waits here, where a client
                // joining this node still gets it.
                Err(StoreError::Full(e)) => {
                    result = Err(format!("the stream refused it ({e})"));
                    break;
                }
                Err(StoreError::Unavailable(e)) => {
                    result = Err(e.to_string());
                    break;
                }
            }
        }
        let done = moved.len();
        writer.ack(channel, moved);
        writer.flush().await;
        if done > 0 {
            tracing::info!(%channel, count = done, "outbox: moved to the cluster's stream");
        }
        result?;
    }
}
