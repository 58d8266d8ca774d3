//! Where one fact is in a delivery: `header:NAME`, `body:/json/pointer` or
//! `form:NAME`, parsed while a preset is read so a bad source is refused
//! with the preset.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A header (its first value, trimmed), a JSON pointer (RFC 6901) into
/// the body (`/type`, `/data/object/id`, `/items/0/id`), or a field of a
/// form body (`application/x-www-form-urlencoded`, its first value,
/// decoded; the name as the provider writes it, compared decoded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FieldSource {
    Header(String),
    Body(String),
    Form(String),
}

/// Longest form field name accepted: real ones are short words
/// (`MessageStatus`), and the name is compared on every delivery.
const MAX_FORM_NAME: usize = 128;

impl FromStr for FieldSource {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("header", name)) => {
                if name.is_empty() {
                    return Err(format!("source {text:?} names no header (header:NAME)"));
                }
                // An HTTP field name is a token: no spaces, separators or
                // controls; anything else could never match a header.
                if let Some(bad) = name.chars().find(|c| !is_token_char(*c)) {
                    return Err(format!(
                        "source {text:?}: {bad:?} cannot be in a header name"
                    ));
                }
                Ok(FieldSource::Header(name.to_string()))
            }
            Some(("body", pointer)) => {
                if !pointer.starts_with('/') {
                    return Err(format!(
                        "source {text:?} needs a JSON pointer starting with '/' after body: (body:/type)"
                    ));
                }
                if let Some(bad) = bad_escape(pointer) {
                    return Err(format!(
                        "source {text:?}: {bad:?} is not an escape of a JSON pointer (~0 is '~', ~1 is '/')"
                    ));
                }
                Ok(FieldSource::Body(pointer.to_string()))
            }
            Some(("form", name)) => {
                if name.is_empty() {
                    return Err(format!("source {text:?} names no form field (form:NAME)"));
                }
                if name.len() > MAX_FORM_NAME {
                    return Err(format!(
                        "source {text:?}: a form field name is at most {MAX_FORM_NAME} bytes"
                    ));
                }
                // Decoded names never hold controls a provider would send;
                // refusing them keeps the name printable wherever it is shown.
                if let Some(bad) = name.chars().find(|c| c.is_control()) {
                    return Err(format!(
                        "source {text:?}: {bad:?} cannot be in a form field name"
                    ));
                }
                Ok(FieldSource::Form(name.to_string()))
            }
            _ => Err(format!(
                "source {text:?} must be header:NAME, body:/json/pointer or form:NAME"
            )),
        }
    }
}

impl FieldSource {
    /// The keys of a body source from the top level down, unescaped
    /// (`body:/data/a~1b` is `["data", "a/b"]`): where a sender writes the
    /// field (`hookhole trigger --duplicate` numbers its retry there).
    /// `None` for a header or a form field.
    pub fn body_keys(&self) -> Option<Vec<String>> {
        match self {
            FieldSource::Header(_) | FieldSource::Form(_) => None,
            FieldSource::Body(pointer) => {
                Some(tokens(pointer).into_iter().map(String::from).collect())
            }
        }
    }
}

impl fmt::Display for FieldSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldSource::Header(name) => write!(f, "header:{name}"),
            FieldSource::Body(pointer) => write!(f, "body:{pointer}"),
            FieldSource::Form(name) => write!(f, "form:{name}"),
        }
    }
}

impl TryFrom<String> for FieldSource {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<FieldSource> for String {
    fn from(source: FieldSource) -> String {
        source.to_string()
    }
}

/// RFC 9110 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The first `~` not followed by `0` or `1`, as written.
fn bad_escape(pointer: &str) -> Option<String> {
    let mut rest = pointer;
    while let Some(at) = rest.find('~') {
        let after = &rest[at + 1..];
        match after.chars().next() {
            Some('0' | '1') => rest = &after[1..],
            Some(c) => return Some(format!("~{c}")),
            None => return Some("~".to_string()),
        }
    }
    None
}

/// The reference tokens of a pointer that passed [`FieldSource::from_str`],
/// unescaped (`~1` is `/`, then `~0` is `~`, in that order per RFC 6901).
pub(super) fn tokens(pointer: &str) -> Vec<std::borrow::Cow<'_, str>> {
    pointer
        .split('/')
        .skip(1)
        .map(|token| {
            if token.contains('~') {
                std::borrow::Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
            } else {
                std::borrow::Cow::Borrowed(token)
            }
        })
        .collect()
}
