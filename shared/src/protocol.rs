//! The websocket protocol between relay and client (version [`VERSION`]).
//!
//! Small control messages are JSON text messages; a delivery (relay → client)
//! and a response (client → relay) are binary messages in the [`crate::frame`]
//! format, their JSON header carrying the same `type` tag as text messages.
//! `docs/protocol.md` is the prose version of this file.

use crate::frame::{self, FrameError};
use crate::headers::Header;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Protocol version spoken by this build. The relay refuses any other
/// ([`versions`] says which side to upgrade). Version 2: the body digest is
/// BLAKE3 (`body_blake3`), no longer SHA-256 (`body_sha256`).
pub const VERSION: u32 = 2;

pub mod answer;
pub mod versions;

pub use answer::Answer;

/// Path of the websocket endpoint on the relay.
pub const CONNECT_PATH: &str = "/_hookhole/connect";
/// Path of the relay's health endpoint.
pub const HEALTH_PATH: &str = "/_hookhole/health";

/// Application close codes (RFC 6455 leaves 4000-4999 to applications).
pub mod close {
    /// The client speaks another protocol version (the reason says which
    /// side to upgrade: [`super::versions`]).
    pub const UNSUPPORTED_VERSION: u16 = 4001;
    /// The first message was not a valid `hello`.
    pub const BAD_HELLO: u16 = 4002;
    /// The token was missing or wrong, or the channel belongs to another token.
    pub const UNAUTHORIZED: u16 = 4003;
    /// The requested channel name is not `[a-z0-9-]{1,63}`.
    pub const INVALID_CHANNEL: u16 = 4004;
    /// A message after the handshake could not be decoded.
    pub const PROTOCOL_ERROR: u16 = 4005;
    /// Nothing was heard from the peer in time (heartbeat or handshake).
    pub const HEARTBEAT_TIMEOUT: u16 = 4008;
    /// The channel has as many clients as the relay allows; retry later.
    pub const CHANNEL_FULL: u16 = 4009;
    /// The relay is shutting down (the standard "going away" code).
    pub const GOING_AWAY: u16 = 1001;
    /// The relay cannot decide now (a clustered relay cut off from NATS
    /// cannot check who owns a channel); retry (the standard code).
    pub const TRY_AGAIN_LATER: u16 = 1013;

    /// Codes after which reconnecting cannot help: the client must stop and
    /// tell the user, instead of retrying forever.
    pub fn is_fatal(code: u16) -> bool {
        matches!(
            code,
            UNSUPPORTED_VERSION | BAD_HELLO | UNAUTHORIZED | INVALID_CHANNEL
        )
    }
}

/// A secret that never appears in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(pub String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// First message of every connection, client → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// The channel to join; `None` asks the relay to pick a random name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    /// Highest sequence number the client has saved, for resuming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_acked_seq: Option<u64>,
    /// Client name and version, for the relay's logs.
    #[serde(default)]
    pub agent: String,
    /// How this client wants senders answered ([`Answer`]); `None` (what a
    /// client that predates answer modes sends) is `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// Check, do not join (`hookhole doctor`): the relay answers [`Probed`]
    /// and closes, without making this link a listener, so no delivery can
    /// reach it. A relay that predates probes ignores the field and sends
    /// `welcome`: the client then closes at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probe: bool,
}

/// The relay's answer to a `hello` with `probe`: what joining would give.
/// Only a hello the relay admits gets one (protocol version and token
/// checked as for a join; their refusals are the same close codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probed {
    pub version: u32,
    /// The channel the hello would join (one the relay would assign, when
    /// it asked for none).
    pub channel: String,
    pub public_url: String,
    /// Why this token may not claim the channel; absent: it may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Clients on the channel now (0 when refused: another token's channel
    /// tells no more than that it is taken).
    pub listeners: u32,
}

/// The relay's answer to a good `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u32,
    pub channel: String,
    /// The channel URL to paste into a provider, e.g. `https://relay.example/NAME`.
    pub public_url: String,
    /// Clients on the channel, this one included.
    pub listeners: u32,
    /// How often the relay sends heartbeats; the client should do the same.
    pub heartbeat_secs: u64,
    /// The same in milliseconds, for sub-second intervals (tests, fast
    /// failure detection); preferred when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    /// Largest body the relay accepts, in a webhook or in a response: a
    /// client answers `response_too_large` rather than send a bigger one.
    pub max_body: u64,
    /// The answer mode in force on the channel; `None` (from a relay that
    /// predates answer modes) is `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

/// One webhook request as the relay received it. Sent as a binary message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Unique id, stable across resends.
    pub id: String,
    /// Per-channel sequence number, increasing.
    pub seq: u64,
    /// When the relay received it, in Unix milliseconds.
    pub received_at_ms: u64,
    pub method: String,
    /// The path after `/{channel}`, raw (still percent-encoded); may be empty.
    pub path: String,
    /// The raw query string without `?`; `None` when the URL had no `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// End-to-end headers in arrival order (the HTTP parser groups repeated
    /// names at their first occurrence), `X-Forwarded-*` set by the relay.
    pub headers: Vec<Header>,
    /// The body's BLAKE3, lowercase hex ([`crate::body_digest`]), checked
    /// by the client.
    pub body_blake3: String,
    /// The public URL the sender called (signature schemes that sign the URL need it).
    pub url: String,
    /// Kept while no client was connected (the sender was answered `202`):
    /// clients forward these one at a time, in sequence order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queued: bool,
    /// The relay has answered the sender already and keeps the delivery
    /// until a client acknowledges it (answer mode `now`): the client
    /// forwards it at once, saves it, and acknowledges it (no `response`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub answered: bool,
    #[serde(skip)]
    pub body: Bytes,
}

/// The local server's answer to a delivery. Sent as a binary message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    pub status: u16,
    pub headers: Vec<Header>,
    #[serde(skip)]
    pub body: Bytes,
}

/// Why the client could not produce a response for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// Could not connect to the local server (refused, unreachable, DNS).
    LocalUnreachable,
    /// The local server did not answer within the client's forward timeout.
    LocalTimeout,
    /// The local server answered with something that is not valid HTTP.
    LocalError,
    /// The local response body exceeded the client's limit.
    ResponseTooLarge,
    /// The body did not match `body_blake3`: it was damaged on the way.
    BodyMismatch,
    /// The delivery itself was malformed (a `path` not starting with `/`, a
    /// method, id or header name that is not a token, bytes a URI or a
    /// header cannot carry): the client refused to send it anywhere.
    ProtocolError,
}

impl FailureCode {
    /// The code as it appears in JSON and relay error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::LocalUnreachable => "local_unreachable",
            FailureCode::LocalTimeout => "local_timeout",
            FailureCode::LocalError => "local_error",
            FailureCode::ResponseTooLarge => "response_too_large",
            FailureCode::BodyMismatch => "body_mismatch",
            FailureCode::ProtocolError => "protocol_error",
        }
    }
}

/// A delivery the client could not forward, with a human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub id: String,
    pub code: FailureCode,
    pub message: String,
}

/// Messages the client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello(Hello),
    Response(Response),
    Failed(Failure),
    /// The client is done with this delivery (it has answered it).
    Ack {
        id: String,
        seq: u64,
    },
    Heartbeat,
    /// A message type from a newer peer: ignored, so that adding a message
    /// type does not need a version bump.
    #[serde(other)]
    Unknown,
}

/// Messages the relay sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RelayMessage {
    Welcome(Welcome),
    /// The answer to a probing `hello`; the relay closes after it.
    Probed(Probed),
    Delivery(Delivery),
    /// The number of clients on the channel changed (and with it, maybe,
    /// the answer mode in force; `None` from an older relay is `local`).
    Listeners {
        count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<Answer>,
    },
    /// The relay has answered the sender of delivery `id` itself, with
    /// `status` (answer mode `now`, or `within` when the local answer did
    /// not come in `wait_ms`): what the sender heard is not the local
    /// answer. A client that predates it ignores it ([`Self::Unknown`]).
    Answered {
        id: String,
        status: u16,
        /// The `within` wait the relay answered after; absent under `now`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<u64>,
    },
    Heartbeat,
    /// A message type from a newer peer: ignored.
    #[serde(other)]
    Unknown,
}

/// An encoded message, ready to become a websocket text or binary message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    Text(String),
    Binary(Vec<u8>),
}

/// Why a received websocket message is not a valid protocol message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("invalid message JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("message type {0:?} must be sent as a binary message")]
    ExpectedBinary(&'static str),
    #[error("message type {0:?} must be sent as a text message")]
    ExpectedText(&'static str),
}

/// What the two message enums share: some variants carry a raw body and
/// travel as binary frames, the rest as JSON text.
pub trait Message: Serialize + for<'de> Deserialize<'de> + Sized {
    fn body(&self) -> Option<&Bytes>;
    fn body_mut(&mut self) -> Option<&mut Bytes>;
    fn kind(&self) -> &'static str;

    /// Encodes the message as text, or as a binary frame when it carries a body.
    fn encode(&self) -> Wire {
        // Serialising our own plain structs cannot fail (string keys, no maps
        // with non-string keys, no custom serialisers that error).
        let json = serde_json::to_vec(self).unwrap_or_default();
        match self.body() {
            Some(body) => Wire::Binary(frame::encode(&json, body)),
            None => Wire::Text(String::from_utf8(json).unwrap_or_default()),
        }
    }

    /// Decodes a text message.
    fn decode_text(text: &str) -> Result<Self, DecodeError> {
        let msg: Self = serde_json::from_str(text)?;
        match msg.body() {
            Some(_) => Err(DecodeError::ExpectedBinary(msg.kind())),
            None => Ok(msg),
        }
    }

    /// Parses a binary message's JSON header. Overridden to skip serde's
    /// buffering of internally tagged enums for the message with a body.
    fn decode_header(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// Decodes a binary message; the body is a zero-copy slice of `message`.
    fn decode_binary(message: Bytes) -> Result<Self, DecodeError> {
        let (header, body) = frame::split(&message)?;
        let mut msg = Self::decode_header(&message[header])?;
        let kind = msg.kind();
        match msg.body_mut() {
            Some(slot) => {
                *slot = message.slice(body);
                Ok(msg)
            }
            None => Err(DecodeError::ExpectedText(kind)),
        }
    }
}

/// Parses `json` as `T` when it starts with the tag `kind`, as every header
/// this crate encodes does (serde writes the tag first). The struct ignores
/// the `type` field; a header from another encoder, in another order, takes
/// the general path instead.
fn tagged_first<T: for<'de> Deserialize<'de>>(
    json: &[u8],
    kind: &str,
) -> Option<Result<T, serde_json::Error>> {
    let rest = json.strip_prefix(br#"{"type":""#)?;
    let rest = rest.strip_prefix(kind.as_bytes())?;
    rest.starts_with(br#"","#)
        .then(|| serde_json::from_slice(json))
}

impl Message for ClientMessage {
    fn decode_header(json: &[u8]) -> Result<Self, serde_json::Error> {
        match tagged_first(json, "response") {
            Some(response) => response.map(ClientMessage::Response),
            None => serde_json::from_slice(json),
        }
    }
    fn body(&self) -> Option<&Bytes> {
        match self {
            ClientMessage::Response(r) => Some(&r.body),
            _ => None,
        }
    }
    fn body_mut(&mut self) -> Option<&mut Bytes> {
        match self {
            ClientMessage::Response(r) => Some(&mut r.body),
            _ => None,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello(_) => "hello",
            ClientMessage::Response(_) => "response",
            ClientMessage::Failed(_) => "failed",
            ClientMessage::Ack { .. } => "ack",
            ClientMessage::Heartbeat => "heartbeat",
            ClientMessage::Unknown => "unknown",
        }
    }
}

impl Message for RelayMessage {
    fn decode_header(json: &[u8]) -> Result<Self, serde_json::Error> {
        match tagged_first(json, "delivery") {
            Some(delivery) => delivery.map(RelayMessage::Delivery),
            None => serde_json::from_slice(json),
        }
    }
    fn body(&self) -> Option<&Bytes> {
        match self {
            RelayMessage::Delivery(d) => Some(&d.body),
            _ => None,
        }
    }
    fn body_mut(&mut self) -> Option<&mut Bytes> {
        match self {
            RelayMessage::Delivery(d) => Some(&mut d.body),
            _ => None,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            RelayMessage::Welcome(_) => "welcome",
            RelayMessage::Probed(_) => "probed",
            RelayMessage::Delivery(_) => "delivery",
            RelayMessage::Listeners { .. } => "listeners",
            RelayMessage::Answered { .. } => "answered",
            RelayMessage::Heartbeat => "heartbeat",
            RelayMessage::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
