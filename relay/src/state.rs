//! What every request handler and websocket session of one relay shares.

use crate::buffer::Buffer;
use crate::config::RelayConfig;
use crate::hub::Hub;
use std::net::SocketAddr;
use std::sync::Arc;
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
    /// Deliveries kept for absent clients (when configured).
    pub buffer: Option<Arc<Buffer>>,
    /// Writes to `buffer`, many per commit, off the async runtime.
    pub buffer_writer: Option<crate::buffer_writer::BufferWriter>,
    /// Held while deciding "nobody listens, so buffer" and while a client
    /// joins and takes the buffer: a webhook cannot fall between the two.
    pub gate: tokio::sync::Mutex<()>,
    /// Which token claimed which channel.
    pub owners: crate::auth::Owners,
    pub limiter: crate::limits::Gate,
    pub metrics: crate::metrics::Metrics,
}
