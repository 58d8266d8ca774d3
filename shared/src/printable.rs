//! Text from outside made safe to show: the one rule every terminal line,
//! log line and JSON line applies to what a sender or a relay controls.
//!
//! A terminal obeys some characters instead of drawing them: ESC sequences
//! write the clipboard (OSC 52), retitle the window (OSC 0) or clear the
//! screen so a sender can paint fake rows (CSI 2 J); DEL and the C1 controls
//! (U+0080-U+009F, where U+009B is a one-character CSI on some terminals)
//! do the same with other bytes. Bidirectional formatting characters reorder
//! what is drawn, so a path can read differently from what it is; line and
//! paragraph separators break lines in editors, log viewers and JavaScript;
//! zero-width characters hide text. Each of these is *hidden* here and is
//! drawn as the escape a Rust string literal would use:
//!
//! | what                                   | drawn as               |
//! |----------------------------------------|------------------------|
//! | newline, carriage return, tab          | `\n` `\r` `\t`         |
//! | other C0 controls (U+0000-U+001F), DEL | `\x1b`, `\x00`, `\x7f` |
//! | C1 controls (U+0080-U+009F)            | `\u{9b}`               |
//! | bidi: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069 | `\u{202e}` |
//! | separators: U+2028, U+2029             | `\u{2028}`             |
//! | zero-width and invisible: U+180E, U+200B, U+2060-U+2064, U+206A-U+206F, U+FEFF, U+FFF9-U+FFFB, tags U+E0000-U+E007F | `\u{feff}` |
//!
//! Hex is lower case and unpadded. Everything else, backslashes included, is
//! left as it is: the rendering makes text inert, not reversible (the exact
//! bytes are in `show --json`, the exports and the UI's `y`), and clean text
//! costs nothing ([`Cow::Borrowed`]). Kept on purpose: ZWJ and ZWNJ
//! (U+200D, U+200C), variation selectors and combining marks, which emoji
//! and many scripts need and which only join neighbours, never move or
//! hide them; look-alike letters, which no escaping can catch.
//!
//! Two forms: [`line`] escapes newlines too, so a value can never start a new
//! row or a forged log entry; [`block`] keeps newlines, tabs and CRLF line
//! ends for a multi-line body, and escapes a lone `\r`, which would send the
//! cursor back to overwrite a line. For JSON, [`JsonEscapes`] (with
//! [`to_json`] and [`to_json_pretty`]) writes the same characters as `\uXXXX`,
//! so a JSON line stays valid JSON (serde_json already escapes C0 controls,
//! not DEL, C1 or bidi).
//!
//! Bytes that are not UTF-8 are the caller's: `String::from_utf8_lossy`
//! turns them into U+FFFD first, which is visible and inert.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::borrow::Cow;
use std::fmt;
use std::io;

/// Whether `c` is hidden (see the table above) in every form.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{9f}'
        // bidirectional formatting
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // line and paragraph separators
        | '\u{2028}' | '\u{2029}'
        // zero-width and invisible format characters
        | '\u{180e}' | '\u{200b}' | '\u{2060}'..='\u{2064}' | '\u{206a}'..='\u{206f}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Line,
    Block,
}

/// Whether the character at the start of `rest` must be escaped in `form`.
fn escaped(c: char, rest: &str, form: Form) -> bool {
    match (form, c) {
        (Form::Block, '\n' | '\t') => false,
        (Form::Block, '\r') => !rest[1..].starts_with('\n'),
        _ => is_hidden(c),
    }
}

/// Bytes that can start a hidden character in UTF-8: the ASCII controls
/// and DEL, and the lead bytes of the others (C2: C1 controls, D8: U+061C,
/// E1: U+180E, E2: U+2000-U+2FFF, EF: U+F000-U+FFFF, F3: the tags). The
/// scan looks at bytes and decodes only at these, so clean text, ASCII or
/// not, costs about a table lookup per byte.
const MAYBE_HIDDEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7f] = true;
    table[0xc2] = true;
    table[0xd8] = true;
    table[0xe1] = true;
    table[0xe2] = true;
    table[0xef] = true;
    table[0xf3] = true;
    table
};

/// Byte offset of the first character to escape, if any.
fn first_escaped(text: &str, form: Form) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = bytes[from..]
        .iter()
        .position(|&b| MAYBE_HIDDEN[usize::from(b)])
    {
        let at = from + offset;
        // ASCII and lead bytes start a character, so `at` is a boundary.
        let rest = &text[at..];
        let c = rest.chars().next()?;
        if escaped(c, rest, form) {
            return Some(at);
        }
        from = at + c.len_utf8();
    }
    None
}

fn write_escape(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

fn write_form(out: &mut impl fmt::Write, text: &str, form: Form) -> fmt::Result {
    let mut rest = text;
    while let Some(at) = first_escaped(rest, form) {
        out.write_str(&rest[..at])?;
        let c = rest[at..]
            .chars()
            .next()
            .expect("an offset found by char_indices");
        write_escape(out, c)?;
        rest = &rest[at + c.len_utf8()..];
    }
    out.write_str(rest)
}

fn render(text: &str, form: Form) -> Cow<'_, str> {
    match first_escaped(text, form) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let mut out = String::with_capacity(text.len() + 16);
            write_form(&mut out, text, form).expect("writing to a String cannot fail");
            Cow::Owned(out)
        }
    }
}

/// `text` as one line: every hidden character escaped, newlines included.
pub fn line(text: &str) -> Cow<'_, str> {
    render(text, Form::Line)
}

/// `text` as lines: like [`line`], but newlines, tabs and CRLF pairs stay.
pub fn block(text: &str) -> Cow<'_, str> {
    render(text, Form::Block)
}

/// [`line`] for an owned string: the same allocation when it is clean.
pub fn line_owned(text: String) -> String {
    match line(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// A [`fmt::Write`] that passes everything through [`line`] on its way to
/// `W`, for text formatted in pieces (a log field's `Debug`, say) without
/// building it first.
#[derive(Debug)]
pub struct LineWriter<W>(pub W);

impl<W: fmt::Write> fmt::Write for LineWriter<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Every character is judged alone in the line form, so pieces
        // split anywhere give the same result as the whole text.
        write_form(&mut self.0, s, Form::Line)
    }
}

/// A serde_json formatter that also writes hidden characters outside C0 as
/// `\uXXXX` (a surrogate pair above U+FFFF), around any other formatter.
#[derive(Debug, Clone, Default)]
pub struct JsonEscapes<F>(pub F);

impl<F: Formatter> Formatter for JsonEscapes<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json hands over runs without quotes, backslashes or C0.
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_hidden(c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    // The layout is the inner formatter's.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

fn to_json_with<T: Serialize + ?Sized, F: Formatter>(
    value: &T,
    formatter: F,
) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, JsonEscapes(formatter));
    value.serialize(&mut serializer)?;
    // The serializer writes only UTF-8 (the input's text and ASCII escapes).
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// `value` as one line of JSON with hidden characters escaped.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_json_with(value, CompactFormatter)
}

/// `value` as indented JSON with hidden characters escaped.
pub fn to_json_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_json_with(value, PrettyFormatter::new())
}

#[cfg(test)]
#[path = "printable_tests.rs"]
mod tests;
