//! Relays as a cluster on NATS with JetStream (`--nats`).
//!
//! Without `--nats` nothing here runs: a relay routes through its own hub
//! and buffers in its own SQLite file. With it, every relay of the cluster
//! shares one NATS system:
//!
//! - [`live`]: the relay a webhook arrives at sends it to the channel's
//!   subject as a request and takes the first good answer. "No responders"
//!   means nobody holds the channel anywhere: the webhook is stored.
//! - [`held`]: a relay subscribes to a channel's subjects only while it has
//!   clients on that channel, and answers for them.
//! - [`stored`]: webhooks for absent clients live in one JetStream stream
//!   (work queue, a subject per channel), drained in order by whichever
//!   relay a client of the channel joins.
//! - [`owners`]: who claimed a channel, in a KV bucket (first claim wins).
//! - [`bodies`]: frames above NATS's message size go through the object
//!   store; the message carries the object's name.
//! - [`census`]: how many clients a channel has on every node.
//! - [`outbox`]: while NATS is away, webhooks for clients elsewhere wait in
//!   the relay's own SQLite buffer and move to the stream when it is back.
//! - [`link`]: the state of the connection to NATS, for health and routing.

mod bodies;
mod census;
mod early;
mod held;
mod link;
mod live;
mod outbox;
mod owners;
pub mod settings;
pub mod stored;

pub use owners::Claim;
pub use settings::{ClusterArgs, ClusterConfig, ClusterFile};

use crate::state::RelayState;
use async_nats::jetstream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// Subject prefixes. The live one changes with any incompatible change to
/// what relays send each other, so relays of two versions never mix
/// messages: `v2` since deliveries carry a BLAKE3 (protocol 2). The stored
/// one stays: the stream is storage, kept across upgrades, and a frame an
/// older relay stored there is made current when read (`frame_upgrade`).
const CHANNEL: &str = "hh.v2.channel";
const STORED: &str = "hh.v1.stored";

/// JetStream names: the buffer's stream, the owners' bucket, the bodies'
/// object store.
const STREAM: &str = "HOOKHOLE_BUFFER";
const OWNERS_BUCKET: &str = "hookhole-owners";
const BODIES_BUCKET: &str = "hookhole-bodies";
/// Large frames passing between nodes, in memory.
const FRAMES_BUCKET: &str = "hookhole-frames";

/// How long a JetStream call may take before the relay treats NATS as away
/// for that webhook (it then goes to the local outbox).
const JETSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

fn subject(prefix: &str, channel: &str) -> String {
    format!("{prefix}.{channel}")
}

/// Counters for `/_hookhole/metrics`.
#[derive(Default)]
pub struct ClusterMetrics {
    /// Deliveries answered by a client on another node.
    pub cross_node: AtomicU64,
    /// Webhooks no node held a client for.
    pub no_responders: AtomicU64,
    /// Answers from other nodes that came after the delivery was decided.
    pub late_answers: AtomicU64,
    /// Webhooks stored in JetStream.
    pub stored: AtomicU64,
    /// Webhooks moved from the local outbox to JetStream.
    pub moved: AtomicU64,
}

impl ClusterMetrics {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The cluster's lines for `/_hookhole/metrics`; `outbox` is what the
    /// local buffer holds (on a clustered relay, the outbox).
    pub fn render(&self, up: bool, outbox: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            crate::metrics::write_metric(&mut out, name, kind, help, &[format!(" {value}")]);
        };
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        metric(
            "hookhole_cluster_link_up",
            "gauge",
            "1 while NATS is reachable.",
            u64::from(up),
        );
        metric(
            "hookhole_cluster_cross_node_total",
            "counter",
            "Answers from clients on other nodes.",
            load(&self.cross_node),
        );
        metric(
            "hookhole_cluster_no_responders_total",
            "counter",
            "Webhooks no node held a client for.",
            load(&self.no_responders),
        );
        metric(
            "hookhole_cluster_late_answers_total",
            "counter",
            "Answers from other nodes after the delivery was decided.",
            load(&self.late_answers),
        );
        metric(
            "hookhole_cluster_stored_total",
            "counter",
            "Webhooks stored in the cluster's stream.",
            load(&self.stored),
        );
        metric(
            "hookhole_cluster_moved_total",
            "counter",
            "Webhooks moved from the outbox to the cluster's stream.",
            load(&self.moved),
        );
        metric(
            "hookhole_cluster_outbox",
            "gauge",
            "Webhooks in this relay's outbox, waiting for NATS.",
            outbox as u64,
        );
        out
    }
}

/// What JetStream holds for the cluster, created (or found) once NATS is
/// reachable.
struct Store {
    stream: jetstream::stream::Stream,
    owners: jetstream::kv::Store,
    bodies: bodies::Bodies,
}

/// Whether a clustered relay can do its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Cut off from NATS for longer than `--nats-outage-limit`.
    NatsUnreachable,
    /// NATS answers but the buffer stream, owners bucket or bodies store
    /// cannot be opened (no JetStream on the server, say): webhooks for
    /// absent clients pile up in the outbox.
    JetStreamUnavailable,
}

impl Health {
    pub fn word(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::NatsUnreachable => "nats_unreachable",
            Health::JetStreamUnavailable => "jetstream_unavailable",
        }
    }
}

/// A relay's membership in the cluster.
pub struct Cluster {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: ClusterConfig,
    /// The relay's buffer limits, which the stream's limits follow.
    buffer_limits: crate::buffer::Limits,
    /// The largest frame a node accepts from another (a delivery with the
    /// largest body, or an answer as large).
    max_frame: usize,
    link: Arc<link::Link>,
    store: OnceCell<Store>,
    /// Why the JetStream objects could not be opened, last time it failed
    /// (a NATS server without JetStream, say): the health check says so.
    store_error: std::sync::Mutex<Option<String>>,
    replies: live::Replies,
    interest: held::Interest,
    census: census::Census,
    pub metrics: ClusterMetrics,
    /// Cancelled when the relay stops: every cluster task ends.
    stop: CancellationToken,
    /// The per-channel tasks, waited for when the relay stops (a stored
    /// delivery a leaving client had not saved is handed back first).
    tasks: tokio_util::task::TaskTracker,
}

/// Why a cluster operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("NATS is unreachable")]
    Away,
    #[error("NATS: {0}")]
    Nats(String),
}

impl Cluster {
    /// Connects to NATS. An unreachable server is not an error: the relay
    /// serves its own clients and keeps trying (see [`outbox`]).
    pub async fn connect(
        config: ClusterConfig,
        relay: &crate::RelayConfig,
    ) -> anyhow::Result<Cluster> {
        let link = Arc::new(link::Link::new());
        let client = link::connect(&config, link.clone()).await?;
        let jetstream = jetstream::context::ContextBuilder::new()
            .timeout(JETSTREAM_TIMEOUT)
            .build(client.clone());
        let replies = live::Replies::start(&client).await?;
        Ok(Cluster {
            client,
            jetstream,
            link,
            store: OnceCell::new(),
            store_error: std::sync::Mutex::new(None),
            replies,
            interest: held::Interest::default(),
            census: census::Census::default(),
            metrics: ClusterMetrics::default(),
            stop: CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            config,
            buffer_limits: relay.buffer_limits,
            max_frame: crate::tunnel::max_frame(relay.max_body),
        })
    }

    pub fn node(&self) -> &str {
        &self.config.node
    }

    /// Whether NATS is reachable now.
    pub fn is_up(&self) -> bool {
        self.link.is_up()
    }

    /// Starts the tasks that run for the relay's lifetime.
    pub fn start(state: &Arc<RelayState>) {
        let Some(cluster) = &state.cluster else {
            return;
        };
        tokio::spawn(live::route_replies(state.clone()));
        tokio::spawn(outbox::run(state.clone()));
        tokio::spawn(census::refresh(state.clone()));
        let servers: Vec<String> = cluster
            .config
            .servers
            .iter()
            .map(|s| link::shown(s))
            .collect();
        tracing::info!(
            node = %cluster.node(),
            servers = %servers.join(","),
            "joined the relay cluster"
        );
    }

    /// Ends the cluster's tasks and closes the NATS connection (what this
    /// node subscribed to is gone at once for the others).
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.tasks.wait()).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.drain()).await;
    }

    /// The JetStream objects, created the first time NATS is reachable.
    async fn store(&self) -> Result<&Store, ClusterError> {
        if !self.is_up() {
            return Err(ClusterError::Away);
        }
        let opened: Result<&Store, ClusterError> = self
            .store
            .get_or_try_init(|| async {
                let limits = &self.buffer_limits;
                let stream = stored::open(&self.jetstream, limits).await?;
                let owners = owners::open(&self.jetstream).await?;
                // A large frame lives as long as a stored delivery may.
                let keep = limits.age + Duration::from_secs(3600);
                let bodies = bodies::Bodies::open(&self.jetstream, &self.client, keep).await?;
                Ok(Store {
                    stream,
                    owners,
                    bodies,
                })
            })
            .await;
        let mut error = self.store_error.lock().unwrap_or_else(|p| p.into_inner());
        match &opened {
            Ok(_) => *error = None,
            Err(e) => *error = Some(e.to_string()),
        }
        opened
    }

    /// Clients of `channel` on the other nodes.
    pub fn clients_elsewhere(&self, channel: &str) -> u32 {
        self.census.clients_elsewhere(channel)
    }

    /// The answer modes the other nodes holding `channel` apply.
    pub fn answers_elsewhere(&self, channel: &str) -> Vec<hookhole_shared::protocol::Answer> {
        self.census.answers_elsewhere(channel)
    }

    /// What `/_hookhole/health` says about the cluster, and whether the
    /// relay counts as healthy.
    pub fn health(&self) -> (serde_json::Value, Health) {
        let down_for = self.link.down_for();
        let jetstream = self
            .store_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let health = if down_for.is_some_and(|d| d > self.config.outage_limit) {
            Health::NatsUnreachable
        } else if self.is_up() && jetstream.is_some() {
            Health::JetStreamUnavailable
        } else {
            Health::Ok
        };
        let report = serde_json::json!({
            "node": self.config.node,
            "connected": self.is_up(),
            "down_for_ms": down_for.map(|d| d.as_millis() as u64),
            "outage_limit_ms": self.config.outage_limit.as_millis() as u64,
            "jetstream_error": jetstream,
        });
        (report, health)
    }
}
