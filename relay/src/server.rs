//! The accept loop and graceful shutdown.
//!
//! Shutdown order matters: stop accepting, let webhooks in flight get their
//! answers (bounded by the drain timeout) while client links stay open, then
//! close every client link with "going away".

use crate::config::RelayConfig;
use crate::hub::Hub;
use crate::routes;
use crate::state::RelayState;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long closing websockets may take once the drain is over.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Counts an open HTTP connection while it lives.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::Relaxed);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers a connection over the cap with a JSON `503` and closes it (a TLS
/// connection is just closed: it would not read plain text).
async fn refuse(mut stream: tokio::net::TcpStream, tls: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !tls {
        let body = r#"{"error":"the relay has as many connections as it allows","code":"too_many_connections"}"#;
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nx-content-type-options: nosniff\r\ncontent-length: {}\r\nretry-after: 5\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            stream.write_all(response.as_bytes()),
        )
        .await;
    }
    let _ = stream.shutdown().await;
    // Read the request out (briefly) before closing: closing with unread
    // data resets the connection, and the sender would lose the answer.
    let drain = async {
        let mut buf = [0u8; 4096];
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// Reloads the certificate files on SIGHUP, until shutdown.
async fn reload_on_hangup(tls: Arc<crate::tls::Tls>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        loop {
            tokio::select! {
                _ = hangups.recv() => match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: certificate reloaded"),
                    Err(e) => tracing::warn!("SIGHUP: kept the old certificate: {e}"),
                },
                _ = shutdown.cancelled() => return,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (tls, shutdown);
}

/// Serves the relay on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let local_addr = listener.local_addr()?;
    let drain_timeout = config.drain_timeout;
    let tls = match &config.tls {
        Some(source) => Some(Arc::new(
            crate::tls::Tls::new(source.clone()).map_err(anyhow::Error::msg)?,
        )),
        None => None,
    };
    if let Some(tls) = &tls {
        tracing::info!("HTTPS on; certificate SHA-256 {}", tls.fingerprint);
        tokio::spawn(reload_on_hangup(tls.clone(), shutdown.clone()));
    }
    let buffer = match (&config.data_dir, config.offline) {
        (Some(dir), crate::config::Offline::Queue) => {
            let buffer = crate::buffer::Buffer::open(dir, config.buffer_limits)
                .map_err(anyhow::Error::msg)?;
            Some(
                crate::buffer_writer::BufferWriter::start(Arc::new(buffer))
                    .map_err(anyhow::Error::msg)?,
            )
        }
        _ => None,
    };
    let state = Arc::new(RelayState {
        buffer,
        gate: tokio::sync::Mutex::new(()),
        owners: crate::auth::Owners::open(config.data_dir.as_deref()),
        limiter: crate::limits::Gate::default(),
        metrics: crate::metrics::Metrics::default(),
        config,
        hub: Hub::default(),
        local_addr,
        close_links: CancellationToken::new(),
        sessions: TaskTracker::new(),
    });
    let graceful = GracefulShutdown::new();
    let open_http = Arc::new(AtomicUsize::new(0));
    let header_timeout = state.config.limits.header_timeout;
    let headers_backstop = state.config.limits.headers.saturating_mul(2).max(128);
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.limits.header_timeout)
        // Above the relay's own (JSON) header limit: hyper's bare 431 only
        // for requests far beyond it.
        .max_headers(headers_backstop);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the
                    // connections we have and try again shortly.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        // HTTP connections in progress plus clients (whose websockets left
        // hyper's accounting when they upgraded).
        let open = open_http.load(Ordering::Relaxed) + state.hub.stats().clients;
        if open >= state.config.limits.connections {
            state.metrics.reject("too_many_connections");
            tokio::spawn(refuse(stream, tls.is_some()));
            continue;
        }
        let guard = Open::new(&open_http);
        let metrics = state.clone();
        let state = state.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(routes::handle(state, peer, req).await) }
        });
        match &tls {
            None => {
                let conn = http
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _guard = guard;
                    if let Err(e) = conn.await {
                        connection_failed(&metrics, peer, &*e);
                    }
                });
            }
            Some(tls) => {
                // The handshake runs in the connection's task: a slow or
                // hostile client never holds up the accept loop.
                let (acceptor, http, watcher) = (tls.acceptor(), http.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let _guard = guard;
                    let stream =
                        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                return tracing::debug!(%peer, "TLS handshake failed: {e}");
                            }
                            Err(_) => {
                                metrics.metrics.reject("header_timeout");
                                return tracing::debug!(%peer, "TLS handshake timed out");
                            }
                        };
                    let conn = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        connection_failed(&metrics, peer, &*e);
                    }
                });
            }
        }
    }

    drop(listener);
    tracing::info!("shutting down: draining deliveries in flight");
    if tokio::time::timeout(drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; closing the remaining connections");
    }
    state.close_links.cancel();
    state.sessions.close();
    if tokio::time::timeout(CLOSE_TIMEOUT, state.sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!("some client links did not close in time");
    }
    tracing::info!("relay stopped");
    Ok(())
}

/// Logs why a sender's connection ended badly; a slow sender cut off by the
/// header timeout (hyper answers it `408` itself) is counted as a rejection.
fn connection_failed(
    state: &RelayState,
    peer: std::net::SocketAddr,
    error: &(dyn std::error::Error + Send + Sync + 'static),
) {
    if error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout)
    {
        state.metrics.reject("header_timeout");
    }
    tracing::debug!(%peer, "connection ended: {error}");
}
