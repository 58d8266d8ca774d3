//! The client engine: keeps a link to a relay, forwards every delivery to
//! the local server, answers the relay, and reports events.
//!
//! The link is retried with backoff until the relay refuses us for good
//! (wrong protocol version, bad channel name), which ends the engine with an
//! error the user can act on. With several relays, each new attempt goes to
//! the next one ([`relays`]), asking for the same channel and sending the
//! same token.

use crate::backoff;
use crate::events::{ConnectionEvent, Event, LinkState};
use crate::forward::Forwarder;
use crate::history::{History, Writer};
use crate::memory::ChannelMemory;
use crate::netwatch::{self, Watch};
use crate::verification::Verifier;
use hookhole_shared::protocol::{CONNECT_PATH, VERSION, Welcome, Wire, close};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

mod delivery;
mod early_answers;
mod handshake;
pub mod relays;
mod session;

use relays::{Ending, Pace, Relay, Rotation};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct EngineConfig {
    /// The relays to connect to: the first, then the next one after each
    /// lost link or failed attempt, round robin.
    pub relays: Vec<Relay>,
    /// The channel to join; `None` asks the remembered one, then the relay.
    pub channel: Option<String>,
    /// Where to remember a relay-assigned channel (under each relay's
    /// `memory_key`).
    pub memory: Option<ChannelMemory>,
    pub forwarder: Forwarder,
    /// The protocol version sent in `hello` (always [`VERSION`] outside tests).
    pub protocol_version: u32,
    pub handshake_timeout: Duration,
    /// Sent in `hello` to every relay (to those that require one).
    pub token: Option<hookhole_shared::protocol::Token>,
    /// Trust for `https://` relays.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Checks each delivery's signature.
    pub verifier: Arc<Verifier>,
    /// The provider of deliveries whose signature names none
    /// (`listen --provider`): their webhook facts are read by its rules.
    pub provider: Option<String>,
    /// Where deliveries go, other than `forwarder`'s target.
    pub routes: Arc<crate::route::Routes>,
    /// The history, for reads (the last saved sequence number).
    pub history: Option<Arc<History>>,
    /// Where deliveries and attempts are saved, if anywhere.
    pub writer: Option<Writer>,
    /// The machine's addresses: when they change, the link is checked.
    pub addresses: netwatch::Addresses,
    /// Plays the provider's retries of deliveries that failed here
    /// (`listen --retries`).
    pub retries: Option<crate::retries::Retrier>,
    /// How this client asks the relay to answer senders (`listen --answer`).
    pub answer: hookhole_shared::protocol::Answer,
}

impl EngineConfig {
    /// A client of the one relay at `relay_url`.
    pub fn new(relay_url: String, forwarder: Forwarder) -> Self {
        Self::with_relays(vec![Relay::new(relay_url)], forwarder)
    }

    /// A client of these relays, tried in turn.
    pub fn with_relays(relays: Vec<Relay>, forwarder: Forwarder) -> Self {
        EngineConfig {
            relays,
            channel: None,
            memory: None,
            forwarder,
            protocol_version: VERSION,
            handshake_timeout: Duration::from_secs(10),
            token: None,
            tls: None,
            verifier: Arc::new(Verifier::default()),
            provider: None,
            routes: Arc::default(),
            history: None,
            writer: None,
            addresses: netwatch::interface_addresses(),
            retries: None,
            answer: hookhole_shared::protocol::Answer::Local,
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

/// How one connected session (or an attempt at one) ended.
enum End {
    Shutdown,
    Lost(String),
    /// The relay closed the link with "going away": it is shutting down.
    GoingAway(String),
    Refused {
        code: u16,
        reason: String,
    },
    /// The relay's certificate failed verification: retrying cannot help.
    Untrusted(String),
}

/// The websocket URL for a relay base URL, or why it is not a relay URL
/// (without naming the setting it came from).
pub fn connect_url(relay_url: &str) -> Result<String, String> {
    crate::target::check_relay(relay_url)?;
    let base = relay_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_string()
    } else {
        return Err("expected an http:// or https:// URL".to_string());
    };
    Ok(format!("{ws}{CONNECT_PATH}"))
}

/// Runs until `shutdown` is cancelled or a relay refuses us for good.
pub async fn run(
    config: EngineConfig,
    events: mpsc::Sender<Event>,
    shutdown: CancellationToken,
) -> Result<(), EngineError> {
    let rotation = Rotation::new(config.relays.clone()).map_err(EngineError::Config)?;
    let mut engine = Engine {
        channel: config.channel.clone().or_else(|| remembered(&config)),
        watch: Watch::new(config.addresses.clone()),
        config,
        events,
        shutdown,
        rotation,
        ready_sent: false,
        failures: 0,
    };
    loop {
        let relay = engine.rotation.current().clone();
        let (ending, reason) = match engine.attempt(&relay).await {
            Ok(ended) => ended,
            Err(Stop::Shutdown) => return Ok(()),
            Err(Stop::Fatal(error)) => return Err(engine.fatal(&relay, error).await),
        };
        if !engine.pause(&relay, ending, reason).await {
            return Ok(());
        }
    }
}

/// Why the engine stops.
enum Stop {
    Shutdown,
    /// A refusal, or a certificate that failed verification, which would
    /// fail every retry the same way.
    Fatal(EngineError),
}

/// A session's end as the engine acts on it: how the link ended (which
/// picks the next relay and the pace) and why, or that the engine stops.
/// `lasted` is `None` when there was no link (the attempt failed).
fn settle(end: End, lasted: Option<Duration>) -> Result<(Ending, String), Stop> {
    match end {
        End::Shutdown => Err(Stop::Shutdown),
        End::Lost(reason) => Ok((
            lasted.map_or(Ending::Unreachable, |lasted| Ending::Lost { lasted }),
            reason,
        )),
        // Before the welcome: shutting down as we arrived.
        End::GoingAway(reason) => Ok((
            Ending::GoingAway {
                lasted: lasted.unwrap_or_default(),
            },
            reason,
        )),
        End::Refused { code, reason } => Err(Stop::Fatal(EngineError::Refused { code, reason })),
        End::Untrusted(reason) => Err(Stop::Fatal(EngineError::Untrusted(reason))),
    }
}

/// The engine between links: what it keeps from one relay to the next.
struct Engine {
    config: EngineConfig,
    events: mpsc::Sender<Event>,
    shutdown: CancellationToken,
    watch: Watch,
    rotation: Rotation,
    /// The channel asked for: the one a relay assigned, once one has.
    channel: Option<String>,
    ready_sent: bool,
    /// Failed attempts since the last link: the backoff step.
    failures: u32,
}

impl Engine {
    /// One attempt at `relay`: the handshake, then the session until it ends.
    async fn attempt(&mut self, relay: &Relay) -> Result<(Ending, String), Stop> {
        let url = self.rotation.connect_url().to_string();
        // Ctrl-C must not wait for a connection attempt to a stalled relay.
        let attempt = tokio::select! {
            attempt = handshake::connect(&self.config, &url, self.channel.clone()) => attempt,
            _ = self.shutdown.cancelled() => return Err(Stop::Shutdown),
        };
        let (ws, welcome) = match attempt {
            Ok(link) => link,
            Err(end) => return settle(end, None),
        };
        self.failures = 0;
        remember(&self.config, relay, &welcome);
        // Asked of every relay from now on: the channel goes with the client.
        self.channel = Some(welcome.channel.clone());
        let event = self.connected(relay, &welcome);
        let _ = self.events.send(event).await;
        let since = Instant::now();
        let end = session::serve(
            ws,
            &welcome,
            &self.config,
            &self.events,
            &mut self.watch,
            &self.shutdown,
        )
        .await;
        settle(end, Some(since.elapsed()))
    }

    /// Moves on to the next relay and waits as long as the link's ending
    /// calls for, saying so; `false` when shut down meanwhile.
    async fn pause(&mut self, relay: &Relay, ending: Ending, reason: String) -> bool {
        let delay = match self.rotation.advance(ending) {
            Pace::AtOnce => Duration::ZERO,
            Pace::Backoff => {
                self.failures += 1;
                backoff::delay(self.failures, backoff::random_fraction())
            }
        };
        let next = self.rotation.current();
        tracing::warn!(
            "{}: {reason}; reconnecting to {} in {}",
            relay.name(),
            next.name(),
            // Whole milliseconds: "207ms", not "207ms 453us 274ns".
            humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
        );
        let _ = self
            .events
            .send(Event::Connection(ConnectionEvent {
                state: LinkState::Reconnecting,
                reason: Some(reason),
                retry_in_ms: Some(delay.as_millis() as u64),
                listeners: None,
                relay: Some(relay.name()),
                next_relay: Some(next.name()),
                public_url: None,
                answer: None,
            }))
            .await;
        if delay.is_zero() {
            return !self.shutdown.is_cancelled();
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            change = self.watch.next() => {
                tracing::info!("{change}: reconnecting now");
                true
            }
            _ = self.shutdown.cancelled() => false,
        }
    }

    /// The event for a new link: `ready` the first time (the URL to paste
    /// into the provider), `connected` after that, each naming the relay
    /// and the URL it gives, which may differ from the last relay's.
    fn connected(&mut self, relay: &Relay, welcome: &Welcome) -> Event {
        let answer = welcome.answer.unwrap_or_default();
        if answer != self.config.answer {
            tracing::warn!(
                "the relay answers senders in mode {answer}, not {} as asked: a relay \
                 applies the strictest mode of a channel's clients, and local where it \
                 cannot keep deliveries (no buffer, or a cluster)",
                self.config.answer,
            );
        }
        if std::mem::replace(&mut self.ready_sent, true) {
            return Event::Connection(ConnectionEvent {
                state: LinkState::Connected,
                reason: None,
                retry_in_ms: None,
                listeners: Some(welcome.listeners),
                relay: Some(relay.name()),
                next_relay: None,
                public_url: Some(welcome.public_url.clone()),
                answer: Some(answer),
            });
        }
        Event::Ready {
            public_url: welcome.public_url.clone(),
            channel: welcome.channel.clone(),
            listeners: welcome.listeners,
            forward: self.config.forwarder.target().to_string(),
            relay: relay.name(),
            answer,
        }
    }

    /// Reports why the engine ends for good (the UI's status, the JSON
    /// lines, then the exit message).
    async fn fatal(&self, relay: &Relay, error: EngineError) -> EngineError {
        let reason = match &error {
            EngineError::Refused { reason, .. } | EngineError::Untrusted(reason) => reason.clone(),
            other => other.to_string(),
        };
        let _ = self
            .events
            .send(Event::Connection(ConnectionEvent {
                state: LinkState::Failed,
                reason: Some(reason),
                retry_in_ms: None,
                listeners: None,
                relay: Some(relay.name()),
                next_relay: None,
                public_url: None,
                answer: None,
            }))
            .await;
        error
    }
}

/// The channel remembered for the first relay of the list that has one.
fn remembered(config: &EngineConfig) -> Option<String> {
    let memory = config.memory.as_ref()?;
    config
        .relays
        .iter()
        .find_map(|relay| memory.get(&relay.memory_key))
}

/// Remembers the channel `relay` gave us (when none was asked for by name),
/// so the URL pasted into a provider stays valid across runs.
fn remember(config: &EngineConfig, relay: &Relay, welcome: &Welcome) {
    if config.channel.is_some() {
        return;
    }
    if let Some(memory) = &config.memory
        && let Err(e) = memory.set(&relay.memory_key, &welcome.channel)
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

/// What a close frame from the relay means: a refusal for good, the relay
/// going away (shutting down), or a loss to recover from.
fn closed_by_relay(frame: Option<&CloseFrame>) -> End {
    let (code, reason) = match frame {
        Some(f) => (u16::from(f.code), f.reason.to_string()),
        None => (1005, String::new()),
    };
    if close::is_fatal(code) {
        return End::Refused { code, reason };
    }
    let why = if reason.is_empty() {
        "connection closed"
    } else {
        &reason
    };
    let reason = format!("the relay went away: {why}");
    if code == close::GOING_AWAY {
        End::GoingAway(reason)
    } else {
        End::Lost(reason)
    }
}
