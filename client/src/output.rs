//! Writing to stdout without panicking when the reader has gone away
//! (`hookhole providers | head`): a closed pipe just ends the output.
//!
//! The two sinks for what a person reads: [`line`] for text and [`json`]
//! for JSON, both through `hookhole_shared::printable`, so nothing a sender
//! or relay controls reaches the terminal raw. [`text`] is for exports,
//! whose bytes must stay exact. [`cell`] fits outside text into a column of
//! a table, [`clip`] into a width with `…`; [`count`] is the one way a
//! number and its noun are written (`1 delivery`, `2 deliveries`).

use hookhole_shared::printable;
use serde::Serialize;
use std::io::Write as _;
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

/// Prints `text` as one line (hidden characters escaped, newlines too) and a
/// newline; returns false once stdout is closed.
pub fn line(text: &str) -> bool {
    raw_line(&printable::line(text))
}

/// Prints `value` as JSON with hidden characters escaped: one line, or
/// indented when `pretty`. False once stdout is closed.
pub fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> serde_json::Result<bool> {
    let text = if pretty {
        printable::to_json_pretty(value)?
    } else {
        printable::to_json(value)?
    };
    Ok(raw_line(&text))
}

fn raw_line(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|_| out.flush()).is_ok()
}

/// Prints `text` as is (an export's exact bytes).
pub fn text(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    write!(out, "{text}").and_then(|_| out.flush()).is_ok()
}

/// `text` as one table cell exactly `width` columns wide: escaped first
/// (escapes widen it), then cut with `…` or padded with spaces, measured in
/// display columns (a CJK character takes two, a combining mark none), so
/// no value can push the next column along or wrap into a line that reads
/// as a row of its own.
pub fn cell(text: &str, width: usize) -> String {
    let mut out = clip(text, width);
    let used = out.width();
    out.extend(std::iter::repeat_n(' ', width - used));
    out
}

/// `text` escaped and, when wider than `width` display columns, cut to
/// fit with a trailing `…` (the UI's header and hint bar, table cells).
pub fn clip(text: &str, width: usize) -> String {
    let shown = printable::line(text);
    if shown.width() <= width {
        return shown.into_owned();
    }
    let mut out = String::with_capacity(width + 8);
    let mut used = 0;
    for c in shown.chars() {
        let w = c.width().unwrap_or(0);
        if used + w >= width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// A number and its noun, singular for exactly one: `count(1, "delivery",
/// "deliveries")` is `1 delivery`, 0 and 2 take `many`. English plurals are
/// irregular, so the caller names both words.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::{cell, count};

    #[test]
    fn cells_are_exactly_as_wide_as_their_column() {
        use unicode_width::UnicodeWidthStr as _;
        for (text, shown) in [
            ("/short", "/short    "),
            ("/exactly10", "/exactly10"),
            ("/longer-than-ten", "/longer-t…"),
            (
                "\u{a0}".repeat(50).as_str(),
                &format!("{}…", "\u{a0}".repeat(9)),
            ),
            ("/\x1b[2J", "/\\x1b[2J  "),
            ("/\x1b]0;title\x07", "/\\x1b]0;t…"),
            ("/日本語のパス", "/日本語の…"),
            ("/e\u{301}", "/e\u{301}        "),
        ] {
            let got = cell(text, 10);
            assert_eq!(got, shown, "{text:?}");
            assert_eq!(got.width(), 10, "{text:?}");
        }
        // A wide character that would straddle the edge is left out.
        assert_eq!(cell("/日本語のパスです", 9), "/日本語… ");
        assert_eq!(cell("abc", 0), "");
    }

    #[test]
    fn one_is_singular_every_other_count_is_plural() {
        assert_eq!(count(1, "delivery", "deliveries"), "1 delivery");
        assert_eq!(count(0, "delivery", "deliveries"), "0 deliveries");
        assert_eq!(count(2, "delivery", "deliveries"), "2 deliveries");
        assert_eq!(count(11, "byte", "bytes"), "11 bytes");
        assert_eq!(count(21, "listener", "listeners"), "21 listeners");
    }
}
