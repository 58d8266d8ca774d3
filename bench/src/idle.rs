//! Many connected, idle clients: what one costs the relay in memory.

use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{ClientMessage, Hello, Message as _, VERSION, Wire};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn to_message(message: &ClientMessage) -> Message {
    match message.encode() {
        Wire::Text(text) => Message::text(text),
        Wire::Binary(bytes) => Message::binary(bytes),
    }
}

async fn connect(relay: SocketAddr, n: usize) -> anyhow::Result<Ws> {
    let url = format!("ws://{relay}/_hookhole/connect");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let hello = ClientMessage::Hello(Hello {
        version: VERSION,
        channel: Some(format!("idle-{n}")),
        token: None,
        last_acked_seq: None,
        agent: "hookhole-bench".into(),
        answer: None,
        probe: false,
    });
    ws.send(to_message(&hello)).await?;
    // The welcome: the relay has registered this client.
    ws.next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no welcome"))??;
    Ok(ws)
}

/// Answers each relay message (an idle client only gets heartbeats) with a
/// heartbeat, so the relay keeps the client for as long as the soak runs.
async fn keep_alive(mut ws: Ws, alive: Arc<AtomicUsize>) {
    let heartbeat = to_message(&ClientMessage::Heartbeat);
    while let Some(Ok(message)) = ws.next().await {
        if message.is_text() && ws.send(heartbeat.clone()).await.is_err() {
            break;
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}

/// Connected idle clients; dropping this disconnects them all.
pub struct Idle {
    _clients: JoinSet<()>,
    alive: Arc<AtomicUsize>,
}

impl Idle {
    /// Clients whose websocket is still open.
    pub fn alive(&self) -> usize {
        self.alive.load(Ordering::Relaxed)
    }
}

/// Opens `count` clients, each on its own channel, 100 at a time.
pub async fn open(relay: SocketAddr, count: usize) -> anyhow::Result<Idle> {
    let mut clients = JoinSet::new();
    let alive = Arc::new(AtomicUsize::new(0));
    for start in (0..count).step_by(100) {
        let batch: Vec<_> = (start..(start + 100).min(count))
            .map(|n| connect(relay, n))
            .collect();
        for ws in futures_util::future::join_all(batch).await {
            alive.fetch_add(1, Ordering::Relaxed);
            clients.spawn(keep_alive(ws?, alive.clone()));
        }
    }
    Ok(Idle {
        _clients: clients,
        alive,
    })
}
