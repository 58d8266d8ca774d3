//! `--set PATH=VALUE`: one field of a JSON body changed before signing.
//!
//! The path is the keys from the body's top level down, separated by dots
//! (`data.object.amount`); a key of an array is an index (`items.0.qty`); a
//! backslash makes the next `.`, `=` or `\` part of a key (`meta.a\.b`).
//! The value is JSON when it parses as JSON (`4200`, `true`, `null`,
//! `"42"`, `{"a":1}`), else a string (`paid`).
//!
//! The body is edited, not rebuilt: only the objects and arrays along the
//! path are written again (compactly); every other value keeps its bytes
//! and every object its key order, since the values off the path are kept
//! as the raw text they were ([`RawValue`]). Keys missing on the way are
//! created as objects; an index past an array's end is refused.

use hookhole_host::bounded_read::BODY_MAX;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The deepest path taken. Real payloads nest a few levels; well under
/// the 128 levels serde_json (and so most receivers) will parse, so a set
/// value keeps the body readable, and the walk's recursion stays shallow.
pub const MAX_PATH_KEYS: usize = 64;

/// One `--set`: where in the body, and the JSON text to put there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSet {
    /// Keys from the top level down (an array's key is its index).
    pub path: Vec<String>,
    /// The value as JSON text.
    pub value: String,
}

/// Parses `PATH=VALUE`; the message says what is wrong (the caller names
/// the flag).
pub fn parse(text: &str) -> Result<FieldSet, String> {
    let mut path = Vec::new();
    let mut key = String::new();
    let mut chars = text.chars();
    let value = loop {
        match chars.next() {
            None => return Err("expected PATH=VALUE, e.g. data.object.amount=4200".into()),
            Some('\\') => match chars.next() {
                Some(c @ ('.' | '=' | '\\')) => key.push(c),
                _ => {
                    return Err(
                        "a backslash in the path escapes '.', '=' or '\\' only (a\\.b is the key \"a.b\")"
                            .into(),
                    );
                }
            },
            Some('.') => path.push(std::mem::take(&mut key)),
            Some('=') => {
                path.push(key);
                break chars.as_str();
            }
            Some(c) => key.push(c),
        }
    };
    if path.len() > MAX_PATH_KEYS {
        return Err(format!(
            "a path of {} keys is deeper than the {MAX_PATH_KEYS} allowed",
            path.len()
        ));
    }
    if path == [""] {
        return Err("the path before '=' is empty: e.g. data.object.amount=4200".into());
    }
    if let Some(at) = path.iter().position(String::is_empty) {
        return Err(format!(
            "key {} of the path is empty (a\\.b is the key \"a.b\")",
            at + 1
        ));
    }
    Ok(FieldSet {
        path,
        value: json_value(value),
    })
}

/// `text` as JSON text: itself when it is JSON, else a JSON string of it.
fn json_value(text: &str) -> String {
    let trimmed = text.trim();
    if !trimmed.is_empty() && serde_json::from_str::<IgnoredAny>(trimmed).is_ok() {
        return trimmed.to_string();
    }
    serde_json::to_string(text).expect("a string always serializes")
}

/// The path as it would be written after `--set` (escapes included).
pub fn display_path(path: &[String]) -> String {
    let keys: Vec<String> = path
        .iter()
        .map(|key| {
            key.replace('\\', "\\\\")
                .replace('.', "\\.")
                .replace('=', "\\=")
        })
        .collect();
    keys.join(".")
}

/// Applies each of `sets` to `body`, in order; the message names the
/// `--set` that could not be applied and why.
pub fn apply(body: &[u8], sets: &[FieldSet]) -> Result<Vec<u8>, String> {
    let mut body = body.to_vec();
    for set in sets {
        body = set_path(&body, &set.path, &set.value, BODY_MAX)
            .map_err(|refusal| format!("--set {}: {refusal}", clip(&display_path(&set.path))))?;
    }
    Ok(body)
}

/// A flag's text or a path for a message: cut after 80 characters (a
/// path can be 64 keys of any length, a value anything).
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Why a value could not be put at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotJson(String),
    NotAnObject(&'static str),
    /// A key on the way is not an object (or an array, for an index).
    Through {
        at: String,
        kind: &'static str,
    },
    NoSuchIndex {
        at: String,
        key: String,
        len: usize,
    },
    TooDeep(usize),
    TooLarge(usize, u64),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotJson(e) => write!(f, "the body is not JSON ({e})"),
            Refusal::NotAnObject(kind) => write!(f, "the body is {kind}, not a JSON object"),
            Refusal::Through { at, kind } => write!(f, "{at} is {kind}, not an object"),
            Refusal::NoSuchIndex { at, key, len } => {
                write!(
                    f,
                    "{at} is an array of {len}: {key:?} is not an index in it"
                )
            }
            Refusal::TooDeep(keys) => write!(
                f,
                "a path of {keys} keys is deeper than the {MAX_PATH_KEYS} allowed"
            ),
            Refusal::TooLarge(len, max) => {
                write!(f, "the body would be {len} bytes, over the {max} allowed")
            }
        }
    }
}

/// `body` (a JSON object) with `value` (JSON text) at `path`, the result
/// at most `max` bytes.
pub fn set_path(body: &[u8], path: &[String], value: &str, max: u64) -> Result<Vec<u8>, Refusal> {
    if path.len() > MAX_PATH_KEYS {
        return Err(Refusal::TooDeep(path.len()));
    }
    let text = std::str::from_utf8(body).map_err(|e| Refusal::NotJson(e.to_string()))?;
    // The whole body must be JSON: a truncated one is refused, not edited.
    serde_json::from_str::<&RawValue>(text).map_err(|e| Refusal::NotJson(e.to_string()))?;
    let json = text.trim();
    match kind(json) {
        "an object" => {}
        other => return Err(Refusal::NotAnObject(other)),
    }
    // Whitespace around the document (a file's last newline) stays.
    let lead = &text[..text.len() - text.trim_start().len()];
    let trail = &text[text.trim_end().len()..];
    let edited = set_in(json, path, value, 0)?;
    let out = format!("{lead}{edited}{trail}");
    if out.len() as u64 > max {
        return Err(Refusal::TooLarge(out.len(), max));
    }
    Ok(out.into_bytes())
}

/// What a JSON value is, from its first byte (`raw` is valid JSON).
fn kind(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// `raw` with `value` at `path[walked..]`; `path[..walked]` led here.
/// Recursion is bounded by the path's length ([`MAX_PATH_KEYS`]).
fn set_in(raw: &str, path: &[String], value: &str, walked: usize) -> Result<String, Refusal> {
    let Some(key) = path.get(walked) else {
        return Ok(value.to_string());
    };
    let at = || display_path(&path[..walked]);
    let bad = |e: serde_json::Error| Refusal::NotJson(e.to_string());
    match kind(raw) {
        "an object" => {
            let Entries(entries) = serde_json::from_str(raw).map_err(bad)?;
            // The last of a repeated key is the one parsers keep.
            let found = entries.iter().rposition(|(k, _)| k == key);
            let new = match found {
                Some(i) => set_in(entries[i].1.get(), path, value, walked + 1)?,
                None => nested(&path[walked + 1..], value),
            };
            let mut out = String::with_capacity(raw.len() + new.len() + key.len() + 4);
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_member(&mut out, k, if found == Some(i) { &new } else { v.get() });
            }
            if found.is_none() {
                if !entries.is_empty() {
                    out.push(',');
                }
                push_member(&mut out, key, &new);
            }
            out.push('}');
            Ok(out)
        }
        "an array" => {
            let items: Vec<&RawValue> = serde_json::from_str(raw).map_err(bad)?;
            let index =
                as_index(key)
                    .filter(|&i| i < items.len())
                    .ok_or_else(|| Refusal::NoSuchIndex {
                        at: at(),
                        key: key.clone(),
                        len: items.len(),
                    })?;
            let new = set_in(items[index].get(), path, value, walked + 1)?;
            let mut out = String::with_capacity(raw.len() + new.len());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(if i == index { &new } else { item.get() });
            }
            out.push(']');
            Ok(out)
        }
        other => Err(Refusal::Through {
            at: at(),
            kind: other,
        }),
    }
}

/// `value` under the keys of `path`, as objects: `{"a":{"b":VALUE}}`.
fn nested(path: &[String], value: &str) -> String {
    let mut out = String::new();
    for key in path {
        out.push('{');
        push_key(&mut out, key);
    }
    out.push_str(value);
    out.extend(std::iter::repeat_n('}', path.len()));
    out
}

fn push_member(out: &mut String, key: &str, value: &str) {
    push_key(out, key);
    out.push_str(value);
}

fn push_key(out: &mut String, key: &str) {
    out.push_str(&serde_json::to_string(key).expect("a string always serializes"));
    out.push(':');
}

/// An array index: decimal digits without a leading zero (as in a JSON
/// pointer).
fn as_index(key: &str) -> Option<usize> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// An object's members in their order, each value as its raw text.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

struct EntriesVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EntriesVisitor<'a> {
    type Value = Entries<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entries<'a>, M::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: &'a RawValue = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Entries(entries))
    }
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
