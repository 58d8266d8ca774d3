//! A relay's `/_hookhole/health`, read over the connection (TCP or TLS)
//! the earlier steps opened: the protocol version it speaks.

use super::STEP;
use super::relay::{Place, secs};
use super::report::Check;
use bytes::Bytes;
use hookhole_shared::protocol::versions::Upgrade;
use hookhole_shared::protocol::{HEALTH_PATH, VERSION};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// The largest health answer read: it is a small JSON object.
const MAX_HEALTH: usize = 64 * 1024;

/// What `GET /_hookhole/health` answered: its status and body.
pub(super) type Health = Result<(http::StatusCode, Bytes), String>;

pub(super) async fn get<S>(stream: S, place: &Place) -> Health
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::get(format!("{}{HEALTH_PATH}", place.base_path))
            .header(http::header::HOST, &place.authority)
            .header(
                http::header::USER_AGENT,
                concat!("hookhole-doctor/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_HEALTH)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    };
    match tokio::time::timeout(STEP, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}", secs())),
    }
}

/// The protocol line, from the health answer.
pub(super) fn protocol(health: Health) -> Check {
    const NOT_A_RELAY: &str =
        "check --relay: it is the relay's base URL, e.g. https://relay.example.com";
    let (status, body) = match health {
        Ok(answer) => answer,
        Err(why) => {
            return Check::fail(
                "protocol",
                format!("GET {HEALTH_PATH} failed: {why}"),
                NOT_A_RELAY,
            );
        }
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let spoken = json.as_ref().and_then(|j| j["protocol"].as_u64());
    let Some(spoken) = spoken.and_then(|p| u32::try_from(p).ok()) else {
        return Check::fail(
            "protocol",
            format!(
                "GET {HEALTH_PATH} answered {status} without a protocol version: not a hookhole relay?"
            ),
            NOT_A_RELAY,
        );
    };
    if let Some(upgrade) = Upgrade::between(spoken, VERSION) {
        let fix = match upgrade {
            Upgrade::Relay => "upgrade the relay: it is older than this client",
            Upgrade::Client => "upgrade hookhole: it is older than the relay",
        };
        return Check::fail(
            "protocol",
            format!("the relay speaks protocol {spoken}, this client {VERSION}"),
            fix,
        );
    }
    let version = json
        .as_ref()
        .and_then(|j| j["version"].as_str())
        .unwrap_or("?");
    if !status.is_success() {
        let word = json
            .as_ref()
            .and_then(|j| j["status"].as_str())
            .unwrap_or("unhealthy");
        return Check::warn(
            "protocol",
            format!("protocol {spoken}, but the relay reports {status} ({word})"),
            "ask the relay's operator (a clustered relay cut off from NATS says so)",
        );
    }
    Check::ok("protocol", format!("protocol {spoken} (relay {version})"))
}
