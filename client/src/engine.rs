//! The client engine: keeps a link to the relay, forwards every delivery to
//! the local server, answers the relay, and reports events.
//!
//! The link is retried with backoff until the relay refuses us for good
//! (wrong protocol version, bad channel name), which ends the engine with an
//! error the user can act on.

use crate::backoff;
use crate::events::{ConnectionEvent, Event, LinkState};
use crate::forward::Forwarder;
use crate::history::{History, Writer};
use crate::memory::ChannelMemory;
use crate::netwatch::{self, Change, Watch};
use crate::verification::Verifier;
use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{
    CONNECT_PATH, ClientMessage, Delivery, Hello, Message as _, RelayMessage, VERSION, Welcome,
    Wire, close,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

mod delivery;

use delivery::{DeliveryContext, handle_delivery};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Answers waiting to be written to the relay.
const OUTBOX_CAPACITY: usize = 256;

/// How long the relay has to answer a ping sent after a sleep or a network
/// change (at most three heartbeats, like any silence).
const PROBE_LIMIT: Duration = Duration::from_secs(5);
/// Largest message accepted from the relay: its body limit plus headers.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub struct EngineConfig {
    /// The relay's base URL (`http://`, or `ws://`).
    pub relay_url: String,
    /// The channel to join; `None` asks the remembered one, then the relay.
    pub channel: Option<String>,
    /// Where to remember a relay-assigned channel, and under which key.
    pub memory: Option<(ChannelMemory, String)>,
    pub forwarder: Forwarder,
    /// The protocol version sent in `hello` (always [`VERSION`] outside tests).
    pub protocol_version: u32,
    pub handshake_timeout: Duration,
    /// Sent in `hello` to relays that require one.
    pub token: Option<hookhole_shared::protocol::Token>,
    /// Trust for `https://` relays.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Checks each delivery's signature.
    pub verifier: Arc<Verifier>,
    /// The history, for reads (the last saved sequence number).
    pub history: Option<Arc<History>>,
    /// Where deliveries and attempts are saved, if anywhere.
    pub writer: Option<Writer>,
    /// The machine's addresses: when they change, the link is checked.
    pub addresses: netwatch::Addresses,
}

impl EngineConfig {
    pub fn new(relay_url: String, forwarder: Forwarder) -> Self {
        EngineConfig {
            relay_url,
            channel: None,
            memory: None,
            forwarder,
            protocol_version: VERSION,
            handshake_timeout: Duration::from_secs(10),
            token: None,
            tls: None,
            verifier: Arc::new(Verifier::default()),
            history: None,
            writer: None,
            addresses: netwatch::interface_addresses(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the relay refused the connection: {reason} (close code {code})")]
    Refused { code: u16, reason: String },
    #[error("{0}")]
    Config(String),
    /// The relay's TLS certificate failed verification: why, and the fix.
    #[error("{0}")]
    Untrusted(String),
}

/// How one connected session ended.
enum End {
    Shutdown,
    Lost(String),
    Refused {
        code: u16,
        reason: String,
    },
    /// The relay's certificate failed verification: retrying cannot help.
    Untrusted(String),
}

/// The websocket URL for a relay base URL.
pub fn connect_url(relay_url: &str) -> Result<String, EngineError> {
    crate::target::check_relay(relay_url)
        .map_err(|why| EngineError::Config(format!("--relay {relay_url}: {why}")))?;
    let base = relay_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_string()
    } else {
        return Err(EngineError::Config(format!(
            "--relay {relay_url}: expected an http:// or https:// URL"
        )));
    };
    Ok(format!("{ws}{CONNECT_PATH}"))
}

/// Runs until `shutdown` is cancelled or the relay refuses us for good.
pub async fn run(
    config: EngineConfig,
    events: mpsc::Sender<Event>,
    shutdown: CancellationToken,
) -> Result<(), EngineError> {
    let url = connect_url(&config.relay_url)?;
    let mut channel = config.channel.clone().or_else(|| {
        config
            .memory
            .as_ref()
            .and_then(|(memory, key)| memory.get(key))
    });
    let mut ready_sent = false;
    let mut failures: u32 = 0;
    let mut watch = Watch::new(config.addresses.clone());
    loop {
        // Ctrl-C must not wait for a connection attempt to a stalled relay.
        let attempt = tokio::select! {
            attempt = connect(&config, &url, channel.clone()) => attempt,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let reason = match attempt {
            Ok((ws, welcome)) => {
                failures = 0;
                remember(&config, &welcome);
                channel = Some(welcome.channel.clone());
                let event = if ready_sent {
                    Event::Connection(ConnectionEvent {
                        state: LinkState::Connected,
                        reason: None,
                        retry_in_ms: None,
                        listeners: Some(welcome.listeners),
                    })
                } else {
                    ready_sent = true;
                    Event::Ready {
                        public_url: welcome.public_url.clone(),
                        channel: welcome.channel.clone(),
                        listeners: welcome.listeners,
                        forward: config.forwarder.target().to_string(),
                    }
                };
                let _ = events.send(event).await;
                match session(ws, &welcome, &config, &events, &mut watch, &shutdown).await {
                    End::Shutdown => return Ok(()),
                    End::Lost(reason) => reason,
                    End::Refused { code, reason } => {
                        return Err(fatal(&events, EngineError::Refused { code, reason }).await);
                    }
                    End::Untrusted(reason) => {
                        return Err(fatal(&events, EngineError::Untrusted(reason)).await);
                    }
                }
            }
            Err(End::Refused { code, reason }) => {
                return Err(fatal(&events, EngineError::Refused { code, reason }).await);
            }
            Err(End::Untrusted(reason)) => {
                return Err(fatal(&events, EngineError::Untrusted(reason)).await);
            }
            Err(End::Lost(reason)) => reason,
            Err(End::Shutdown) => return Ok(()),
        };
        failures += 1;
        let delay = backoff::delay(failures, backoff::random_fraction());
        tracing::warn!(
            "{reason}; reconnecting in {}",
            // Whole milliseconds: "207ms", not "207ms 453us 274ns".
            humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
        );
        let _ = events
            .send(Event::Connection(ConnectionEvent {
                state: LinkState::Reconnecting,
                reason: Some(reason),
                retry_in_ms: Some(delay.as_millis() as u64),
                listeners: None,
            }))
            .await;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            change = watch.next() => tracing::info!("{change}: reconnecting now"),
            _ = shutdown.cancelled() => return Ok(()),
        }
    }
}

/// Reports why the engine ends for good (the UI's status, the JSON lines,
/// then the exit message): a refusal, or a certificate that failed
/// verification, which would fail every retry the same way.
async fn fatal(events: &mpsc::Sender<Event>, error: EngineError) -> EngineError {
    let reason = match &error {
        EngineError::Refused { reason, .. } | EngineError::Untrusted(reason) => reason.clone(),
        other => other.to_string(),
    };
    let _ = events
        .send(Event::Connection(ConnectionEvent {
            state: LinkState::Failed,
            reason: Some(reason),
            retry_in_ms: None,
            listeners: None,
        }))
        .await;
    error
}

fn remember(config: &EngineConfig, welcome: &Welcome) {
    if config.channel.is_some() {
        return;
    }
    if let Some((memory, key)) = &config.memory
        && let Err(e) = memory.set(key, &welcome.channel)
    {
        tracing::warn!("cannot remember channel {}: {e}", welcome.channel);
    }
}

fn to_message(wire: Wire) -> Message {
    match wire {
        Wire::Text(t) => Message::text(t),
        Wire::Binary(b) => Message::Binary(b.into()),
    }
}

fn close_reason(frame: Option<&CloseFrame>) -> (u16, String) {
    match frame {
        Some(f) => (u16::from(f.code), f.reason.to_string()),
        None => (1005, String::new()),
    }
}

/// Opens the websocket and completes the hello/welcome handshake.
async fn connect(
    config: &EngineConfig,
    url: &str,
    channel: Option<String>,
) -> Result<(Ws, Welcome), End> {
    // Resume: the relay resends buffered deliveries after the last one saved.
    let last_acked_seq = match (&config.history, &channel) {
        (Some(history), Some(channel)) => {
            let (history, channel) = (history.clone(), channel.clone());
            tokio::task::spawn_blocking(move || history.last_seq(&channel).ok().flatten())
                .await
                .ok()
                .flatten()
        }
        _ => None,
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = async {
        let connector = config.tls.clone().map(tokio_tungstenite::Connector::Rustls);
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, Some(ws_config), true, connector)
                .await
                .map_err(|e| match crate::relay_tls::untrusted(&e) {
                    Some(why) => End::Untrusted(why),
                    None => End::Lost(format!("relay unreachable: {e}")),
                })?;
        let hello = ClientMessage::Hello(Hello {
            version: config.protocol_version,
            channel,
            token: config.token.clone(),
            last_acked_seq,
            agent: concat!("hookhole/", env!("CARGO_PKG_VERSION")).to_string(),
        });
        ws.send(to_message(hello.encode()))
            .await
            .map_err(|e| End::Lost(format!("relay handshake failed: {e}")))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match RelayMessage::decode_text(text.as_str()) {
                    Ok(RelayMessage::Welcome(welcome))
                        if welcome.version != config.protocol_version =>
                    {
                        return Err(End::Refused {
                            code: close::UNSUPPORTED_VERSION,
                            reason: format!(
                                "the relay speaks protocol version {}, this client {}",
                                welcome.version, config.protocol_version
                            ),
                        });
                    }
                    Ok(RelayMessage::Welcome(welcome)) => return Ok((ws, welcome)),
                    Ok(_) => continue,
                    Err(e) => return Err(End::Lost(format!("bad welcome from the relay: {e}"))),
                },
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = close_reason(frame.as_ref());
                    return Err(if close::is_fatal(code) {
                        End::Refused { code, reason }
                    } else {
                        End::Lost(format!("relay closed the connection: {reason}"))
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(End::Lost(format!("relay handshake failed: {e}"))),
                None => return Err(End::Lost("relay closed the connection".to_string())),
            }
        }
    };
    match tokio::time::timeout(config.handshake_timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(End::Lost(
            "relay did not answer the handshake in time".to_string(),
        )),
    }
}

/// Serves one connected session until it ends.
async fn session(
    mut ws: Ws,
    welcome: &Welcome,
    config: &EngineConfig,
    events: &mpsc::Sender<Event>,
    watch: &mut Watch,
    shutdown: &CancellationToken,
) -> End {
    let (outbox_tx, mut outbox) = mpsc::channel::<Message>(OUTBOX_CAPACITY);
    let interval = match welcome.heartbeat_ms {
        Some(ms) => Duration::from_millis(ms.max(10)),
        None => Duration::from_secs(welcome.heartbeat_secs.max(1)),
    };
    // Three missed heartbeats: the link is dead even if TCP has not noticed.
    let silence_limit = interval * 3;
    // After a sleep or a network change the link may be dead without a
    // sound: a ping must be answered within this, not 45 s of silence.
    let answer_limit = silence_limit.min(PROBE_LIMIT);
    let mut probe: Option<(Instant, Change)> = None;
    let mut ticker = tokio::time::interval(interval);
    let heartbeat = to_message(ClientMessage::Heartbeat.encode());
    let context = DeliveryContext {
        forwarder: config.forwarder.clone(),
        verifier: config.verifier.clone(),
        history: config.history.clone(),
        writer: config.writer.clone(),
        channel: welcome.channel.clone(),
        // A bigger answer would exceed the relay's message limit and cost the link.
        max_response: usize::try_from(welcome.max_body).unwrap_or(usize::MAX),
        outbox: outbox_tx.clone(),
        events: events.clone(),
    };
    let (queued_tx, mut queued_rx) = mpsc::channel::<Delivery>(OUTBOX_CAPACITY);
    let in_order = context.clone();
    // Ends when the session does (its sender is dropped).
    tokio::spawn(async move {
        while let Some(delivery) = queued_rx.recv().await {
            handle_delivery(in_order.clone(), delivery).await;
        }
    });
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            incoming = ws.next() => {
                last_heard = Instant::now();
                probe = None;
                match incoming {
                    Some(Ok(Message::Binary(bytes))) => match RelayMessage::decode_binary(bytes) {
                        Ok(RelayMessage::Delivery(delivery)) => {
                            if delivery.queued {
                                // Kept while we were away: forwarded one at a time, in order.
                                let _ = queued_tx.send(delivery).await;
                            } else {
                                tokio::spawn(handle_delivery(context.clone(), delivery));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => return protocol_error(&mut ws, e.to_string()).await,
                    },
                    Some(Ok(Message::Text(text))) => match RelayMessage::decode_text(text.as_str()) {
                        Ok(RelayMessage::Listeners { count }) => {
                            let _ = events.send(Event::Listeners { count }).await;
                        }
                        Ok(RelayMessage::Heartbeat) => {
                            // try_send: a busy consumer may skip a heartbeat.
                            let _ = events.try_send(Event::Heartbeat);
                        }
                        Ok(_) => {}
                        Err(e) => return protocol_error(&mut ws, e.to_string()).await,
                    },
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = close_reason(frame.as_ref());
                        if close::is_fatal(code) {
                            return End::Refused { code, reason };
                        }
                        return End::Lost(format!("the relay went away: {}", if reason.is_empty() { "connection closed" } else { &reason }));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return End::Lost(format!("connection to the relay lost: {e}")),
                    None => return End::Lost("connection to the relay lost".to_string()),
                }
            }
            Some(message) = outbox.recv() => {
                let mut result = ws.feed(message).await;
                while result.is_ok() {
                    match outbox.try_recv() {
                        Ok(next) => result = ws.feed(next).await,
                        Err(_) => break,
                    }
                }
                if let Err(e) = result.and(ws.flush().await) {
                    return End::Lost(format!("connection to the relay lost: {e}"));
                }
            }
            change = watch.next() => {
                tracing::info!("{change}: checking the link to the relay");
                if let Err(e) = ws.send(Message::Ping(Default::default())).await {
                    return End::Lost(format!("{change}; the link to the relay is gone: {e}"));
                }
                probe = Some((Instant::now(), change));
            }
            change = unanswered(probe, answer_limit) => {
                return End::Lost(format!(
                    "{change} and the relay did not answer within {}",
                    humantime::format_duration(answer_limit)
                ));
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > silence_limit {
                    return End::Lost(format!(
                        "no heartbeat from the relay for {}",
                        humantime::format_duration(silence_limit)
                    ));
                }
                if let Err(e) = ws.send(heartbeat.clone()).await {
                    return End::Lost(format!("connection to the relay lost: {e}"));
                }
            }
            _ = shutdown.cancelled() => {
                let _ = ws
                    .close(Some(CloseFrame {
                        code: 1000.into(),
                        reason: "client shutting down".into(),
                    }))
                    .await;
                return End::Shutdown;
            }
        }
    }
}

/// Ends, with what prompted it, when a probe has gone unanswered for
/// `limit`; never without a probe.
async fn unanswered(probe: Option<(Instant, Change)>, limit: Duration) -> Change {
    match probe {
        Some((sent, change)) => {
            tokio::time::sleep_until(sent + limit).await;
            change
        }
        None => std::future::pending().await,
    }
}

async fn protocol_error(ws: &mut Ws, error: String) -> End {
    let _ = ws
        .close(Some(CloseFrame {
            code: close::PROTOCOL_ERROR.into(),
            reason: "malformed message".into(),
        }))
        .await;
    End::Lost(format!("malformed message from the relay: {error}"))
}
