//! Writing to stdout without panicking when the reader has gone away
//! (`hookhole providers | head`): a closed pipe just ends the output.

use std::io::Write as _;

/// Prints `text` and a newline; returns false once stdout is closed.
pub fn line(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|_| out.flush()).is_ok()
}

/// Prints `text` as is.
pub fn text(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    write!(out, "{text}").and_then(|_| out.flush()).is_ok()
}
