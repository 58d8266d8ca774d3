//! The one request a delivery becomes: checked, then built from parts.
//!
//! Everything here came from the relay, so none of it is trusted: a
//! delivery whose id, method, path, query or headers break the protocol's
//! rules is refused (`protocol_error`) before anything is sent anywhere.
//! What passes becomes an [`Outgoing`] request on the configured target.
//! The forwarder sends exactly that request, and `export --format curl`
//! (and the UI's `c`) renders exactly that request, so an export reproduces
//! what the local server received, header for header.

use crate::target::{BadTarget, Target, shown};
use bytes::Bytes;
use hookhole_shared::headers::{self, Header};
use hookhole_shared::protocol::{Delivery, Failure, FailureCode};
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

/// Longest delivery id accepted: the relay's are 16 characters; the room
/// above that is for other id schemes (UUIDs, ULIDs), not for payloads.
const MAX_ID: usize = 64;

/// A request ready to go to the local server.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: Method,
    /// Always `http://{target}{base path}{delivery path}[?query]`.
    pub uri: Uri,
    /// In the order they go on the wire: `host` first, then the delivery's
    /// (repeated names next to their first occurrence, as a header map keeps
    /// them), `content-length` where the delivery had it or last.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a delivery was refused: what in it breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error(
        "the delivery id {0} is not 1-{MAX_ID} letters, digits, '-' or '_' starting with a letter or digit"
    )]
    Id(String),
    #[error("the method {0} is not an HTTP token")]
    Method(String),
    #[error(transparent)]
    Target(#[from] BadTarget),
    #[error("the header name {0} is not an HTTP token")]
    HeaderName(String),
    #[error("the value of header {0} has a byte HTTP cannot carry (a control character)")]
    HeaderValue(String),
}

impl Malformed {
    /// The answer to the relay, and what the history records.
    pub fn failure(&self, id: &str) -> Failure {
        Failure {
            id: id.to_string(),
            code: FailureCode::ProtocolError,
            message: format!("not forwarded: {self}"),
        }
    }
}

/// RFC 9110 `tchar`: the characters of a method or a header name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_tchar)
}

/// The id rule. Ids end up in the history's keys, in file names of
/// exports, on terminals and as command-line arguments (`hookhole show
/// ID`): letters, digits, `-` and `_` are safe in all of them, and a
/// leading letter or digit never reads as a flag.
pub fn check_id(id: &str) -> Result<(), Malformed> {
    let ok = id.len() <= MAX_ID
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Malformed::Id(shown(id)))
    }
}

/// The parts of a request as recorded: what a delivery carries, and what
/// a replay sends (edited or re-signed, they differ from the delivery's).
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    pub id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a [Header],
    pub body: &'a Bytes,
}

impl<'a> Parts<'a> {
    pub fn of(delivery: &'a Delivery) -> Parts<'a> {
        Parts {
            id: &delivery.id,
            method: &delivery.method,
            path: &delivery.path,
            query: delivery.query.as_deref(),
            headers: &delivery.headers,
            body: &delivery.body,
        }
    }
}

/// Checks a delivery and builds the request it becomes on `target`.
pub fn build(target: &Target, delivery: &Delivery) -> Result<Outgoing, Malformed> {
    build_parts(target, Parts::of(delivery))
}

/// Checks request parts and builds the request they become on `target`.
pub fn build_parts(target: &Target, parts: Parts<'_>) -> Result<Outgoing, Malformed> {
    check_id(parts.id)?;
    if !is_token(parts.method) {
        return Err(Malformed::Method(shown(parts.method)));
    }
    let method = Method::from_bytes(parts.method.as_bytes())
        .map_err(|_| Malformed::Method(shown(parts.method)))?;
    let uri = target.uri_for(parts.path, parts.query)?;
    let headers = header_map(target, parts.headers, parts.body.len())?;
    Ok(Outgoing {
        method,
        uri,
        headers,
        body: parts.body.clone(),
    })
}

/// The headers the local server receives, in wire order.
fn header_map(target: &Target, list: &[Header], body_len: usize) -> Result<HeaderMap, Malformed> {
    let mut map = HeaderMap::with_capacity(list.len() + 2);
    // RFC 9110 §7.2: a client sends Host first. Set here rather than by the
    // HTTP client, so that an export can put it in the same place.
    let host = HeaderValue::try_from(target.host_header())
        .map_err(|_| Malformed::HeaderValue("host".to_string()))?;
    map.insert(HOST, host);
    // Names are checked before hop-by-hop headers go: a bad name is a
    // protocol error wherever it is.
    for h in list {
        if !is_token(&h.name) {
            return Err(Malformed::HeaderName(shown(&h.name)));
        }
    }
    // Our relay strips hop-by-hop headers; one that did not could change
    // the framing (`transfer-encoding`) or the connection to the local
    // server. The sender's `host` never reaches it either.
    let mut list = list.to_vec();
    headers::strip_hop_by_hop(&mut list);
    let mut has_length = false;
    for Header { name, value } in &list {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Malformed::HeaderName(shown(name)))?;
        if name == HOST {
            continue;
        }
        // The length is always the body's, in the first length header's
        // place: the same value for a delivery as it arrived, and right for
        // an edited replay whose body changed size.
        let value = if name == CONTENT_LENGTH {
            if has_length {
                continue;
            }
            has_length = true;
            HeaderValue::from(body_len)
        } else {
            HeaderValue::from_bytes(value)
                .map_err(|_| Malformed::HeaderValue(shown(name.as_str())))?
        };
        map.append(name, value);
    }
    // What the HTTP client would add itself, added here so the map is the
    // whole list (an empty body without a length goes without one, as the
    // client sends it).
    if !has_length && body_len > 0 {
        map.append(CONTENT_LENGTH, HeaderValue::from(body_len));
    }
    Ok(map)
}

#[cfg(test)]
#[path = "outgoing_tests.rs"]
mod tests;
