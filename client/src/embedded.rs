//! The relay inside the client, for the zero-setup default: it listens on
//! loopback only, so nothing is exposed beyond this machine.
//!
//! Loopback is still shared with every other local user and process: any
//! of them could join the channel, receive each delivery with its
//! signature headers and answer first. So the relay requires a token made
//! fresh for each run, which only this process holds (it is never written
//! or logged). Senders need none: a webhook is a plain HTTP request.

use hookhole_relay::RelayConfig;
use hookhole_shared::protocol::Token;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct EmbeddedRelay {
    pub addr: SocketAddr,
    /// The only token the relay accepts: the listener's own.
    pub token: Token,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<anyhow::Result<()>>,
}

impl EmbeddedRelay {
    /// The base URL clients and senders use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the relay and waits for it to drain.
    pub async fn stop(self) {
        self.shutdown.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("embedded relay: {e:#}"),
            Err(e) => tracing::warn!("embedded relay task failed: {e}"),
        }
    }
}

/// 32 random bytes, hex: 256 bits no other process can guess.
fn session_token() -> anyhow::Result<Token> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random)
        .map_err(|e| anyhow::anyhow!("cannot make the embedded relay's token: {e}"))?;
    Ok(Token(hex::encode(random)))
}

/// Starts a relay on `127.0.0.1:port` (if that port is taken, on a free
/// one) that admits only clients presenting [`EmbeddedRelay::token`]. It
/// waits `response_timeout` (else the relay's default) for an answer, and
/// keeps deliveries in `buffer_dir` when given (answer modes need it).
pub async fn start(
    port: u16,
    response_timeout: Option<Duration>,
    buffer_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<EmbeddedRelay> {
    let token = session_token()?;
    let mut config = RelayConfig {
        data_dir: buffer_dir,
        ..RelayConfig::default()
    };
    if let Some(timeout) = response_timeout {
        config.response_timeout = timeout;
        // Room for the last answers to arrive after a stop.
        config.drain_timeout = timeout + Duration::from_secs(2);
    }
    config.tokens = hookhole_relay::auth::Tokens::default();
    config
        .tokens
        .add(&token.0)
        .map_err(|e| anyhow::anyhow!("embedded relay token: {e}"))?;
    let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match TcpListener::bind(wanted).await {
        Ok(listener) => listener,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && port != 0 => {
            let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the embedded relay: {e}"))?;
            tracing::warn!(
                "port {port} is in use; the embedded relay uses port {} instead",
                listener.local_addr().map(|a| a.port()).unwrap_or(0)
            );
            listener
        }
        Err(e) => anyhow::bail!("cannot start the embedded relay on {wanted}: {e}"),
    };
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(hookhole_relay::serve(listener, config, shutdown.clone()));
    Ok(EmbeddedRelay {
        addr,
        token,
        shutdown,
        task,
    })
}
