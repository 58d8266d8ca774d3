//! Writing to stdout without panicking when the reader has gone away
//! (`hookhole providers | head`): a closed pipe just ends the output.
//!
//! The two sinks for what a person reads: [`line`] for text and [`json`]
//! for JSON, both through `hookhole_shared::printable`, so nothing a sender
//! or relay controls reaches the terminal raw. [`text`] is for exports,
//! whose bytes must stay exact. [`count`] is the one way a number and its
//! noun are written (`1 delivery`, `2 deliveries`).

use hookhole_shared::printable;
use serde::Serialize;
use std::io::Write as _;

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

/// A number and its noun, singular for exactly one: `count(1, "delivery",
/// "deliveries")` is `1 delivery`, 0 and 2 take `many`. English plurals are
/// irregular, so the caller names both words.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_every_other_count_is_plural() {
        assert_eq!(count(1, "delivery", "deliveries"), "1 delivery");
        assert_eq!(count(0, "delivery", "deliveries"), "0 deliveries");
        assert_eq!(count(2, "delivery", "deliveries"), "2 deliveries");
        assert_eq!(count(11, "byte", "bytes"), "11 bytes");
        assert_eq!(count(21, "listener", "listeners"), "21 listeners");
    }
}
