//! Where the event id is: one source, or several whose values are joined
//! with `:` (Adyen names an event by its `eventCode` and `pspReference`
//! together; neither alone is the event).
//!
//! Written as a string (`"header:X-Id"`) or a list of them
//! (`["body:/eventCode", "body:/pspReference"]`), checked as the preset is
//! read, so a bad part is refused with the preset like any other source.

use super::FieldSource;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most sources one rule joins. Real composite keys have two parts;
/// the bound keeps every body field of a preset within one pass of the
/// pointer reader.
pub const MAX_PARTS: usize = 4;

/// What joins the parts' values.
pub const JOIN: char = ':';

/// One source, or 2 to [`MAX_PARTS`] sources joined with [`JOIN`]. The
/// joined value is absent when any part is absent: half a key would make
/// different events look like one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRule {
    parts: Vec<FieldSource>,
}

impl FieldRule {
    /// Several sources joined, each already parsed.
    pub fn joined(parts: Vec<FieldSource>) -> Result<FieldRule, String> {
        match parts.len() {
            0 | 1 => Err(format!(
                "a list of sources joins 2 to {MAX_PARTS} of them; write a single source as a string"
            )),
            n if n > MAX_PARTS => Err(format!(
                "a list of sources joins at most {MAX_PARTS} of them, not {n}"
            )),
            _ => Ok(FieldRule { parts }),
        }
    }

    /// The sources, in the order their values are joined.
    pub fn parts(&self) -> &[FieldSource] {
        &self.parts
    }

    /// The source, when the rule has just one.
    pub fn single(&self) -> Option<&FieldSource> {
        match self.parts.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

impl From<FieldSource> for FieldRule {
    fn from(source: FieldSource) -> FieldRule {
        FieldRule {
            parts: vec![source],
        }
    }
}

impl fmt::Display for FieldRule {
    /// As written: `header:X-Id`, or `[body:/a, body:/b]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(one) = self.single() {
            return write!(f, "{one}");
        }
        let parts: Vec<String> = self.parts.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

impl Serialize for FieldRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(one) = self.single() {
            return one.serialize(serializer);
        }
        let mut seq = serializer.serialize_seq(Some(self.parts.len()))?;
        for part in &self.parts {
            seq.serialize_element(part)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for FieldRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldRule, D::Error> {
        deserializer.deserialize_any(RuleVisitor)
    }
}

/// Reads a string or a list of strings, with the source's own message for
/// a bad part (an untagged enum would only say that nothing matched).
struct RuleVisitor;

impl<'de> Visitor<'de> for RuleVisitor {
    type Value = FieldRule;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a source (header:NAME, body:/json/pointer, form:NAME) or a list of them")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<FieldRule, E> {
        text.parse::<FieldSource>()
            .map(FieldRule::from)
            .map_err(E::custom)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<FieldRule, S::Error> {
        let mut parts = Vec::new();
        while let Some(text) = seq.next_element::<String>()? {
            // Stop reading past the bound: the error says how many are allowed.
            if parts.len() == MAX_PARTS {
                return Err(de::Error::custom(format!(
                    "a list of sources joins at most {MAX_PARTS} of them"
                )));
            }
            parts.push(text.parse::<FieldSource>().map_err(de::Error::custom)?);
        }
        FieldRule::joined(parts).map_err(de::Error::custom)
    }
}
