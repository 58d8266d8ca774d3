//! Binary framing: one websocket message carries a JSON header and raw bytes.
//!
//! ```text
//! +----------------------+---------------------+------------------+
//! | header length: u32BE | header: JSON (UTF-8) | body: raw bytes  |
//! +----------------------+---------------------+------------------+
//! ```
//!
//! The body is the rest of the message, so it needs no length of its own and
//! is never escaped: a 10 MiB binary body costs one copy into the message.

use std::ops::Range;

/// Bytes taken by the length prefix.
pub const PREFIX_LEN: usize = 4;

/// Largest JSON header accepted. Headers of real webhooks are a few KiB; this
/// bounds what a hostile peer can make the decoder parse before the body.
pub const MAX_HEADER_LEN: usize = 1024 * 1024;

/// Why a binary message could not be split into header and body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("binary message of {0} bytes is shorter than its 4-byte length prefix")]
    Truncated(usize),
    #[error("frame header length {0} exceeds the {MAX_HEADER_LEN}-byte limit")]
    HeaderTooLarge(usize),
    #[error("frame header length {declared} runs past the end of a {available}-byte message")]
    HeaderPastEnd { declared: usize, available: usize },
}

/// Builds a frame from an already serialised JSON header and a body.
pub fn encode(header_json: &[u8], body: &[u8]) -> Vec<u8> {
    encode_chunks(header_json, &[body])
}

/// Builds a frame from a JSON header and a body in pieces (as an HTTP
/// server hands them over): one allocation, each byte copied once.
pub fn encode_chunks<B: AsRef<[u8]>>(header_json: &[u8], body: &[B]) -> Vec<u8> {
    let body_len: usize = body.iter().map(|c| c.as_ref().len()).sum();
    let mut out = Vec::with_capacity(PREFIX_LEN + header_json.len() + body_len);
    // A header is at most MAX_HEADER_LEN in practice; a longer one would be
    // refused by the peer's decoder, never silently truncated here.
    let len = u32::try_from(header_json.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(header_json);
    for chunk in body {
        out.extend_from_slice(chunk.as_ref());
    }
    out
}

/// Splits a frame into the byte ranges of its JSON header and its body.
pub fn split(message: &[u8]) -> Result<(Range<usize>, Range<usize>), FrameError> {
    let prefix: [u8; PREFIX_LEN] = message
        .get(..PREFIX_LEN)
        .and_then(|p| p.try_into().ok())
        .ok_or(FrameError::Truncated(message.len()))?;
    let declared = u32::from_be_bytes(prefix) as usize;
    if declared > MAX_HEADER_LEN {
        return Err(FrameError::HeaderTooLarge(declared));
    }
    let header_end = PREFIX_LEN + declared;
    if header_end > message.len() {
        return Err(FrameError::HeaderPastEnd {
            declared,
            available: message.len(),
        });
    }
    Ok((PREFIX_LEN..header_end, header_end..message.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_header_and_body() {
        let body = [0u8, 255, b'\r', b'\n', 0x80];
        let frame = encode(br#"{"a":1}"#, &body);
        assert_eq!(&frame[..4], &[0, 0, 0, 7]);
        let (h, b) = split(&frame).unwrap();
        assert_eq!(&frame[h], br#"{"a":1}"#);
        assert_eq!(&frame[b], &body);
    }

    #[test]
    fn a_body_in_chunks_makes_the_same_frame() {
        let whole = encode(b"{}", b"abcdef");
        assert_eq!(encode_chunks(b"{}", &[&b"ab"[..], b"", b"cdef"]), whole);
        assert_eq!(encode_chunks::<&[u8]>(b"{}", &[]), encode(b"{}", b""));
    }

    #[test]
    fn empty_body_is_allowed() {
        let frame = encode(b"{}", b"");
        let (_, b) = split(&frame).unwrap();
        assert!(b.is_empty());
    }

    #[test]
    fn rejects_short_and_lying_prefixes() {
        assert_eq!(split(&[0, 0]), Err(FrameError::Truncated(2)));
        assert_eq!(
            split(&[0, 0, 0, 9, b'{', b'}']),
            Err(FrameError::HeaderPastEnd {
                declared: 9,
                available: 6
            })
        );
        assert_eq!(
            split(&[0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::HeaderTooLarge(u32::MAX as usize))
        );
    }
}
