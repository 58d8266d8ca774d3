//! The one HTTP service: relay endpoints under `/_hookhole/`, webhooks elsewhere.

use crate::budget::{Class, Slot};
use crate::error::{ApiError, json_response};
use crate::ingest;
use crate::state::RelayState;
use bytes::Bytes;
use hookhole_shared::protocol::{CONNECT_PATH, HEALTH_PATH};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Answers one request on a connection holding `slot` in the budgets.
pub async fn handle(
    state: Arc<RelayState>,
    peer: SocketAddr,
    slot: Arc<Slot>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    // Every rejection is counted, whichever route produced it.
    let metrics_of = state.clone();
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let result = if target > crate::first_head::MAX_URI {
        // A later request on a kept-alive connection (the first one is
        // checked before hyper sees it).
        Err(ApiError::UriTooLong(crate::first_head::MAX_URI))
    } else if path == CONNECT_PATH {
        upgrade(state, peer, slot, req)
    } else if path == HEALTH_PATH {
        health(&state, req.method())
    } else if path == "/_hookhole/metrics" {
        metrics(&state)
    } else if path.starts_with("/_") {
        Err(ApiError::NotFound)
    } else {
        match ingest::split_path(path) {
            Some((channel, _)) => {
                let channel = channel.to_string();
                ingest::handle(state, peer, channel, req).await
            }
            None => Err(ApiError::NotFound),
        }
    };
    result.unwrap_or_else(|e| {
        metrics_of.metrics.reject(e.code());
        e.into_response()
    })
}

/// The base of the channel URL a connecting client is told: the one it
/// called, or behind a trusted proxy the one the proxy was called with.
fn public_base(state: &RelayState, peer: SocketAddr, headers: &header::HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = crate::forwarded::origin(
        headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        peer.ip(),
        host,
        state.config.scheme(),
        &state.config.trusted_proxies,
    );
    state
        .config
        .base_url_as(&origin.proto, origin.host.as_deref(), state.local_addr)
}

fn metrics(state: &RelayState) -> Result<Response<Full<Bytes>>, ApiError> {
    let stats = state.hub.stats();
    let buffered = state
        .buffer
        .as_ref()
        .map_or(0, |b| b.buffer().waiting_count());
    let mut text = state
        .metrics
        .render(stats.channels, stats.clients, buffered, &state.budgets);
    if let Some(cluster) = &state.cluster {
        text.push_str(&cluster.metrics.render(cluster.is_up(), buffered));
    }
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

fn health(state: &RelayState, method: &Method) -> Result<Response<Full<Bytes>>, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    let stats = state.hub.stats();
    // A relay cut off from the cluster for too long says so: a load
    // balancer then sends webhooks to the nodes that can reach the rest.
    let (cluster, health) = match &state.cluster {
        Some(cluster) => {
            let (report, health) = cluster.health();
            (Some(report), health)
        }
        None => (None, crate::cluster::Health::Ok),
    };
    let status = if health == crate::cluster::Health::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = health.word();
    Ok(json_response(
        status,
        &serde_json::json!({
            "status": word,
            "cluster": cluster,
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": hookhole_shared::protocol::VERSION,
            "channels": stats.channels,
            "clients": stats.clients,
            "buffered": state.buffer.as_ref().map_or(0, |b| b.buffer().waiting_count()),
            "tls": state.acme.as_ref().map(|acme| acme.report()),
        }),
    ))
}

/// Answers a websocket upgrade and starts the session once hyper hands over
/// the connection.
fn upgrade(
    state: Arc<RelayState>,
    peer: SocketAddr,
    slot: Arc<Slot>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let headers = req.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if req.method() != Method::GET || !is_upgrade {
        return Err(ApiError::BadUpgrade(
            "expected a GET with Upgrade: websocket",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(ApiError::BadUpgrade("Sec-WebSocket-Version must be 13"));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(ApiError::BadUpgrade("missing Sec-WebSocket-Key"));
    };
    // Usually classed by its first head already; an upgrade later on a
    // kept-alive connection moves it to the client budget here.
    if !slot.classify(Class::Client) {
        return Err(ApiError::TooManyClients);
    }
    let accept = derive_accept_key(key.as_bytes());
    let base = public_base(&state, peer, headers);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let sessions = state.sessions.clone();
    sessions.spawn(async move {
        // The slot counts the link while the session lives.
        let _slot = slot;
        match on_upgrade.await {
            Ok(upgraded) => crate::tunnel::run(state, upgraded, base).await,
            Err(e) => tracing::warn!("websocket upgrade failed: {e}"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("upgrade"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    Ok(response)
}
