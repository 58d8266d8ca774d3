//! Asking a relay whether a token is accepted and a channel claimable,
//! without joining it: a `hello` with `probe` set, which the relay answers
//! with `probed` and closes. No delivery can reach a probe.
//!
//! A relay older than probes ignores the flag and joins the link to the
//! channel (`welcome`): the probe closes at once. The caller probes a
//! named channel only once a channel-less probe showed the relay knows
//! probes, so an older relay is only ever joined on a fresh random
//! channel, which no sender knows.

use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{
    ClientMessage, Hello, Message as _, Probed, RelayMessage, Token, VERSION, Wire,
};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The largest message a probe reads: a `probed` or `welcome` is a few
/// hundred bytes; anything bigger is not an answer to a probe.
const MAX_MESSAGE: usize = 64 * 1024;

/// What the relay said to a probe.
#[derive(Debug)]
pub enum Outcome {
    /// The relay knows probes: here is what joining would give.
    Answered(Probed),
    /// The relay predates probes and joined the link to the channel; the
    /// probe left at once.
    Joined,
    /// The relay closed the link with `code` and `reason` (token refused,
    /// another protocol version, ...).
    Refused { code: u16, reason: String },
    /// No answer: the link failed or the time ran out.
    Failed(String),
}

/// Where and how to probe.
pub struct Target<'a> {
    /// The relay's websocket URL (`engine::connect_url`).
    pub ws_url: &'a str,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub token: Option<Token>,
    pub within: Duration,
}

/// Probes `channel` (`None`: the relay's pick) on `target`.
pub async fn probe(target: &Target<'_>, channel: Option<String>) -> Outcome {
    let within = target.within;
    match tokio::time::timeout(within, exchange(target, channel)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(format!(
            "no answer within {}",
            humantime::format_duration(within)
        )),
    }
}

async fn exchange(target: &Target<'_>, channel: Option<String>) -> Outcome {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let connector = target.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    let connected = tokio_tungstenite::connect_async_tls_with_config(
        target.ws_url,
        Some(config),
        true,
        connector,
    )
    .await;
    let mut ws = match connected {
        Ok((ws, _)) => ws,
        Err(e) => return Outcome::Failed(format!("cannot open the websocket: {e}")),
    };
    let hello = ClientMessage::Hello(Hello {
        version: VERSION,
        channel,
        token: target.token.clone(),
        last_acked_seq: None,
        agent: concat!("hookhole-doctor/", env!("CARGO_PKG_VERSION")).to_string(),
        answer: None,
        probe: true,
    });
    let Wire::Text(hello) = hello.encode() else {
        return Outcome::Failed("a hello is a text message".to_string());
    };
    if let Err(e) = ws.send(Message::text(hello)).await {
        return Outcome::Failed(format!("cannot send the probe: {e}"));
    }
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match RelayMessage::decode_text(text.as_str()) {
                Ok(RelayMessage::Probed(probed)) => return Outcome::Answered(probed),
                Ok(RelayMessage::Welcome(_)) => {
                    // Joined: leave before anything is offered to us. What
                    // the relay already sent (a buffered delivery) is never
                    // acknowledged, so the relay keeps it.
                    let _ = ws.close(None).await;
                    return Outcome::Joined;
                }
                Ok(_) => continue,
                Err(e) => return Outcome::Failed(format!("not a relay's answer: {e}")),
            },
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                return Outcome::Refused { code, reason };
            }
            // A delivery can only follow a welcome, which ends the loop.
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Outcome::Failed(format!("the link failed: {e}")),
            None => return Outcome::Failed("the relay closed the connection".to_string()),
        }
    }
}
