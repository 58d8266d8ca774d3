//! How deliveries read to a person, the same in the terminal UI and in the
//! commands (`history`, `show`, `export`): signature badges, bodies (JSON
//! pretty, form data decoded, binary as hex) and the curl command for a
//! request.
//!
//! Everything here builds plain text; none of it is escaped yet. Each
//! output escapes where it writes (`output::line`/`json`/`cell` for the
//! commands, the UI when it builds its widgets), through the one sanitiser
//! `hookhole_shared::printable`.
//!
//! - [`body`]: a body as lines, bounded; sizes in B/KiB/MiB.
//! - [`curl`]: a delivery as a bash command that cannot run sender text.

pub mod body;
pub mod curl;

use hookhole_shared::headers::Header;
use hookhole_shared::signature::Status;

/// The symbol and word for a signature status; never colour alone.
pub fn badge(status: Status) -> &'static str {
    match status {
        Status::Valid => "✓ valid",
        Status::Invalid => "✗ invalid",
        Status::Expired => "⏱ expired",
        Status::Unsigned => "– unsigned",
        Status::NoSecret => "? no_secret",
        Status::Malformed => "! malformed",
    }
}

/// Headers as `name: value` lines, in the order they came.
pub fn header_lines(headers: &[Header]) -> impl Iterator<Item = String> + '_ {
    headers
        .iter()
        .map(|h| format!("{}: {}", h.name, h.value_lossy()))
}

/// `200 OK`: a status and its reason phrase (none for unknown codes).
pub fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_badge_has_a_symbol_and_a_word() {
        for status in [
            Status::Valid,
            Status::Invalid,
            Status::Expired,
            Status::Unsigned,
            Status::NoSecret,
            Status::Malformed,
        ] {
            let (symbol, word) = badge(status).split_once(' ').expect("symbol, space, word");
            assert_eq!(symbol.chars().count(), 1, "{status:?}");
            assert!(word.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn status_lines_name_known_codes_only() {
        assert_eq!(status_line(404), "404 Not Found");
        assert_eq!(status_line(599), "599");
    }
}
