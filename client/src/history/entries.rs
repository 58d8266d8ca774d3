//! What a log record holds, and how: a JSON head with every field and the
//! length of each body, then the bodies, raw (never escaped, never copied
//! on the way to the file).
//!
//! ```text
//! payload: | head length: u32 LE | head: JSON | body | response body | sent body |
//! ```
//!
//! A [`Kind::Delivery`] record holds a delivery, its verdict and its first
//! attempt (saved together, as the writer saves them); a
//! [`Kind::Attempt`] record a later attempt, with the id of its delivery.
//! The head is decoded field by field into our own types: an unknown
//! attempt kind or failure code, a length that does not add up, is refused.

use super::columns::{outcome_columns, outcome_from};
use super::log::{Kind, Outgoing, Record};
use crate::delivery::{self, Attempt};
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io;

/// A delivery as saved: what a [`Kind::Delivery`] record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub channel: String,
    pub delivery: Delivery,
    pub verdict: Verdict,
    pub first: Option<Attempt>,
}

/// A record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Delivery(Box<Saved>),
    Attempt {
        delivery_id: String,
        attempt: Box<Attempt>,
    },
}

#[derive(Serialize, Deserialize)]
struct DeliveryHead<'a> {
    channel: Cow<'a, str>,
    id: Cow<'a, str>,
    seq: u64,
    received_at_ms: u64,
    method: Cow<'a, str>,
    path: Cow<'a, str>,
    query: Option<Cow<'a, str>>,
    url: Cow<'a, str>,
    headers: Cow<'a, [Header]>,
    verdict: Cow<'a, Verdict>,
    body: u64,
    attempt: Option<AttemptHead<'a>>,
}

#[derive(Serialize, Deserialize)]
struct AttemptHead<'a> {
    /// The delivery's id, in an attempt's own record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery: Option<Cow<'a, str>>,
    number: u32,
    kind: Cow<'a, str>,
    started_ms: u64,
    duration_ms: Option<u64>,
    status: Option<u16>,
    error_code: Option<Cow<'a, str>>,
    error_message: Option<Cow<'a, str>>,
    response_headers: Cow<'a, [Header]>,
    response_body: u64,
    request_headers: Option<Cow<'a, [Header]>>,
    request_body: Option<u64>,
    verdict: Option<Cow<'a, Verdict>>,
    target: Option<Cow<'a, str>>,
}

impl<'a> AttemptHead<'a> {
    fn of(delivery: Option<&'a str>, a: &'a Attempt) -> AttemptHead<'a> {
        let (status, error_code, error_message) = outcome_columns(&a.outcome);
        AttemptHead {
            delivery: delivery.map(Cow::Borrowed),
            number: a.number,
            kind: Cow::Borrowed(a.kind.as_str()),
            started_ms: a.started_ms,
            duration_ms: a.duration_ms,
            status,
            error_code: error_code.map(Cow::Borrowed),
            error_message: error_message.map(Cow::Borrowed),
            response_headers: Cow::Borrowed(a.outcome.headers()),
            response_body: a.outcome.body().len() as u64,
            request_headers: a.request_headers.as_deref().map(Cow::Borrowed),
            request_body: a.request_body.as_ref().map(|b| b.len() as u64),
            verdict: a.verdict.as_ref().map(Cow::Borrowed),
            target: a.target.as_deref().map(Cow::Borrowed),
        }
    }

    /// The attempt, its bodies taken from `bodies` in order.
    fn attempt(self, bodies: &mut Bodies) -> io::Result<Attempt> {
        let kind = delivery::Kind::parse(&self.kind)
            .ok_or_else(|| damaged(format!("unknown attempt kind {:?}", printable(&self.kind))))?;
        let response = bodies.take(self.response_body)?;
        let request_body = match self.request_body {
            Some(len) => Some(bodies.take(len)?.to_vec()),
            None => None,
        };
        let outcome = outcome_from(
            self.status,
            self.error_code.map(Cow::into_owned),
            self.error_message.map(Cow::into_owned),
            self.response_headers.into_owned(),
            response,
        )
        .map_err(|e| damaged(e.to_string()))?;
        Ok(Attempt {
            number: self.number,
            kind,
            started_ms: self.started_ms,
            duration_ms: self.duration_ms,
            outcome,
            request_headers: self.request_headers.map(Cow::into_owned),
            request_body,
            verdict: self.verdict.map(Cow::into_owned),
            target: self.target.map(Cow::into_owned),
        })
    }
}

fn printable(text: &str) -> String {
    hookhole_shared::printable::line(text).to_string()
}

fn damaged(why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a history record {why}"),
    )
}

/// Starts a record's payload: the head's length and the head.
fn with_head(kind: Kind, head: &impl Serialize) -> io::Result<Outgoing<'static>> {
    let mut out = Outgoing::new(kind);
    let buf = out.head();
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, head).map_err(io::Error::other)?;
    let len = (buf.len() - at - 4) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// The record of a delivery and its first attempt, sealed.
pub fn delivery<'a>(
    channel: &'a str,
    d: &'a Delivery,
    verdict: &'a Verdict,
    first: Option<&'a Attempt>,
) -> io::Result<Outgoing<'a>> {
    let head = DeliveryHead {
        channel: Cow::Borrowed(channel),
        id: Cow::Borrowed(&d.id),
        seq: d.seq,
        received_at_ms: d.received_at_ms,
        method: Cow::Borrowed(&d.method),
        path: Cow::Borrowed(&d.path),
        query: d.query.as_deref().map(Cow::Borrowed),
        url: Cow::Borrowed(&d.url),
        headers: Cow::Borrowed(&d.headers),
        verdict: Cow::Borrowed(verdict),
        body: d.body.len() as u64,
        attempt: first.map(|a| AttemptHead::of(None, a)),
    };
    let mut out: Outgoing<'a> = with_head(Kind::Delivery, &head)?;
    out.push(&d.body);
    if let Some(a) = first {
        push_attempt_bodies(&mut out, a);
    }
    out.seal()?;
    Ok(out)
}

/// The record of a later attempt at delivery `delivery_id`, sealed.
pub fn attempt<'a>(delivery_id: &'a str, a: &'a Attempt) -> io::Result<Outgoing<'a>> {
    let mut out: Outgoing<'a> = with_head(Kind::Attempt, &AttemptHead::of(Some(delivery_id), a))?;
    push_attempt_bodies(&mut out, a);
    out.seal()?;
    Ok(out)
}

fn push_attempt_bodies<'a>(out: &mut Outgoing<'a>, a: &'a Attempt) {
    out.push(a.outcome.body());
    if let Some(body) = &a.request_body {
        out.push(body);
    }
}

/// The bodies after the head, taken in order; every length is checked
/// against what is left.
struct Bodies {
    rest: Bytes,
}

impl Bodies {
    fn take(&mut self, len: u64) -> io::Result<Bytes> {
        if len > self.rest.len() as u64 {
            return Err(damaged(format!(
                "claims a body of {len} bytes where {} are left",
                self.rest.len()
            )));
        }
        Ok(self.rest.split_to(len as usize))
    }
}

/// Decodes a record read from the log.
pub fn decode(record: Record) -> io::Result<Entry> {
    let mut payload = Bytes::from(record.payload);
    if payload.len() < 4 {
        return Err(damaged("is shorter than its head's length".into()));
    }
    let len = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]) as usize;
    if len > payload.len() - 4 {
        return Err(damaged(format!("claims a head of {len} bytes")));
    }
    let head = payload.slice(4..4 + len);
    let mut bodies = Bodies {
        rest: payload.split_off(4 + len),
    };
    let entry = match record.kind {
        Kind::Delivery => {
            let h: DeliveryHead<'_> =
                serde_json::from_slice(&head).map_err(|e| damaged(e.to_string()))?;
            let body = bodies.take(h.body)?;
            let first = match h.attempt {
                Some(a) => Some(a.attempt(&mut bodies)?),
                None => None,
            };
            Entry::Delivery(Box::new(Saved {
                channel: h.channel.into_owned(),
                delivery: Delivery {
                    id: h.id.into_owned(),
                    seq: h.seq,
                    received_at_ms: h.received_at_ms,
                    method: h.method.into_owned(),
                    path: h.path.into_owned(),
                    query: h.query.map(Cow::into_owned),
                    headers: h.headers.into_owned(),
                    body_sha256: String::new(),
                    url: h.url.into_owned(),
                    queued: false,
                    body,
                },
                verdict: h.verdict.into_owned(),
                first,
            }))
        }
        Kind::Attempt => {
            let h: AttemptHead<'_> =
                serde_json::from_slice(&head).map_err(|e| damaged(e.to_string()))?;
            let delivery_id = h
                .delivery
                .clone()
                .ok_or_else(|| damaged("names no delivery".into()))?
                .into_owned();
            Entry::Attempt {
                delivery_id,
                attempt: Box::new(h.attempt(&mut bodies)?),
            }
        }
    };
    if !bodies.rest.is_empty() {
        return Err(damaged(format!(
            "has {} bytes after its bodies",
            bodies.rest.len()
        )));
    }
    Ok(entry)
}
