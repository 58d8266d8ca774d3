//! One client's websocket session: handshake, then deliveries out and
//! answers in, with heartbeats both ways.

use crate::buffer::Buffer;
use crate::hub::{Listener, Reply};
use crate::state::RelayState;
use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{
    Answer, ClientMessage, Message as _, RelayMessage, VERSION, Welcome, Wire, close,
};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Pings a client may send per second before it is disconnected.
const MAX_PINGS_PER_SECOND: u32 = 50;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

mod admission;
mod probe;

use admission::{admit, claim};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Room for a delivery's JSON header on top of the largest body.
const FRAME_OVERHEAD: usize = 2 * 1024 * 1024;

/// The largest message a link carries for bodies up to `max_body`.
pub fn max_frame(max_body: usize) -> usize {
    max_body + FRAME_OVERHEAD
}

pub fn ws_config(max_body: usize) -> WebSocketConfig {
    // tungstenite allocates its read buffer up front, 128 KiB by default:
    // with thousands of idle clients that is most of the relay's memory. It
    // grows as needed for large frames.
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(Some(max_frame(max_body)))
        .max_frame_size(Some(max_frame(max_body)))
}

fn to_message(wire: Wire) -> Message {
    match wire {
        Wire::Text(t) => Message::text(t),
        Wire::Binary(b) => Message::Binary(b.into()),
    }
}

async fn close_with(ws: &mut Ws, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    // The peer may already be gone; there is nobody left to tell.
    let _ = ws.close(Some(frame)).await;
    // Read (and drop) what the peer still sends until it closes, briefly:
    // closing a socket with unread data makes the kernel send a reset,
    // which can reach the peer before our close frame and hide its code.
    let drain = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = tokio::io::AsyncReadExt::read(ws.get_mut(), &mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// Runs a session on an upgraded connection until either side ends it.
/// `base` is the public URL's base the client is told (`https://relay.example`).
pub async fn run(state: Arc<RelayState>, upgraded: Upgraded, base: String) {
    let io = TokioIo::new(upgraded);
    let mut ws =
        WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config(state.config.max_body)))
            .await;
    let hello = match tokio::time::timeout(state.config.handshake_timeout, ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => match ClientMessage::decode_text(text.as_str()) {
            Ok(ClientMessage::Hello(hello)) => hello,
            Ok(other) => {
                let reason = format!("expected hello, got {}", other.kind());
                return close_with(&mut ws, close::BAD_HELLO, &reason).await;
            }
            Err(e) => {
                let reason = format!("bad hello: {e}");
                return close_with(&mut ws, close::BAD_HELLO, truncate(&reason)).await;
            }
        },
        Ok(_) => {
            return close_with(&mut ws, close::BAD_HELLO, "expected a hello text message").await;
        }
        // A stall rather than a mistake: a code the client retries after.
        Err(_) => {
            return close_with(
                &mut ws,
                close::HEARTBEAT_TIMEOUT,
                "no hello within the handshake timeout",
            )
            .await;
        }
    };
    let channel = match admit(&state, &hello) {
        Ok((channel, owner)) if hello.probe => {
            return probe::answer(&state, &mut ws, channel, owner.as_deref(), &base).await;
        }
        Ok((channel, owner)) => match claim(&state, &channel, owner.as_deref()).await {
            Ok(()) => channel,
            Err((code, reason)) => return close_with(&mut ws, code, &reason).await,
        },
        Err((code, reason)) => return close_with(&mut ws, code, &reason).await,
    };

    // Under the gate: a webhook arriving now is either buffered (and
    // committed) before we join, or routed live to us after we joined.
    let (listener, outbox, everyone, buffer) = {
        let gate = state.gate.lock().await;
        let present = state.hub.route(&channel).map_or(0, |l| l.len());
        if present >= state.config.limits.clients {
            drop(gate);
            let reason =
                format!("channel {channel} already has {present} clients, the relay's limit");
            return close_with(&mut ws, close::CHANNEL_FULL, &reason).await;
        }
        let (listener, outbox, everyone) =
            state.hub.join(&channel, hello.answer.unwrap_or_default());
        let buffer = match &state.buffer {
            Some(writer) => {
                // Every delivery queued before we joined is committed
                // before the buffer is read, after the gate. What is
                // buffered later (answer modes keep deliveries while
                // clients are joined) comes to us live: the backlog ends
                // at what is there now.
                writer.flush().await;
                let buffer = writer.buffer();
                let last = buffer.last(&channel);
                Some((buffer.clone(), last))
            }
            None => None,
        };
        drop(gate);
        (listener, outbox, everyone, buffer)
    };
    crate::cluster::Cluster::joined(&state, &channel).await;
    tracing::info!(%channel, listener = listener.id, agent = %hello.agent, "client connected");
    let welcome = RelayMessage::Welcome(Welcome {
        version: VERSION,
        channel: channel.clone(),
        public_url: format!("{base}/{channel}"),
        listeners: total_listeners(&state, &channel, everyone.len()),
        heartbeat_secs: state.config.heartbeat_interval.as_secs().max(1),
        heartbeat_ms: Some(state.config.heartbeat_interval.as_millis() as u64),
        max_body: state.config.max_body as u64,
        answer: Some(crate::answer::in_force(&state, &channel, &everyone)),
    });
    if ws.send(to_message(welcome.encode())).await.is_ok()
        && send_buffered(&mut ws, buffer, &channel).await
    {
        announce(&state, &everyone, &listener).await;
        let reason = pump(&state, &listener, &mut ws, outbox).await;
        tracing::info!(%channel, listener = listener.id, %reason, "client disconnected");
    }
    let rest = state.hub.leave(&listener);
    crate::cluster::Cluster::left(&state, &channel);
    announce(&state, &rest, &listener).await;
}

/// Clients of `channel`: `here` on this relay, and in a cluster those on
/// the other nodes.
fn total_listeners(state: &RelayState, channel: &str, here: usize) -> u32 {
    let elsewhere = state
        .cluster
        .as_ref()
        .map_or(0, |c| c.clients_elsewhere(channel));
    here as u32 + elsewhere
}

/// The message telling a client how many clients its channel has, and the
/// answer mode in force (which a join or a leave may change).
pub fn listeners_message(count: u32, answer: Answer) -> Message {
    let answer = Some(answer);
    to_message(RelayMessage::Listeners { count, answer }.encode())
}

/// Bytes of buffered deliveries read from the database and sent at a time.
const PAGE_BYTES: u64 = 4 * 1024 * 1024;

/// Sends the deliveries buffered for the channel up to `last`, oldest
/// first, before any live one (live ones wait in the outbox meanwhile), a
/// page at a time. `false` when the client is gone; a buffer that cannot
/// be read is logged and left for the next connection.
///
/// All of them, whatever the hello's `last_acked_seq` says: deliveries are
/// saved out of order (a backlog one at a time while live ones go at once;
/// under an answer mode a slow local answer after a fast one), so a client
/// that died may have saved 10 and not 9, and dropping "up to 10" would
/// lose 9. The client acknowledges what it saved already (one history
/// lookup each); only deliveries whose ack was lost come twice.
async fn send_buffered(
    ws: &mut Ws,
    buffer: Option<(Arc<Buffer>, Option<u64>)>,
    channel: &str,
) -> bool {
    let Some((buffer, Some(last))) = buffer else {
        return true;
    };
    let count = buffer.count_after(channel, None);
    if count == 0 {
        return true;
    }
    tracing::info!(%channel, count, "sending buffered deliveries");
    let mut cursor = None;
    loop {
        let (reader, name) = (buffer.clone(), channel.to_string());
        let page = tokio::task::spawn_blocking(move || reader.page(&name, cursor, PAGE_BYTES))
            .await
            .map_err(|e| e.to_string())
            .and_then(|read| read.map_err(|e| e.to_string()));
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(%channel, "cannot read the buffer: {e}");
                return true;
            }
        };
        let Some(&(end, _)) = page.last() else {
            return true;
        };
        for (_, frame) in page.into_iter().filter(|(seq, _)| *seq <= last) {
            if ws.feed(Message::Binary(frame)).await.is_err() {
                return false;
            }
        }
        if ws.flush().await.is_err() {
            return false;
        }
        if end >= last {
            return true;
        }
        cursor = Some(end);
    }
}

/// Close reasons must fit in a 123-byte control frame.
pub(crate) fn truncate(reason: &str) -> &str {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Tells every other listener on the channel how many there are now.
async fn announce(state: &RelayState, listeners: &[Arc<Listener>], except: &Listener) {
    // `listeners` is the channel as it is now: after a join it includes the
    // newcomer (told by its welcome), after a leave it no longer has the leaver.
    let count = total_listeners(state, &except.channel, listeners.len());
    let mode = crate::answer::in_force(state, &except.channel, listeners);
    let message = listeners_message(count, mode);
    for other in listeners.iter().filter(|l| l.id != except.id) {
        other.send(message.clone()).await;
    }
}

/// Moves messages both ways until the link ends; returns why it ended.
async fn pump(
    state: &RelayState,
    listener: &Listener,
    ws: &mut Ws,
    mut outbox: mpsc::Receiver<Message>,
) -> String {
    let heartbeat = to_message(RelayMessage::Heartbeat.encode());
    let mut ticker = tokio::time::interval(state.config.heartbeat_interval);
    let mut last_heard = Instant::now();
    // Pings are answered by tungstenite, so a flood of them is work the
    // relay does for nothing: a client gets a budget per second.
    let (mut pings, mut ping_window) = (0u32, Instant::now());
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(message)) => {
                    last_heard = Instant::now();
                    if matches!(message, Message::Ping(_)) {
                        if ping_window.elapsed() > Duration::from_secs(1) {
                            (pings, ping_window) = (0, Instant::now());
                        }
                        pings += 1;
                        if pings > MAX_PINGS_PER_SECOND {
                            let reason = "too many pings";
                            close_with(ws, close::PROTOCOL_ERROR, reason).await;
                            return reason.to_string();
                        }
                    }
                    if let Err(reason) = receive(state, listener, message) {
                        close_with(ws, close::PROTOCOL_ERROR, truncate(&reason)).await;
                        return reason;
                    }
                }
                Some(Err(WsError::Capacity(e))) => {
                    // Standard code 1009: "message too big".
                    close_with(ws, 1009, "message larger than the relay accepts").await;
                    return format!("message too large: {e}");
                }
                Some(Err(e)) => return format!("websocket error: {e}"),
                None => return "connection closed".to_string(),
            },
            Some(message) = outbox.recv() => {
                if let Err(e) = send_batch(ws, message, &mut outbox).await {
                    return format!("send failed: {e}");
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > state.config.heartbeat_timeout {
                    let reason = "no heartbeat from the client";
                    close_with(ws, close::HEARTBEAT_TIMEOUT, reason).await;
                    return reason.to_string();
                }
                if let Err(e) = ws.send(heartbeat.clone()).await {
                    return format!("send failed: {e}");
                }
            }
            _ = state.close_links.cancelled() => {
                close_with(ws, close::GOING_AWAY, "relay shutting down").await;
                return "relay shutting down".to_string();
            }
        }
    }
}

/// Writes one message and whatever else is already queued, then flushes once:
/// under load many deliveries share one write system call.
async fn send_batch(
    ws: &mut Ws,
    first: Message,
    outbox: &mut mpsc::Receiver<Message>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.feed(first).await?;
    for _ in 0..64 {
        match outbox.try_recv() {
            Ok(next) => ws.feed(next).await?,
            Err(_) => break,
        }
    }
    ws.flush().await
}

/// Handles one message from the client.
fn receive(state: &RelayState, listener: &Listener, message: Message) -> Result<(), String> {
    let decoded = match message {
        Message::Text(text) => ClientMessage::decode_text(text.as_str()),
        Message::Binary(bytes) => ClientMessage::decode_binary(bytes),
        // Pings are answered by tungstenite; pongs and raw frames carry nothing.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {
            return Ok(());
        }
    };
    match decoded.map_err(|e| format!("malformed message: {e}"))? {
        ClientMessage::Response(r) => {
            let id = r.id.clone();
            listener.answer(&id, Reply::Response(r));
        }
        ClientMessage::Failed(f) => {
            let id = f.id.clone();
            listener.answer(&id, Reply::Failed(f));
        }
        // The client saved it: a buffered copy may go. Acks of live
        // deliveries cost nothing (the buffer knows what it holds).
        ClientMessage::Ack { id, seq } => {
            // A delivery stored in a cluster waits for this to be released.
            listener.answer(&id, Reply::Saved);
            if let Some(writer) = &state.buffer
                && writer.buffer().holds(&listener.channel, seq)
            {
                writer.ack(&listener.channel, vec![seq]);
            }
        }
        ClientMessage::Heartbeat | ClientMessage::Unknown => {}
        ClientMessage::Hello(_) => return Err("hello sent twice".to_string()),
    }
    Ok(())
}
