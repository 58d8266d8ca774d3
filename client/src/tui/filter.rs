//! The `/` filter and the `f` (failed only) toggle.

use super::app::Show;
use super::model::Record;

/// What a record must match, prepared once per filtering pass.
pub struct Filter {
    /// Lowercased; empty matches everything.
    needle: String,
    failed_only: bool,
}

impl Filter {
    pub fn new(text: &str, show: Show) -> Filter {
        Filter {
            needle: text.trim().to_ascii_lowercase(),
            failed_only: show == Show::FailedOnly,
        }
    }

    /// Path, method, status or failure code, signature scheme and status,
    /// query, event type or id, or body contain the text (ASCII
    /// case-insensitive).
    pub fn matches(&self, r: &Record) -> bool {
        if self.failed_only && !r.failed() {
            return false;
        }
        if self.needle.is_empty() {
            return true;
        }
        let needle = self.needle.as_bytes();
        let webhook = r.webhook.as_ref();
        let status = match r.last().map(|a| (a.outcome.status(), a.outcome.error())) {
            Some((Some(status), _)) => status.to_string(),
            Some((None, Some((code, _)))) => code.to_string(),
            _ => String::new(),
        };
        [
            r.path.as_str(),
            r.method.as_str(),
            status.as_str(),
            r.verdict.scheme.as_deref().unwrap_or(""),
            r.verdict.status.as_str(),
            r.query.as_deref().unwrap_or(""),
            webhook.and_then(|w| w.event_type.as_deref()).unwrap_or(""),
            webhook.and_then(|w| w.event_id.as_deref()).unwrap_or(""),
        ]
        .iter()
        .any(|f| contains_ignore_case(f.as_bytes(), needle))
            || contains_ignore_case(&r.body, needle)
    }
}

/// Case-insensitive (ASCII) substring search in raw bytes, without copying
/// the body.
fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack.len() >= needle.len()
        && haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}
