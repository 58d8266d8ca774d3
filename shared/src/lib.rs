//! hookhole-shared: what the relay and the client agree on, with no I/O.
//!
//! - [`protocol`]: the versioned websocket protocol, messages named by sender
//!   ([`protocol::ClientMessage`], [`protocol::RelayMessage`]), close codes.
//! - [`frame`]: the binary framing that carries a JSON header and raw body bytes
//!   in one websocket message, so bodies are never base64'd or re-serialised.
//! - [`body_digest`]: the digest a delivery carries of its body (BLAKE3),
//!   checked by the client before it forwards anything.
//! - [`headers`]: header lists that keep order, duplicates and raw value bytes,
//!   and the hop-by-hop rules both sides apply.
//! - [`channel`]: channel name rules.
//! - `form`: `application/x-www-form-urlencoded` bodies, decoded one way for
//!   the verifiers that sign form parameters and the facts read from them.
//! - [`printable`]: the one rule for showing text a sender or relay controls
//!   (terminal lines, logs, JSON lines): controls, bidi and invisible
//!   characters drawn as escapes.
//! - [`signature`]: webhook signature verification and signing: the
//!   provider presets, secrets, and the custom schemes.
//! - [`webhook`]: what a delivery says about itself (event type, id,
//!   attempt) and what its provider does when the answer is late or fails.
//!
//! Nothing here opens a socket or spawns a task: both binaries and the tests
//! share these types, and they are tested by value (golden JSON, round trips).

pub mod body_digest;
pub mod channel;
mod form;
pub mod frame;
pub mod headers;
pub mod printable;
pub mod protocol;
pub mod signature;
pub mod webhook;
