//! Live deliveries between nodes, seen from the node a webhook arrives at.
//!
//! A node with clients on a channel subscribes to `hh.v2.channel.{name}.*`
//! (a plain subscription, so every such node gets each webhook: fan-out;
//! see [`super::held`]). The node a webhook arrives at publishes it on
//! `.live` with a reply subject of its own and takes the replies like its
//! own clients' answers. NATS answers "no responders" at once when no node
//! holds the channel: the sign to store the webhook.

use super::{Cluster, ClusterError, ClusterMetrics, subject};
use crate::hub::Reply;
use crate::state::RelayState;
use async_nats::{HeaderMap, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use hookhole_shared::protocol::{ClientMessage, Message as _};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

/// Headers of a delivery or a reply between nodes.
pub const ID_HEADER: &str = "Hookhole-Id";
pub const NODE_HEADER: &str = "Hookhole-Node";
pub const OUTCOME_HEADER: &str = "Hookhole-Outcome";

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
            .pack(
                &format!("{id}.live"),
                frame,
                &mut headers,
                super::bodies::Lifetime::Passing,
            )
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
        if super::bodies::names_an_object(&asked.headers) {
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
            .await;
        // A large answer was for this node alone: read, it can go.
        store.bodies.discard(headers).await;
        let payload = payload?;
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
