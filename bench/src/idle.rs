//! Many connected, idle clients: what one costs the relay in memory.

use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{ClientMessage, Hello, Message as _, VERSION, Wire};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(relay: SocketAddr, n: usize) -> anyhow::Result<Ws> {
    let url = format!("ws://{relay}/_hookhole/connect");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let hello = ClientMessage::Hello(Hello {
        version: VERSION,
        channel: Some(format!("idle-{n}")),
        token: None,
        last_acked_seq: None,
        agent: "hookhole-bench".into(),
    });
    if let Wire::Text(text) = hello.encode() {
        ws.send(Message::text(text)).await?;
    }
    // The welcome: the relay has registered this client.
    ws.next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no welcome"))??;
    Ok(ws)
}

/// Opens `count` clients, each on its own channel, 100 at a time.
pub async fn open(relay: SocketAddr, count: usize) -> anyhow::Result<Vec<Ws>> {
    let mut clients = Vec::with_capacity(count);
    for start in (0..count).step_by(100) {
        let batch: Vec<_> = (start..(start + 100).min(count))
            .map(|n| connect(relay, n))
            .collect();
        for ws in futures_util::future::join_all(batch).await {
            clients.push(ws?);
        }
    }
    Ok(clients)
}
