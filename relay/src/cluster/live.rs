//! Live deliveries between nodes.
//!
//! A node with clients on a channel subscribes to `hh.v1.channel.{name}.*`
//! (a plain subscription, so every such node gets each webhook: fan-out)
//! and hands what arrives on `.live` to its clients. The node a webhook
//! arrives at publishes it there with a reply subject of its own and takes
//! the replies like its own clients' answers. NATS answers "no responders"
//! at once when no node holds the channel: the sign to store the webhook.

use super::{Cluster, ClusterError, ClusterMetrics, subject};
use crate::hub::{Outcome, Reply};
use crate::state::RelayState;
use async_nats::{HeaderMap, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use hookhole_shared::protocol::{ClientMessage, Message as _, Wire};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Headers of a delivery or a reply between nodes.
pub const ID_HEADER: &str = "Hookhole-Id";
const NODE_HEADER: &str = "Hookhole-Node";
const OUTCOME_HEADER: &str = "Hookhole-Outcome";

/// Suffixes of a channel's subjects.
pub const LIVE_SUFFIX: &str = "live";
pub const CENSUS_SUFFIX: &str = "census";

/// How long a large frame stays in the object store after its delivery was
/// decided, for nodes still reading it.
const FRAME_GRACE: Duration = Duration::from_secs(30);

/// A channel's subject with the given suffix.
pub fn channel_subject(channel: &str, suffix: &str) -> String {
    format!("{}.{suffix}", subject(super::CHANNEL, channel))
}

/// A delivery waiting for other nodes' replies.
struct Waiter {
    /// Dropped once no more replies are expected: the ingress then knows
    /// every answer is in.
    tx: Option<mpsc::Sender<Reply>>,
    /// Replies expected: the nodes the census knows hold the channel.
    expected: usize,
    heard: usize,
    nobody: Arc<AtomicBool>,
}

/// The deliveries this node asked other nodes about, by id.
pub struct Replies {
    /// This node's inbox prefix: replies arrive at `{prefix}.{id}`.
    prefix: String,
    waiting: Mutex<HashMap<String, Waiter>>,
    /// Taken by [`route_replies`] when the relay starts.
    subscriber: Mutex<Option<Subscriber>>,
}

impl Replies {
    pub async fn start(client: &async_nats::Client) -> anyhow::Result<Replies> {
        let prefix = client.new_inbox();
        let subscriber = client
            .subscribe(format!("{prefix}.*"))
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to NATS replies: {e}"))?;
        Ok(Replies {
            prefix,
            waiting: Mutex::new(HashMap::new()),
            subscriber: Mutex::new(Some(subscriber)),
        })
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<String, Waiter>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the ingress keeps of a question to the other nodes.
pub struct Asked {
    nobody: Arc<AtomicBool>,
    /// Names the object holding a large frame, to delete it afterwards.
    headers: HeaderMap,
}

impl Asked {
    /// Whether NATS said no node holds the channel.
    pub fn nobody(&self) -> bool {
        self.nobody.load(Ordering::Acquire)
    }
}

impl Cluster {
    /// Sends a live delivery to the other nodes holding `channel`; their
    /// clients' answers arrive on `tx` as [`Reply`]s, and `tx` is dropped
    /// once all are in. `None` when NATS is away (nobody else is asked).
    pub async fn ask(
        &self,
        channel: &str,
        id: &str,
        frame: Bytes,
        tx: mpsc::Sender<Reply>,
    ) -> Option<Asked> {
        let store = self.store().await.ok()?;
        let mut headers = HeaderMap::new();
        headers.insert(ID_HEADER, id);
        headers.insert(NODE_HEADER, self.node());
        let payload = match store
            .bodies
            .pack(&format!("{id}.live"), frame, &mut headers)
            .await
        {
            Ok(payload) => payload,
            Err(e) => {
                tracing::warn!(%channel, %id, "cannot send to other nodes: {e}");
                return None;
            }
        };
        let nobody = Arc::new(AtomicBool::new(false));
        self.replies.waiting().insert(
            id.to_string(),
            Waiter {
                tx: Some(tx),
                expected: self.census.nodes_elsewhere(channel).max(1),
                heard: 0,
                nobody: nobody.clone(),
            },
        );
        let reply = format!("{}.{id}", self.replies.prefix);
        let sent = self
            .client
            .publish_with_reply_and_headers(
                channel_subject(channel, LIVE_SUFFIX),
                reply,
                headers.clone(),
                payload,
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(%channel, %id, "cannot send to other nodes: {e}");
            self.replies.waiting().remove(id);
            return None;
        }
        Some(Asked { nobody, headers })
    }

    /// The delivery is decided: later replies are late, and a large frame
    /// may go once the other nodes had time to read it.
    pub fn done(self: &Arc<Self>, id: &str, asked: Asked) {
        self.replies.waiting().remove(id);
        if asked.headers.get("Hookhole-Object").is_some() {
            let cluster = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(FRAME_GRACE).await;
                if let Ok(store) = cluster.store().await {
                    store.bodies.discard(Some(&asked.headers)).await;
                }
            });
        }
    }

    /// Takes one reply from another node to a delivery asked about here.
    async fn take_reply(&self, message: async_nats::Message) {
        let Some(id) = message
            .subject
            .as_str()
            .rsplit('.')
            .next()
            .map(str::to_string)
        else {
            return;
        };
        if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            if let Some(waiter) = self.replies.waiting().get_mut(&id) {
                waiter.nobody.store(true, Ordering::Release);
                waiter.tx = None;
            }
            ClusterMetrics::count(&self.metrics.no_responders);
            return;
        }
        let reply = match self.decode_reply(&message).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(%id, "a bad reply from another node: {e}");
                None
            }
        };
        let mut waiting = self.replies.waiting();
        let Some(waiter) = waiting.get_mut(&id) else {
            ClusterMetrics::count(&self.metrics.late_answers);
            return;
        };
        waiter.heard += 1;
        if let (Some(reply), Some(tx)) = (reply, &waiter.tx) {
            if matches!(reply, Reply::Response(_)) {
                ClusterMetrics::count(&self.metrics.cross_node);
            }
            // Room for one reply per node was made; a full queue means the
            // ingress already has its answer.
            let _ = tx.try_send(reply);
        }
        if waiter.heard >= waiter.expected {
            waiter.tx = None;
        }
    }

    /// A reply's answer; `None` for a node whose clients left unanswered.
    async fn decode_reply(
        &self,
        message: &async_nats::Message,
    ) -> Result<Option<Reply>, ClusterError> {
        let headers = message.headers.as_ref();
        let outcome = headers
            .and_then(|h| h.get(OUTCOME_HEADER))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let store = self.store().await?;
        let max = self.max_frame;
        let payload = store
            .bodies
            .unpack(headers, message.payload.clone(), max)
            .await?;
        let decoded = match outcome.as_str() {
            "response" => ClientMessage::decode_binary(payload),
            "failed" => {
                let text =
                    std::str::from_utf8(&payload).map_err(|e| ClusterError::Nats(e.to_string()))?;
                ClientMessage::decode_text(text)
            }
            _ => return Ok(None),
        };
        match decoded {
            Ok(ClientMessage::Response(r)) => Ok(Some(Reply::Response(r))),
            Ok(ClientMessage::Failed(f)) => Ok(Some(Reply::Failed(f))),
            Ok(other) => Err(ClusterError::Nats(format!("unexpected {}", other.kind()))),
            Err(e) => Err(ClusterError::Nats(e.to_string())),
        }
    }
}

/// Passes replies to the deliveries waiting for them, for the relay's life.
pub async fn route_replies(state: Arc<RelayState>) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let Some(mut subscriber) = cluster
        .replies
        .subscriber
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        return;
    };
    loop {
        tokio::select! {
            message = subscriber.next() => match message {
                Some(message) => cluster.take_reply(message).await,
                None => return,
            },
            _ = cluster.stop.cancelled() => return,
        }
    }
}

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
    pub fn joined(state: &Arc<RelayState>, channel: &str) {
        let Some(cluster) = &state.cluster else {
            return;
        };
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
        cluster
            .tasks
            .spawn(serve_channel(state.clone(), channel.to_string(), stop));
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

/// Takes a channel's messages from other nodes while this node holds
/// clients of it.
async fn serve_channel(state: Arc<RelayState>, channel: String, stop: CancellationToken) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let subscribed = cluster
        .client
        .subscribe(format!("{}.*", subject(super::CHANNEL, &channel)))
        .await;
    let mut subscriber = match subscribed {
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
    let payload = match store.bodies.pack(&name, payload, &mut headers).await {
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

/// Sends the delivery to this node's clients of `channel`; their first good
/// answer, every failure, or `None` after the response timeout.
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
    let frame = Message::Binary(frame);
    let (tx, mut rx) = mpsc::channel(listeners.len());
    for listener in &listeners {
        listener.deliver(id, frame.clone(), tx.clone()).await;
    }
    drop(tx);
    let outcome = tokio::time::timeout(
        state.config.response_timeout,
        crate::hub::first_reply(&mut rx),
    )
    .await
    .ok();
    for listener in &listeners {
        listener.forget(id);
    }
    Ok(outcome)
}
