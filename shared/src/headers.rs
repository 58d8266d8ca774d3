//! Header lists that survive the trip unchanged, and the hop-by-hop rules.
//!
//! A webhook's signature often covers header values, and some receivers care
//! about duplicates, so a header is a `(name, raw value bytes)` pair in an
//! ordered list rather than a map. On the wire a pair is `["name", "value"]`,
//! or `["name", {"base64": "..."}]` when the value is not UTF-8 (HTTP allows
//! obs-text bytes), so the JSON stays readable without losing a byte.
//! The relay strips hop-by-hop headers from requests and responses; the
//! client forwards what it is given.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One header field: the name as lowercase ASCII, the value as sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value as text, with invalid UTF-8 replaced (for display only).
    pub fn value_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.name, self.value_lossy())
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1),
/// plus `proxy-connection`, which old clients still send. Each hop sets its own.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// True for the fixed hop-by-hop names (case-insensitive).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Removes hop-by-hop headers in place: the fixed list and every name listed
/// in a `Connection` header. Order of the rest is untouched.
pub fn strip_hop_by_hop(headers: &mut Vec<Header>) {
    let named: Vec<String> = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| {
            h.value_lossy()
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    headers.retain(|h| {
        !is_hop_by_hop(&h.name) && !named.iter().any(|n| n.eq_ignore_ascii_case(&h.name))
    });
}

/// The first value of a header, if present (names compared case-insensitively).
pub fn get<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_slice())
}

impl Serialize for Header {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Encoded {
            base64: String,
        }
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.name)?;
        match std::str::from_utf8(&self.value) {
            Ok(text) => tuple.serialize_element(text)?,
            Err(_) => tuple.serialize_element(&Encoded {
                base64: BASE64.encode(&self.value),
            })?,
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Value {
            Text(String),
            Encoded { base64: String },
        }

        struct PairVisitor;
        impl<'de> Visitor<'de> for PairVisitor {
            type Value = Header;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a header pair ["name", "value" | {"base64": "..."}]"#)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Header, A::Error> {
                let name: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let value: Value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                let value = match value {
                    Value::Text(text) => text.into_bytes(),
                    Value::Encoded { base64 } => BASE64
                        .decode(base64)
                        .map_err(|e| de::Error::custom(format!("bad base64 header value: {e}")))?,
                };
                Ok(Header { name, value })
            }
        }
        deserializer.deserialize_tuple(2, PairVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_value_is_a_plain_string() {
        let h = Header::new("x-a", "Mixed Case, value");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"["x-a","Mixed Case, value"]"#);
        assert_eq!(serde_json::from_str::<Header>(&json).unwrap(), h);
    }

    #[test]
    fn non_utf8_value_round_trips_as_base64() {
        let h = Header::new("x-bin", vec![b'a', 0xff, 0xfe]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"["x-bin",{"base64":"Yf/+"}]"#);
        assert_eq!(serde_json::from_str::<Header>(&json).unwrap(), h);
    }

    #[test]
    fn rejects_malformed_pairs() {
        for bad in [
            r#"["x"]"#,
            r#"["x","y","z"]"#,
            r#"{"x":"y"}"#,
            r#"["x",{"base64":"!"}]"#,
        ] {
            assert!(serde_json::from_str::<Header>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strips_fixed_and_connection_named_headers() {
        let mut headers = vec![
            Header::new("content-type", "application/json"),
            Header::new("connection", "keep-alive, X-Secret-Hop"),
            Header::new("X-Secret-Hop", "1"),
            Header::new("transfer-encoding", "chunked"),
            Header::new("stripe-signature", "t=1,v1=ab"),
            Header::new("keep-alive", "timeout=5"),
            Header::new("upgrade", "h2c"),
            Header::new("x-a", "2"),
        ];
        strip_hop_by_hop(&mut headers);
        let names: Vec<_> = headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["content-type", "stripe-signature", "x-a"]);
    }

    #[test]
    fn get_is_case_insensitive_and_first_wins() {
        let headers = vec![Header::new("x-a", "1"), Header::new("x-a", "2")];
        assert_eq!(get(&headers, "X-A"), Some(&b"1"[..]));
        assert_eq!(get(&headers, "x-b"), None);
    }
}
