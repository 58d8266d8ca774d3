//! Opening a link: the websocket, then `hello` and the relay's `welcome`.

use super::{End, EngineConfig, Ws, closed_by_relay, to_message};
use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::versions::{self, Upgrade};
use hookhole_shared::protocol::{
    Answer, ClientMessage, Hello, Message as _, RelayMessage, Welcome, close,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Largest message accepted from the relay: its body limit plus headers.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Where the relay should resume: the highest sequence number saved for
/// `channel`, so it drops what was saved and resends the rest.
///
/// Only with a single relay. A sequence number is the relay's own (its
/// clock when the webhook arrived): another relay's number could have
/// this one drop webhooks it buffered that the client never saw. With
/// several relays each resends everything it still buffers, and the
/// client acknowledges what it saved already without forwarding it again.
async fn resume_point(config: &EngineConfig, channel: Option<&String>) -> Option<u64> {
    let (Some(history), Some(channel), [_]) = (&config.history, channel, &config.relays[..]) else {
        return None;
    };
    let (history, channel) = (history.clone(), channel.clone());
    tokio::task::spawn_blocking(move || history.last_seq(&channel).ok().flatten())
        .await
        .ok()
        .flatten()
}

/// Opens the websocket to `url` and completes the hello/welcome handshake,
/// asking for `channel` (the one a relay assigned earlier, when there is one).
pub(super) async fn connect(
    config: &EngineConfig,
    url: &str,
    channel: Option<String>,
) -> Result<(Ws, Welcome), End> {
    let last_acked_seq = resume_point(config, channel.as_ref()).await;
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
            // `local` is what a hello without the field asks for.
            answer: Some(config.answer).filter(|a| *a != Answer::Local),
            probe: false,
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
                            reason: mismatch(config.protocol_version, Some(welcome.version), ""),
                        });
                    }
                    Ok(RelayMessage::Welcome(welcome)) => return Ok((ws, welcome)),
                    Ok(_) => continue,
                    Err(e) => return Err(End::Lost(format!("bad welcome from the relay: {e}"))),
                },
                Some(Ok(Message::Close(frame))) => {
                    return Err(match closed_by_relay(frame.as_ref()) {
                        End::Refused {
                            code: close::UNSUPPORTED_VERSION,
                            reason,
                        } => End::Refused {
                            code: close::UNSUPPORTED_VERSION,
                            reason: mismatch(
                                config.protocol_version,
                                versions::relay_version(&reason),
                                &reason,
                            ),
                        },
                        other => other,
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

/// The client's own words for a relay of another protocol version (`relay`,
/// when it said which): which side to upgrade, then what the relay said,
/// if anything. An older relay's words alone would not tell the user that
/// the relay is the one to upgrade.
fn mismatch(ours: u32, relay: Option<u32>, said: &str) -> String {
    let upgrade = relay.and_then(|relay| Some((relay, Upgrade::between(relay, ours)?)));
    let mut message = match upgrade {
        Some((relay, Upgrade::Relay)) => format!(
            "the relay is older: it speaks protocol {relay} and this client {ours}; upgrade the relay"
        ),
        Some((relay, Upgrade::Client)) => format!(
            "this client is older: the relay speaks protocol {relay} and this client {ours}; upgrade hookhole"
        ),
        None => format!(
            "the relay speaks another protocol version than this client ({ours}); upgrade the older of the two"
        ),
    };
    if !said.is_empty() {
        message.push_str(&format!(" (the relay said: {said})"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_mismatch_says_which_side_to_upgrade() {
        let v1_relay = "unsupported protocol version 2; this relay speaks version 1";
        assert_eq!(
            mismatch(2, versions::relay_version(v1_relay), v1_relay),
            "the relay is older: it speaks protocol 1 and this client 2; upgrade the relay \
             (the relay said: unsupported protocol version 2; this relay speaks version 1)"
        );
        assert_eq!(
            mismatch(2, Some(3), ""),
            "this client is older: the relay speaks protocol 3 and this client 2; upgrade hookhole"
        );
        let unreadable = mismatch(2, None, "go away");
        assert!(
            unreadable.contains("upgrade the older of the two (the relay said: go away)"),
            "{unreadable}"
        );
        // A relay that claims our own version but refused it anyway.
        assert!(mismatch(2, Some(2), "").contains("the older of the two"));
    }
}
