//! Webhook ingress: `METHOD /{channel}/{rest}?{query}` in, the local server's
//! answer (or a precise error) out.

use crate::cluster::stored::StoreError;
use crate::error::ApiError;
use crate::forwarded;
use crate::hub::{Outcome, first_reply};
use crate::state::RelayState;
use bytes::Bytes;
use hookhole_shared::frame;
use hookhole_shared::headers::{self, Header};
use hookhole_shared::protocol::{Answer, Delivery, RelayMessage};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Splits `/{channel}{rest}` into the channel and the rest of the path.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let path = path.strip_prefix('/')?;
    let (channel, rest) = match path.find('/') {
        Some(i) => path.split_at(i),
        None => (path, ""),
    };
    (!channel.is_empty()).then_some((channel, rest))
}

pub async fn handle(
    state: Arc<RelayState>,
    peer: SocketAddr,
    channel: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    hookhole_shared::channel::validate(&channel).map_err(|_| ApiError::InvalidChannel)?;
    let limits = state.config.limits;
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if req.headers().len() > limits.headers || header_bytes > limits.header_bytes {
        return Err(ApiError::HeadersTooLarge {
            fields: limits.headers,
            bytes: limits.header_bytes,
        });
    }
    state
        .limiter
        .rate(&channel, &limits, std::time::Instant::now())
        .map_err(ApiError::RateLimited)?;
    let arrived = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let limit = state.config.max_body;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    let routed = state.hub.route(&channel);
    // Other nodes may hold the channel: only asking them tells.
    let cluster = state.cluster.as_ref().filter(|c| c.is_up());
    // On a relay with tokens only a channel some token claimed can have a
    // client: anything else would be queued for nobody.
    if routed.is_none() && !state.config.tokens.is_empty() && !is_claimed(&state, &channel).await {
        return Err(ApiError::UnknownChannel);
    }
    // Without a buffer, refuse before reading the body when nobody listens:
    // the sender learns at once, and no memory is spent on it.
    if routed.is_none() && cluster.is_none() && state.buffer.is_none() {
        return Err(ApiError::NoListener);
    }
    let body = crate::body::read(body, limit, limits.body_pace)
        .await
        .map_err(|e| match e {
            crate::body::BodyError::TooLarge(limit) => ApiError::BodyTooLarge { limit },
            crate::body::BodyError::Stalled(wait) => ApiError::BodyStalled(wait),
            crate::body::BodyError::TooSlow(rate) => ApiError::BodyTooSlow(rate),
            crate::body::BodyError::Broken(why) => ApiError::BadBody(why),
        })?;

    state
        .metrics
        .bytes
        .fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
    // HTTP/2 carries the host in `:authority`, with no `Host` header.
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_string()));
    let mut list: Vec<Header> = parts
        .headers
        .iter()
        .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
        .collect();
    headers::strip_hop_by_hop(&mut list);
    // A sender cannot pose as someone else to the local server; a trusted
    // proxy's word is taken.
    let origin = forwarded::origin(
        list.iter().map(|h| (h.name.as_str(), h.value.as_slice())),
        peer.ip(),
        host.as_deref(),
        state.config.scheme(),
        &state.config.trusted_proxies,
    );
    list.retain(|h| h.name != "host" && origin.keeps(&h.name));
    list.push(Header::new("x-forwarded-for", origin.chain.as_str()));
    list.push(Header::new("x-forwarded-proto", origin.proto.as_str()));
    if let Some(host) = &origin.host {
        list.push(Header::new("x-forwarded-host", host.as_str()));
    }
    list.push(Header::new("forwarded", origin.forwarded.as_str()));
    list.push(Header::new("x-real-ip", origin.real_ip.as_str()));

    let (_, rest) = split_path(parts.uri.path()).unwrap_or(("", ""));
    let query = parts.uri.query().map(str::to_string);
    // The URL the sender called, which URL-signing schemes sign: behind a
    // trusted TLS-terminating proxy, its scheme and host.
    let base = state
        .config
        .base_url_as(&origin.proto, origin.host.as_deref(), state.local_addr);
    let url = match &query {
        Some(q) => format!("{base}/{channel}{rest}?{q}"),
        None => format!("{base}/{channel}{rest}"),
    };
    let delivery = Delivery {
        id: crate::ids::delivery_id(),
        seq: state.hub.next_seq(),
        received_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        method: parts.method.as_str().to_string(),
        path: rest.to_string(),
        query,
        headers: list,
        body_blake3: body.digest.clone(),
        url,
        queued: false,
        answered: false,
        // The body goes into the frame straight from its chunks, below.
        body: Bytes::new(),
    };
    let (id, seq) = (delivery.id.clone(), delivery.seq);
    let message = RelayMessage::Delivery(delivery);
    let encode = |message: &RelayMessage| {
        // Serialising our own plain structs cannot fail.
        let header = serde_json::to_vec(message).unwrap_or_default();
        Bytes::from(frame::encode_chunks(&header, &body.chunks))
    };
    // One encoded frame, shared by every listener and node (Bytes clones
    // are cheap).
    let frame = encode(&message);
    let listeners = match (routed, cluster) {
        (Some(listeners), _) => listeners,
        // Nobody here: the other nodes are asked below, and if none holds
        // the channel it is stored in the cluster.
        (None, Some(_)) => Vec::new(),
        (None, None) => {
            let gate = state.gate.lock().await;
            // A client may have connected while the body was read.
            match state.hub.route(&channel) {
                Some(listeners) => listeners,
                None => {
                    // Queued under the gate (a client joining flushes the
                    // queue before reading the buffer), committed after it.
                    let committed = queue(&state, &channel, seq, &id, encode(&queued(&message)))?;
                    drop(gate);
                    return committed_as_queued(&state, &channel, &id, committed).await;
                }
            }
        }
    };
    // With no client here, the nodes holding the channel apply its mode.
    let mode = match listeners.is_empty() {
        true => Answer::Local,
        false => crate::answer::in_force(&state, &channel, &listeners),
    };
    // Under an early mode this node answers from its own clients alone;
    // the other nodes holding the channel keep and answer their own copies.
    let ask_others = mode == Answer::Local;
    if !ask_others && let Some(cluster) = cluster {
        cluster.pass_on(&channel, &id, frame.clone(), state.config.response_timeout);
    }
    if let Answer::Now { status } = mode {
        let frames = (
            encode(&queued(&message)),
            encode(&crate::answer::answered(&message)),
        );
        let early = crate::answer::now(&state, &channel, (seq, &id), frames, &listeners, status);
        if let Some(accepted) = early.await {
            return Ok(to_http(accepted));
        }
    }
    let _slot = state
        .limiter
        .slot(&channel, &limits)
        .ok_or(ApiError::TooManyInFlight)?;
    tracing::debug!(%channel, %id, seq, listeners = listeners.len(), "delivery");

    let timeout = state.config.response_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let early = crate::answer::early_wait(mode, timeout).map(|wait| deadline - timeout + wait);
    let mut asked = None;
    let waited = tokio::time::timeout_at(deadline, async {
        // Room for every local listener's reply and one per other node.
        let (tx, rx) = mpsc::channel(listeners.len() + REMOTE_REPLIES);
        let message = Message::Binary(frame.clone());
        for listener in &listeners {
            listener.deliver(&id, message.clone(), tx.clone()).await;
        }
        // Other nodes are asked when nobody is here, or when the census
        // says one of them holds the channel too (fan-out). A node whose
        // client joined within the census's round trip (milliseconds) may
        // miss this one webhook, as a client joining one relay at the
        // moment a webhook arrives may.
        if let Some(cluster) = cluster
            && ask_others
            && (listeners.is_empty() || cluster.clients_elsewhere(&channel) > 0)
        {
            asked = cluster.ask(&channel, &id, frame.clone(), tx.clone()).await;
        }
        drop(tx);
        crate::answer::first_or_late(early, rx).await
    })
    .await;
    let outcome = match waited {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(rx)) => {
            let stored = encode(&queued(&message));
            let late =
                crate::answer::late(&state, &channel, (seq, &id), (stored, mode), &listeners, rx);
            match late.await {
                Ok(accepted) => return Ok(to_http(accepted)),
                // Not kept: the sender waits for the local answer after all.
                Err(mut rx) => tokio::time::timeout_at(deadline, first_reply(&mut rx)).await,
            }
        }
        Err(elapsed) => Err(elapsed),
    };
    for listener in &listeners {
        listener.forget(&id);
    }
    let nobody = asked.as_ref().is_none_or(|a| a.nobody());
    if let (Some(cluster), Some(asked)) = (&state.cluster, asked) {
        cluster.done(&id, asked);
    }
    match outcome {
        Ok(Outcome::Answered(response)) => {
            state.metrics.count_delivered();
            state.metrics.observe(arrived.elapsed().as_secs_f64());
            Ok(to_http(response))
        }
        Ok(Outcome::Failed(failure)) => {
            state.metrics.count_delivered();
            Err(ApiError::Local(failure))
        }
        Ok(Outcome::Gone) if listeners.is_empty() && nobody => {
            store_in_cluster(&state, &channel, seq, &id, encode(&queued(&message))).await
        }
        Ok(Outcome::Gone) => {
            state.metrics.count_delivered();
            Err(ApiError::ListenersGone)
        }
        Err(_) => {
            state.metrics.count_delivered();
            Err(ApiError::ResponseTimeout(timeout))
        }
    }
}

/// Answers from other nodes one delivery makes room for (one per node
/// holding the channel; more only when the census lags).
pub const REMOTE_REPLIES: usize = 16;

/// The same delivery, marked as kept for an absent client.
pub fn queued(message: &RelayMessage) -> RelayMessage {
    let mut message = message.clone();
    if let RelayMessage::Delivery(d) = &mut message {
        d.queued = true;
    }
    message
}

/// Whether a token claimed `channel`, on this node or (in a cluster) any.
async fn is_claimed(state: &RelayState, channel: &str) -> bool {
    if state.owners.is_claimed(channel) {
        return true;
    }
    match &state.cluster {
        // While NATS is away another node's claims cannot be read: the
        // webhook is kept (in the outbox, within its limits) rather than
        // refused for a channel that may well be claimed.
        Some(cluster) => cluster.is_claimed(channel).await.unwrap_or(true),
        None => false,
    }
}

/// No node holds the channel: kept in the cluster's stream, or while NATS
/// cannot take it, in this relay's outbox; `202` once it is kept.
async fn store_in_cluster(
    state: &RelayState,
    channel: &str,
    seq: u64,
    id: &str,
    frame: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    if state.config.offline == crate::config::Offline::Reject {
        return Err(ApiError::NoListener);
    }
    let Some(cluster) = &state.cluster else {
        return Err(ApiError::NoListener);
    };
    match cluster.store_delivery(channel, id, frame.clone()).await {
        Ok(()) => committed_as_queued(state, channel, id, async { Ok(()) }).await,
        Err(StoreError::Full(e)) => Err(ApiError::Buffer(e)),
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(%channel, %id, "{e}: kept in this relay's outbox");
            let committed = queue(state, channel, seq, id, frame)?;
            committed_as_queued(state, channel, id, committed).await
        }
    }
}

/// Queues a delivery for an absent client; the future ends once it is
/// committed (or refused).
fn queue(
    state: &RelayState,
    channel: &str,
    seq: u64,
    id: &str,
    frame: Bytes,
) -> Result<impl Future<Output = Result<(), crate::buffer::BufferError>> + use<>, ApiError> {
    let writer = state.buffer.as_ref().ok_or(ApiError::NoListener)?;
    Ok(writer.push(channel, seq, id, frame))
}

/// Answers `202` once a queued delivery is committed.
async fn committed_as_queued(
    state: &RelayState,
    channel: &str,
    id: &str,
    committed: impl Future<Output = Result<(), crate::buffer::BufferError>>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    committed.await.map_err(ApiError::Buffer)?;
    state
        .metrics
        .queued
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(%channel, %id, "no client connected: delivery queued");
    Ok(crate::error::json_response(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "queued": true, "id": id }),
    ))
}

fn to_http(reply: hookhole_shared::protocol::Response) -> Response<Full<Bytes>> {
    let mut list = reply.headers;
    headers::strip_hop_by_hop(&mut list);
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let map = response.headers_mut();
    for h in list {
        // Both came from a valid HTTP response; skip any that do not re-parse.
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(&h.value),
        ) {
            map.append(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_channel_and_rest() {
        assert_eq!(split_path("/dev/x/y"), Some(("dev", "/x/y")));
        assert_eq!(split_path("/dev"), Some(("dev", "")));
        assert_eq!(split_path("/dev/"), Some(("dev", "/")));
        assert_eq!(
            split_path("/dev//evil.example/x"),
            Some(("dev", "//evil.example/x"))
        );
        assert_eq!(split_path("/"), None);
        assert_eq!(split_path(""), None);
        assert_eq!(split_path("//x"), None);
    }

    proptest::proptest! {
        /// Any path: a split or nothing, never a panic, and the channel is
        /// always a single path segment.
        #[test]
        fn split_path_never_panics(path in ".{0,200}") {
            if let Some((channel, rest)) = split_path(&path) {
                proptest::prop_assert!(!channel.contains('/') && !channel.is_empty());
                proptest::prop_assert!(rest.is_empty() || rest.starts_with('/'));
            }
        }
    }
}
