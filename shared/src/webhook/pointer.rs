//! A few JSON pointers read from a body in one pass.
//!
//! The body is walked with serde's visitor, keeping nothing but the values
//! at the pointers: object keys are compared where they lie in the input
//! (no allocation unless a key is escaped), and every value off the
//! pointers' paths is skipped as [`IgnoredAny`]. A 2 KiB event costs one
//! validating scan and a string copy per fact, where a `serde_json::Value`
//! would allocate every key and value of it. The whole body is still
//! checked: invalid JSON gives no facts at all, so a truncated body never
//! yields a plausible-looking id.

use super::source::tokens;
use super::{MAX_FACT_LEN, MAX_SCANNED_BODY};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The most pointers read in one pass (a bit per pointer marks the ones
/// still on the path being walked).
pub(super) const MAX_POINTERS: usize = 8;

/// The scalar at each pointer: a string as sent, a number as its JSON text.
/// `None` where the pointer leads nowhere, to an object, an array, a bool
/// or null; all `None` when the body is too large or not JSON.
pub(super) fn read(body: &[u8], pointers: &[&str]) -> Vec<Option<String>> {
    let mut found = vec![None; pointers.len()];
    if pointers.is_empty() || pointers.len() > MAX_POINTERS || body.len() > MAX_SCANNED_BODY {
        return found;
    }
    let paths: Vec<Vec<Cow<'_, str>>> = pointers.iter().map(|p| tokens(p)).collect();
    let all = (1u32 << pointers.len()) - 1;
    let mut json = serde_json::Deserializer::from_slice(body);
    let walked = Node {
        paths: &paths,
        on_path: all,
        depth: 0,
        found: &mut found,
    }
    .deserialize(&mut json)
    .and_then(|()| json.end());
    if walked.is_err() {
        found.iter_mut().for_each(|f| *f = None);
    }
    found
}

/// A value in the document, with the pointers whose path leads to it.
struct Node<'a, 'p> {
    paths: &'a [Vec<Cow<'p, str>>],
    on_path: u32,
    depth: usize,
    found: &'a mut [Option<String>],
}

impl Node<'_, '_> {
    /// Pointers on this path whose token at this depth satisfies `matches`.
    fn below(&self, matches: impl Fn(&str) -> bool) -> u32 {
        let mut mask = 0;
        for (index, path) in self.paths.iter().enumerate() {
            if self.on_path & (1 << index) != 0
                && path.get(self.depth).is_some_and(|token| matches(token))
            {
                mask |= 1 << index;
            }
        }
        mask
    }

    fn child(&mut self, on_path: u32) -> Node<'_, '_> {
        Node {
            paths: self.paths,
            on_path,
            depth: self.depth + 1,
            found: self.found,
        }
    }

    /// Keeps a scalar for the pointers that end here (the first occurrence
    /// of a duplicated key wins).
    fn keep(&mut self, text: &str) {
        for (index, path) in self.paths.iter().enumerate() {
            if self.on_path & (1 << index) != 0
                && path.len() == self.depth
                && self.found[index].is_none()
            {
                self.found[index] = Some(capped(text).to_string());
            }
        }
    }
}

/// At most [`MAX_FACT_LEN`] bytes, cut at a character boundary.
pub(super) fn capped(text: &str) -> &str {
    if text.len() <= MAX_FACT_LEN {
        return text;
    }
    let mut end = MAX_FACT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(mut self, value: &str) -> Result<(), E> {
        self.keep(value);
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, value: u64) -> Result<(), E> {
        self.keep(&value.to_string());
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, value: i64) -> Result<(), E> {
        self.keep(&value.to_string());
        Ok(())
    }

    fn visit_f64<E: de::Error>(mut self, value: f64) -> Result<(), E> {
        self.keep(&value.to_string());
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<(), M::Error> {
        loop {
            let candidates = self.below(|_| true);
            let Some(matched) = map.next_key_seed(Key {
                node: &self,
                candidates,
            })?
            else {
                return Ok(());
            };
            if matched == 0 {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(self.child(matched))?;
            }
        }
    }

    fn visit_seq<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<(), S::Error> {
        let mut index = 0usize;
        loop {
            let matched = self.below(|token| is_index(token, index));
            let more = if matched == 0 {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                seq.next_element_seed(self.child(matched))?.is_some()
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }
}

/// An array index token: decimal digits, no leading zero (RFC 6901).
fn is_index(token: &str, index: usize) -> bool {
    (token == "0" || !token.starts_with('0')) && token.parse::<usize>() == Ok(index)
}

/// An object key, compared with the tokens at this depth without being
/// copied: the answer is the mask of the pointers it continues.
struct Key<'n, 'a, 'p> {
    node: &'n Node<'a, 'p>,
    candidates: u32,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_, '_> {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u32, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_, '_> {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<u32, E> {
        if self.candidates == 0 {
            return Ok(0);
        }
        Ok(self.node.below(|token| token == key) & self.candidates)
    }
}

#[cfg(test)]
#[path = "pointer_tests.rs"]
mod tests;
