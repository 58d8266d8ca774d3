//! What every request handler and websocket session of one relay shares.

use crate::buffer_writer::BufferWriter;
use crate::config::RelayConfig;
use crate::hub::Hub;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct RelayState {
    pub config: RelayConfig,
    pub hub: Hub,
    pub local_addr: SocketAddr,
    /// Cancelled after the drain: websocket sessions close with "going away".
    pub close_links: CancellationToken,
    /// Websocket sessions, which outlive the HTTP connection that upgraded.
    pub sessions: TaskTracker,
    /// Deliveries kept for absent clients (when configured), written many
    /// per commit off the async runtime.
    pub buffer: Option<BufferWriter>,
    /// Held while deciding "nobody listens, so buffer" and while a client
    /// joins (the buffer is read after): a webhook cannot fall between the
    /// two.
    pub gate: tokio::sync::Mutex<()>,
    /// Which token claimed which channel.
    pub owners: crate::auth::Owners,
    pub limiter: crate::limits::Gate,
    pub metrics: crate::metrics::Metrics,
    /// Membership in a cluster of relays (`--nats`).
    pub cluster: Option<std::sync::Arc<crate::cluster::Cluster>>,
    /// The certificate from an ACME CA, for the health report (`--domain`).
    pub acme: Option<std::sync::Arc<crate::acme::Acme>>,
    /// Open connections by class, and their limits.
    pub budgets: std::sync::Arc<crate::budget::Budgets>,
}
