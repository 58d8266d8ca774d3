//! One accepted connection, from TLS handshake to hyper: the handshake and
//! the first request head together get `--header-timeout`, the head says
//! which budget the connection counts against (`budget`), and a connection
//! that is too slow, too large or over its budget is answered with the
//! relay's JSON error and closed.

use crate::budget::{Class, Slot};
use crate::error::ApiError;
use crate::first_head::{self, HeadError, Prefixed};
use crate::routes;
use crate::state::RelayState;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What a connection task needs besides the connection.
pub struct Context {
    pub state: Arc<RelayState>,
    pub http: auto::Builder<TokioExecutor>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub watcher: Watcher,
}

/// Serves one connection until it ends; `slot` holds its place in the budgets.
pub async fn serve(context: Context, stream: TcpStream, peer: SocketAddr, slot: Slot) {
    let limits = context.state.config.limits;
    let deadline = Instant::now() + limits.header_timeout;
    let Some(acceptor) = context.tls.clone() else {
        return admit(context, stream, peer, slot, deadline).await;
    };
    let eviction = slot.eviction();
    let handshake = tokio::select! {
        handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream)) => handshake,
        () = eviction.cancelled() => return evicted(&context.state, peer),
    };
    match handshake {
        Ok(Ok(stream)) => admit(context, stream, peer, slot, deadline).await,
        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
        Err(_) => {
            context.state.metrics.reject("header_timeout");
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

/// A connection still without its head when newer ones needed its place
/// (see `budget`): closed without an answer, counted apart.
fn evicted(state: &RelayState, peer: SocketAddr) {
    state.metrics.reject("header_evicted");
    tracing::debug!(%peer, "connection evicted while waiting for its head");
}

/// Reads the first head, classifies the connection, and hands it to hyper.
async fn admit<S>(context: Context, mut io: S, peer: SocketAddr, slot: Slot, deadline: Instant)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = context.state.clone();
    let limits = state.config.limits;
    let eviction = slot.eviction();
    let (read, head) = tokio::select! {
        read = first_head::read(&mut io, deadline, limits.headers, limits.header_bytes) => read,
        () = eviction.cancelled() => return evicted(&state, peer),
    };
    let refusal = match head {
        Ok(class) if slot.classify(class) => None,
        Ok(Class::Client) => Some(ApiError::TooManyClients),
        Ok(_) => Some(ApiError::TooManyConnections),
        Err(HeadError::Closed) => return,
        Err(HeadError::Timeout) => Some(ApiError::HeaderTimeout(limits.header_timeout)),
        Err(HeadError::UriTooLong) => Some(ApiError::UriTooLong(first_head::MAX_URI)),
        Err(HeadError::TooLarge) => Some(ApiError::HeadersTooLarge {
            fields: limits.headers,
            bytes: limits.header_bytes,
        }),
    };
    if let Some(error) = refusal {
        state.metrics.reject(error.code());
        tracing::debug!(%peer, code = error.code(), "connection refused");
        return answer_and_close(io, error).await;
    }
    let slot = Arc::new(slot);
    let service = service_fn(move |req| {
        let (state, slot) = (state.clone(), slot.clone());
        async move { Ok::<_, Infallible>(routes::handle(state, peer, slot, req).await) }
    });
    let io = TokioIo::new(Prefixed::new(read, io));
    let conn = context.http.serve_connection_with_upgrades(io, service);
    if let Err(e) = context.watcher.watch(conn).await {
        connection_failed(&context.state, peer, &*e);
    }
}

/// Writes `error` as the connection's only answer and closes it.
pub async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, error: ApiError) {
    let bytes = error.into_http1();
    let _ = tokio::time::timeout(Duration::from_secs(2), io.write_all(&bytes)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
    // Read the request out (briefly) before closing: closing with unread
    // data resets the connection, and the sender would lose the answer.
    let drain = async {
        let mut buf = [0u8; 4096];
        while matches!(io.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// Logs why a connection ended badly, and counts what hyper answered by
/// itself: a bare `431`/`414` for a later head beyond its own bounds, a
/// bare `400` for a malformed head, or a close for a later head that timed
/// out.
fn connection_failed(
    state: &RelayState,
    peer: SocketAddr,
    error: &(dyn std::error::Error + Send + Sync + 'static),
) {
    if let Some(e) = error.downcast_ref::<hyper::Error>() {
        if e.is_timeout() {
            state.metrics.reject("header_timeout");
        } else if e.is_parse_too_large() {
            // hyper's two "too large" kinds differ only in their text.
            let uri = e.to_string().contains("URI too long");
            state.metrics.reject(if uri {
                "uri_too_long"
            } else {
                "headers_too_large"
            });
        } else if e.is_parse() {
            // hyper's bare 400 for a head it cannot parse.
            state.metrics.reject("bad_request");
        }
    }
    tracing::debug!(%peer, "connection ended: {error}");
}
