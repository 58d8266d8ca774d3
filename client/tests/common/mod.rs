//! End-to-end harness: a real relay and a real client engine on `127.0.0.1:0`,
//! a real local HTTP server that records requests exactly as they arrived on
//! the wire (`target`), and a raw-socket sender (`sender`). Every wait has a
//! timeout; everything shuts down on drop.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod doctor;
pub mod nats;
pub mod pebble;
pub mod process;
mod sender;
mod target;
pub mod tmux;

// Every test binary sees the whole harness as `common::*`; some use none
// of one part.
#[allow(unused_imports)]
pub use sender::*;
#[allow(unused_imports)]
pub use target::*;

use hookhole::engine::{self, EngineConfig, EngineError};
use hookhole::events::Event;
use hookhole::forward::Forwarder;
use hookhole::target::Target;
use hookhole_relay::RelayConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Upper bound for any single wait in a test: generous, since CI is noisy;
/// a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(30);

pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

// ---------------------------------------------------------------- relay

pub struct TestRelay {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestRelay {
    pub async fn start() -> Self {
        Self::start_with(RelayConfig::default()).await
    }

    pub async fn start_with(config: RelayConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, config)
    }

    pub fn on(listener: TcpListener, config: RelayConfig) -> Self {
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(hookhole_relay::serve(listener, config, shutdown.clone()));
        TestRelay {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `/_hookhole/health` as JSON.
    pub async fn health(&self) -> serde_json::Value {
        send("GET", &format!("{}/_hookhole/health", self.url()), &[], b"")
            .await
            .json()
    }

    /// The relay's metrics text once it contains `needle` (a rejection is
    /// counted when its connection task ends, which may follow the answer).
    pub async fn metrics_with(&self, needle: &str) -> String {
        let url = format!("{}/_hookhole/metrics", self.url());
        within(&format!("{needle} in the metrics"), async {
            loop {
                let sent = send("GET", &url, &[], b"").await;
                let text = String::from_utf8_lossy(&sent.body).into_owned();
                if sent.status == 200 && text.contains(needle) {
                    return text;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
    }

    /// Cancels the relay and waits until it has drained and stopped.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            within("relay to stop", task).await.unwrap().unwrap();
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

// ---------------------------------------------------------------- client

pub struct TestClient {
    pub events: mpsc::Receiver<Event>,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<Result<(), EngineError>>>,
    pub public_url: String,
    pub channel: String,
    pub listeners: u32,
    /// The answer mode in force when it joined.
    pub answer: hookhole_shared::protocol::Answer,
}

pub fn engine_config(relay_url: &str, channel: Option<&str>, target: &str) -> EngineConfig {
    let forwarder = Forwarder::new(
        Target::parse(target).unwrap(),
        Duration::from_secs(30),
        hookhole::forward::DEFAULT_MAX_RESPONSE,
    );
    let mut config = EngineConfig::new(relay_url.to_string(), forwarder);
    config.channel = channel.map(str::to_string);
    config
}

impl TestClient {
    pub async fn start(relay_url: &str, channel: Option<&str>, target: &str) -> Self {
        Self::start_with(engine_config(relay_url, channel, target)).await
    }

    /// Starts an engine and waits for its `ready` event.
    pub async fn start_with(config: EngineConfig) -> Self {
        let (tx, mut events) = mpsc::channel(4096);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(engine::run(config, tx, shutdown.clone()));
        let ready = within("the client's ready event", events.recv()).await;
        let Some(Event::Ready {
            public_url,
            channel,
            listeners,
            answer,
            ..
        }) = ready
        else {
            panic!("expected ready, got {ready:?}");
        };
        TestClient {
            events,
            shutdown,
            task: Some(task),
            public_url,
            channel,
            listeners,
            answer,
        }
    }

    pub async fn next_event(&mut self) -> Event {
        within("a client event", self.events.recv())
            .await
            .expect("the engine stopped")
    }

    /// Skips events until one matches.
    pub async fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
        within(what, async {
            loop {
                match self.events.recv().await {
                    Some(e) if pred(&e) => return e,
                    Some(_) => continue,
                    None => panic!("the engine stopped while waiting for {what}"),
                }
            }
        })
        .await
    }

    pub async fn stop(mut self) -> Result<(), EngineError> {
        self.shutdown.cancel();
        let task = self.task.take().unwrap();
        within("the client to stop", task).await.unwrap()
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A websocket that speaks the protocol by hand.
pub type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A websocket to the relay at `relay`: `hello` (raw JSON) is sent first
/// when given; nothing is read.
pub async fn raw_peer(relay: SocketAddr, hello: Option<&str>) -> RawWs {
    use futures_util::SinkExt;
    let url = format!("ws://{relay}/_hookhole/connect");
    let (mut ws, _) = within(
        "a raw websocket",
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap();
    if let Some(hello) = hello {
        ws.send(tokio_tungstenite::tungstenite::Message::text(hello))
            .await
            .unwrap();
    }
    ws
}

/// The code of the close frame the relay ends `ws` with (other messages
/// before it are skipped).
pub async fn close_code(ws: &mut RawWs) -> u16 {
    close_frame(ws).await.0
}

/// The code and reason of the close frame the relay ends `ws` with.
pub async fn close_frame(ws: &mut RawWs) -> (u16, String) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    within("a close frame", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
}

/// Runs an engine against `relay_url` and returns the reason it was
/// refused with `UNAUTHORIZED`.
pub async fn refusal(relay_url: &str, channel: Option<&str>, token: Option<&str>) -> String {
    let mut config = engine_config(relay_url, channel, "http://127.0.0.1:9");
    config.token = token.map(|t| hookhole_shared::protocol::Token(t.to_string()));
    let (tx, _events) = tokio::sync::mpsc::channel(16);
    let result = within(
        "the engine to be refused",
        hookhole::engine::run(config, tx, tokio_util::sync::CancellationToken::new()),
    )
    .await;
    match result {
        Err(EngineError::Refused { code, reason }) => {
            assert_eq!(
                code,
                hookhole_shared::protocol::close::UNAUTHORIZED,
                "{reason}"
            );
            reason
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A sender of the user's own, "Acme" (`[[preset]]` in `hookhole.toml`):
/// signs with `X-Acme-Signature`, has its event type and id in the body,
/// a deadline of `deadline_ms`, and retries any failure twice.
pub fn acme_preset(deadline_ms: u64) -> String {
    format!(
        r#"
[[preset]]
id = "acme"
name = "Acme"
secret_hint = "the Acme secret"
header = "X-Acme-Signature"

[preset.events]
type = "body:/type"
id = "body:/id"
deadline_ms = {deadline_ms}

[preset.events.retries]
attempts = 3
delays_s = [60, 600]
on = "any_failure"
"#
    )
}
