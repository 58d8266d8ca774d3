//! The part of a record only a full read needs: the URL and the header
//! lists, in binary (header values are bytes, often not UTF-8).

use super::{Bodies, damaged};
use crate::delivery::Attempt;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use std::borrow::Cow;
use std::io;

/// What only a full read needs. A record holds one: a delivery's URL and
/// headers and its first attempt's, or an attempt's headers. Written in
/// binary (header values are bytes, often not UTF-8), each length checked
/// against what is left when read:
///
/// ```text
/// | URL: u32 LE length, bytes | headers | response headers | sent headers |
/// headers: | count: u32 LE (u32::MAX: none) | per header: name and value, each a u32 LE length, bytes |
/// ```
#[derive(Default)]
pub(super) struct Detail<'a> {
    pub(super) url: Cow<'a, str>,
    pub(super) headers: Cow<'a, [Header]>,
    pub(super) response_headers: Cow<'a, [Header]>,
    pub(super) request_headers: Option<Cow<'a, [Header]>>,
}

impl<'a> Detail<'a> {
    pub(super) fn of_attempt(a: &'a Attempt) -> Detail<'a> {
        Detail {
            response_headers: Cow::Borrowed(a.outcome.headers()),
            request_headers: a.request_headers.as_deref().map(Cow::Borrowed),
            ..Detail::default()
        }
    }

    pub(super) fn write(&self, buf: &mut Vec<u8>) {
        put_bytes(buf, self.url.as_bytes());
        for list in [
            Some(&*self.headers),
            Some(&*self.response_headers),
            self.request_headers.as_deref(),
        ] {
            match list {
                None => buf.extend_from_slice(&u32::MAX.to_le_bytes()),
                Some(list) => {
                    buf.extend_from_slice(&(list.len() as u32).to_le_bytes());
                    for h in list {
                        put_bytes(buf, h.name.as_bytes());
                        put_bytes(buf, &h.value);
                    }
                }
            }
        }
    }

    pub(super) fn read(bytes: Bytes) -> io::Result<Detail<'static>> {
        let mut r = Bodies {
            rest: bytes,
            absent: 0,
        };
        let text = |b: Bytes, what: &str| {
            String::from_utf8(b.to_vec())
                .map_err(|_| damaged(format!("has a {what} that is not UTF-8")))
        };
        let url = text(r.part("URL")?, "URL")?;
        let mut lists: Vec<Option<Vec<Header>>> = Vec::with_capacity(3);
        for _ in 0..3 {
            let count = r.u32("header count")?;
            if count == u32::MAX {
                lists.push(None);
                continue;
            }
            // Each header takes at least 8 bytes: a count beyond what is
            // left is refused before anything is allocated for it.
            if u64::from(count) * 8 > r.rest.len() as u64 {
                return Err(damaged(format!("claims {count} headers")));
            }
            let mut list = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let name = text(r.part("header name")?, "header name")?;
                list.push(Header::new(name, r.part("header value")?.to_vec()));
            }
            lists.push(Some(list));
        }
        if !r.rest.is_empty() {
            return Err(damaged("has bytes after its headers".into()));
        }
        let mut lists = lists.into_iter();
        let mut next = || lists.next().flatten();
        Ok(Detail {
            url: Cow::Owned(url),
            headers: Cow::Owned(next().unwrap_or_default()),
            response_headers: Cow::Owned(next().unwrap_or_default()),
            request_headers: next().map(Cow::Owned),
        })
    }
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}
