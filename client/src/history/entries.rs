//! What a log record holds, and how: a JSON head with what the index needs
//! and the length of each body, a JSON detail with the rest (URL and
//! header lists, which indexing skips), then the bodies, raw (never
//! escaped, never copied on the way to the file).
//!
//! ```text
//! payload: | head length: u32 LE | head: JSON | detail length: u32 LE | detail: JSON |
//!          | body | response body | sent body |
//! ```
//!
//! A [`Kind::Delivery`] record holds a delivery, its verdict and its first
//! attempt (saved together, as the writer saves them); a
//! [`Kind::Attempt`] record a later attempt, with the id of its delivery.
//! The head is decoded field by field into our own types: an unknown
//! attempt kind or failure code, a length that does not add up, is refused.
//! A delivery's head also holds its webhook facts (absent in records of
//! builds before them, which decode as having none), its route, and what
//! its sender heard when the relay answered it (absent: the local answer).

use super::columns::{outcome_columns, outcome_from};
use super::log::{Kind, Outgoing, Record};
use crate::delivery::{self, Attempt, SenderHeard};
use crate::route::Label;
use crate::webhook::Recorded;
use bytes::Bytes;
use detail::Detail;
use heard_head::HeardHead;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::Verdict;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io;
use webhook_head::WebhookHead;

mod detail;
mod heard_head;
mod webhook_head;

/// A delivery as saved: what a [`Kind::Delivery`] record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub channel: String,
    pub delivery: Delivery,
    /// The body's length (also when only the record's head was read).
    pub body_len: u64,
    pub verdict: Verdict,
    pub first: Option<Attempt>,
    pub webhook: Option<Recorded>,
    /// The route that took the delivery (none in records from before
    /// issue 20).
    pub route: Option<Label>,
    pub heard: SenderHeard,
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
    verdict: Cow<'a, Verdict>,
    body: u64,
    attempt: Option<AttemptHead<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook: Option<WebhookHead<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    route: Option<RouteHead<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heard: Option<HeardHead<'a>>,
}

/// The route that took a delivery, in its head.
#[derive(Serialize, Deserialize)]
struct RouteHead<'a> {
    number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
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
    response_body: u64,
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
            response_body: a.outcome.body().len() as u64,
            request_body: a.request_body.as_ref().map(|b| b.len() as u64),
            verdict: a.verdict.as_ref().map(Cow::Borrowed),
            target: a.target.as_deref().map(Cow::Borrowed),
        }
    }

    /// The attempt, its bodies taken from `bodies` in order and its
    /// headers from `detail`.
    fn attempt(self, bodies: &mut Bodies, detail: &mut Detail<'_>) -> io::Result<Attempt> {
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
            std::mem::take(&mut detail.response_headers).into_owned(),
            response,
        )
        .map_err(|e| damaged(e.to_string()))?;
        Ok(Attempt {
            number: self.number,
            kind,
            started_ms: self.started_ms,
            duration_ms: self.duration_ms,
            outcome,
            request_headers: detail.request_headers.take().map(Cow::into_owned),
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

/// Starts a record's payload: the head and the detail.
fn with_head(
    kind: Kind,
    head: &impl Serialize,
    detail: &Detail<'_>,
) -> io::Result<Outgoing<'static>> {
    let mut out = Outgoing::new(kind);
    put_json(out.head(), head)?;
    let buf = out.head();
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    detail.write(buf);
    let len = (buf.len() - at - 4) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// Appends `value` as JSON after its length.
fn put_json(buf: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, value).map_err(io::Error::other)?;
    let len = (buf.len() - at - 4) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// The record of a delivery, its first attempt, its webhook facts, its
/// route and what its sender heard, sealed.
pub fn delivery<'a>(
    channel: &'a str,
    d: &'a Delivery,
    verdict: &'a Verdict,
    first: Option<&'a Attempt>,
    webhook: Option<&'a Recorded>,
    route: Option<&'a Label>,
    heard: SenderHeard,
) -> io::Result<Outgoing<'a>> {
    let head = DeliveryHead {
        channel: Cow::Borrowed(channel),
        id: Cow::Borrowed(&d.id),
        seq: d.seq,
        received_at_ms: d.received_at_ms,
        method: Cow::Borrowed(&d.method),
        path: Cow::Borrowed(&d.path),
        query: d.query.as_deref().map(Cow::Borrowed),
        verdict: Cow::Borrowed(verdict),
        body: d.body.len() as u64,
        attempt: first.map(|a| AttemptHead::of(None, a)),
        webhook: webhook.map(WebhookHead::of),
        route: route.map(|r| RouteHead {
            number: r.number,
            name: r.name.as_deref().map(Cow::Borrowed),
        }),
        heard: HeardHead::of(heard),
    };
    let detail = Detail {
        url: Cow::Borrowed(&d.url),
        headers: Cow::Borrowed(&d.headers),
        ..first.map(Detail::of_attempt).unwrap_or_default()
    };
    let mut out: Outgoing<'a> = with_head(Kind::Delivery, &head, &detail)?;
    out.push(&d.body);
    if let Some(a) = first {
        push_attempt_bodies(&mut out, a);
    }
    out.seal()?;
    Ok(out)
}

/// The record of a later attempt at delivery `delivery_id`, sealed.
pub fn attempt<'a>(delivery_id: &'a str, a: &'a Attempt) -> io::Result<Outgoing<'a>> {
    let head = AttemptHead::of(Some(delivery_id), a);
    let mut out: Outgoing<'a> = with_head(Kind::Attempt, &head, &Detail::of_attempt(a))?;
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
/// against what is left. When only the head was read, the bodies are
/// `absent` bytes not read: taken as empty, their lengths still checked.
struct Bodies {
    rest: Bytes,
    absent: u64,
}

impl Bodies {
    fn take(&mut self, len: u64) -> io::Result<Bytes> {
        if self.rest.is_empty() && self.absent > 0 {
            if len > self.absent {
                return Err(damaged(format!(
                    "claims a body of {len} bytes where {} are left",
                    self.absent
                )));
            }
            self.absent -= len;
            return Ok(Bytes::new());
        }
        if len > self.rest.len() as u64 {
            return Err(damaged(format!(
                "claims a body of {len} bytes where {} are left",
                self.rest.len()
            )));
        }
        Ok(self.rest.split_to(len as usize))
    }

    fn u32(&mut self, what: &str) -> io::Result<u32> {
        if self.rest.len() < 4 {
            return Err(damaged(format!("ends before its {what}")));
        }
        let b = self.rest.split_to(4);
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A part that starts with its length.
    fn part(&mut self, what: &str) -> io::Result<Bytes> {
        if self.rest.len() < 4 {
            return Err(damaged(format!("ends before its {what}'s length")));
        }
        let len = self.u32(what)?;
        if u64::from(len) > self.rest.len() as u64 {
            return Err(damaged(format!("claims a {what} of {len} bytes")));
        }
        Ok(self.rest.split_to(len as usize))
    }
}

/// Decodes a record read from the log, whole.
pub fn decode(record: Record) -> io::Result<Entry> {
    decode_as(record, Read::Whole)
}

/// Decodes what the index needs of a record, of which only the head may
/// have been read ([`super::log::Part::Head`]): header lists and the URL
/// are left empty, and so are the bodies (their lengths are checked
/// against the record's).
pub fn decode_head(record: Record) -> io::Result<Entry> {
    decode_as(record, Read::ForIndex)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Whole,
    ForIndex,
}

fn decode_as(record: Record, read: Read) -> io::Result<Entry> {
    let absent = u64::from(record.len).saturating_sub(record.payload.len() as u64);
    let mut bodies = Bodies {
        rest: Bytes::from(record.payload),
        absent,
    };
    let head = bodies.part("head")?;
    let detail_bytes = bodies.part("detail")?;
    let mut detail = match read {
        Read::Whole => Detail::read(detail_bytes)?,
        Read::ForIndex => Detail::default(),
    };
    let entry = match record.kind {
        Kind::Delivery => {
            let h: DeliveryHead<'_> =
                serde_json::from_slice(&head).map_err(|e| damaged(e.to_string()))?;
            let body = bodies.take(h.body)?;
            let first = match h.attempt {
                Some(a) => Some(a.attempt(&mut bodies, &mut detail)?),
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
                    headers: std::mem::take(&mut detail.headers).into_owned(),
                    body_blake3: String::new(),
                    url: std::mem::take(&mut detail.url).into_owned(),
                    queued: false,
                    answered: false,
                    body,
                },
                body_len: h.body,
                verdict: h.verdict.into_owned(),
                first,
                webhook: h.webhook.map(WebhookHead::recorded),
                route: h.route.map(|r| Label {
                    number: r.number,
                    name: r.name.map(Cow::into_owned),
                }),
                heard: heard_head::heard(h.heard)?,
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
                attempt: Box::new(h.attempt(&mut bodies, &mut detail)?),
            }
        }
    };
    let left = bodies.rest.len() as u64 + bodies.absent;
    if left > 0 {
        return Err(damaged(format!("has {left} bytes after its bodies")));
    }
    Ok(entry)
}

#[cfg(test)]
#[path = "entries_tests.rs"]
mod tests;
