//! Delivery frames stored by a relay of protocol version 1, made current as
//! they are read back.
//!
//! The offline buffer (`buffer.sqlite`) and the cluster's stream keep each
//! delivery as the frame a client is sent, so after an upgrade they may
//! still hold frames whose header carries the body's SHA-256 (`body_sha256`)
//! instead of its BLAKE3 (`body_blake3`). A client of this version cannot
//! decode those (the field it checks is missing), and the webhooks in them
//! were answered `202`: they must still arrive. Each such frame is
//! re-encoded on its way out, once its SHA-256 was checked: a body damaged
//! while stored gets a digest that cannot match, so the client still
//! refuses it (`body_mismatch`) instead of forwarding it.
//!
//! Done when read rather than by rewriting the stores at start: the stream
//! cannot be rewritten in place, the buffer then needs no schema version,
//! and a current frame costs a search of its header (a few KiB) and no copy.

use bytes::Bytes;
use hookhole_shared::body_digest;
use hookhole_shared::frame;
use hookhole_shared::protocol::RelayMessage;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The key only a protocol-1 delivery header has. In JSON text it can only
/// be a key: inside a string its quotes would be escaped.
const V1_DIGEST_KEY: &[u8] = br#""body_sha256":"#;

/// `frame` as a client of this version reads it: a protocol-1 delivery
/// re-encoded, anything else as it is.
pub fn current(frame: Bytes) -> Bytes {
    let Ok((header, body)) = frame::split(&frame) else {
        return frame;
    };
    if memchr::memmem::find(&frame[header.clone()], V1_DIGEST_KEY).is_none() {
        return frame;
    }
    match reencoded(&frame[header], &frame[body]) {
        Some(upgraded) => Bytes::from(upgraded),
        // Not a delivery we wrote: the client's decoder says what is wrong.
        None => frame,
    }
}

/// The frame of a protocol-1 delivery header and its body, in this
/// version's encoding (the same header, the digest replaced).
fn reencoded(header: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let mut fields: Map<String, Value> = serde_json::from_slice(header).ok()?;
    if fields.contains_key("body_blake3") {
        return None;
    }
    let Value::String(sha256) = fields.remove("body_sha256")? else {
        return None;
    };
    let digest = if hex::encode(Sha256::digest(body)) == sha256 {
        body_digest::of(body)
    } else {
        let id = fields.get("id").and_then(|id| id.as_str()).unwrap_or("?");
        tracing::warn!(
            %id,
            "a stored delivery's body does not match its SHA-256: the client will refuse it"
        );
        String::new()
    };
    fields.insert("body_blake3".into(), Value::String(digest));
    let message: RelayMessage = serde_json::from_value(Value::Object(fields)).ok()?;
    if !matches!(message, RelayMessage::Delivery(_)) {
        return None;
    }
    // Our own plain struct: serialising it cannot fail.
    let header = serde_json::to_vec(&message).ok()?;
    Some(frame::encode(&header, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::protocol::{Delivery, Message as _};

    /// A delivery frame as a protocol-1 relay buffered it.
    fn v1_frame(body: &[u8], sha256: &str) -> Bytes {
        let header = format!(
            r#"{{"type":"delivery","id":"d1","seq":7,"received_at_ms":1700000000000,"method":"POST","path":"/hook","query":"a=1","headers":[["content-type","application/json"],["x-bin",{{"base64":"/w=="}}]],"body_sha256":"{sha256}","url":"http://relay.example/old/hook?a=1","queued":true}}"#
        );
        Bytes::from(frame::encode(header.as_bytes(), body))
    }

    fn delivery(frame: Bytes) -> Delivery {
        match RelayMessage::decode_binary(frame) {
            Ok(RelayMessage::Delivery(d)) => d,
            other => panic!("not a delivery: {other:?}"),
        }
    }

    #[test]
    fn a_version_1_delivery_gets_the_blake3_of_its_body_and_keeps_the_rest() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let stored = v1_frame(&body, &hex::encode(Sha256::digest(&body)));
        assert!(
            RelayMessage::decode_binary(stored.clone()).is_err(),
            "unreadable as it is"
        );
        let d = delivery(current(stored));
        assert!(body_digest::matches(&body, &d.body_blake3));
        assert_eq!(d.body.as_ref(), &body[..]);
        assert_eq!((d.id.as_str(), d.seq, d.queued), ("d1", 7, true));
        assert_eq!(
            (d.path.as_str(), d.query.as_deref(), d.url.as_str()),
            ("/hook", Some("a=1"), "http://relay.example/old/hook?a=1")
        );
        assert_eq!(d.headers[1].value, vec![0xff]);
        assert_eq!(d.received_at_ms, 1_700_000_000_000);
    }

    #[test]
    fn a_body_damaged_while_stored_gets_a_digest_that_cannot_match() {
        let stored = v1_frame(b"{\"a\":2}", &hex::encode(Sha256::digest(b"{\"a\":1}")));
        let d = delivery(current(stored));
        assert!(!body_digest::matches(b"{\"a\":2}", &d.body_blake3));
    }

    #[test]
    fn current_frames_and_garbage_pass_as_they_are() {
        let mut d = delivery(current(v1_frame(b"x", &hex::encode(Sha256::digest(b"x")))));
        d.body = Bytes::from_static(b"x");
        let hookhole_shared::protocol::Wire::Binary(frame) = RelayMessage::Delivery(d).encode()
        else {
            panic!("a delivery is binary");
        };
        let frame = Bytes::from(frame);
        let passed = current(frame.clone());
        assert_eq!(passed.as_ptr(), frame.as_ptr(), "not copied");
        // A body that merely contains the old key is not a header.
        let tricky = Bytes::from(frame::encode(br#"{"type":"heartbeat"}"#, V1_DIGEST_KEY));
        assert_eq!(current(tricky.clone()), tricky);
        for garbage in [
            &b""[..],
            b"\x00\x00\x00\x10{\"body_sha256\":1}",
            b"\xff\xff",
        ] {
            let garbage = Bytes::copy_from_slice(garbage);
            assert_eq!(current(garbage.clone()), garbage);
        }
    }
}
