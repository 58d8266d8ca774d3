//! What every request handler and websocket session of one relay shares.

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
}
