//! Bodies for display: JSON pretty-printed, form data decoded, text as is,
//! binary as hex. Bounded, so a 10 MiB body costs the same as a small one.
//!
//! Pretty JSON escapes hidden characters the JSON way (`\u202e`), so it
//! stays JSON; other lines are the sender's text, controls and all, and
//! each output escapes them where it writes (`hookhole_shared::printable`),
//! the UI's detail pane and `hookhole show` alike, decoded form values too.

use hookhole_shared::headers::{self, Header};

/// Bytes shown at most; the rest is summarised (copy with `y`).
pub const SHOWN: usize = 256 * 1024;
/// Bytes shown as hex for binary bodies.
const HEX_SHOWN: usize = 4096;

/// Lines describing `body`, given its headers (for the content type).
pub fn render(headers: &[Header], body: &[u8]) -> Vec<String> {
    if body.is_empty() {
        return vec!["(empty body)".to_string()];
    }
    let content_type = headers::get(headers, "content-type")
        .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
        .unwrap_or_default();
    let shown = &body[..body.len().min(SHOWN)];
    let mut lines = if body.len() <= SHOWN && looks_json(&content_type, body) {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => pretty(&value),
            Err(_) => text_or_hex(shown),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form(shown).unwrap_or_else(|| text_or_hex(shown))
    } else {
        text_or_hex(shown)
    };
    if body.len() > shown.len() {
        lines.push(format!(
            "… {} not shown ({} in all; y copies the whole body)",
            crate::output::count(body.len() - shown.len(), "more byte", "more bytes"),
            human_size(body.len())
        ));
    }
    lines
}

fn looks_json(content_type: &str, body: &[u8]) -> bool {
    content_type.contains("json")
        || matches!(
            body.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        )
}

/// Indented JSON that is still JSON: hidden characters in strings come out
/// as `\uXXXX` like the control characters serde_json already escapes.
fn pretty(value: &serde_json::Value) -> Vec<String> {
    hookhole_shared::printable::to_json_pretty(value)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn form(body: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut lines = vec!["(form data, decoded)".to_string()];
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        lines.push(format!("{} = {}", percent_decode(k), percent_decode(v)));
    }
    Some(lines)
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text when the body is UTF-8 without NUL bytes (the usual sign of binary
/// data), hex otherwise. Tabs become spaces: they lay out text, and a
/// one-line view would otherwise show them escaped.
fn text_or_hex(body: &[u8]) -> Vec<String> {
    match std::str::from_utf8(body) {
        Ok(text) if !text.contains('\0') => text
            .lines()
            .map(|l| l.trim_end_matches('\r').replace('\t', "    "))
            .collect(),
        _ => hex_dump(body),
    }
}

/// `offset  hex bytes  |ascii|`, 16 bytes a line.
pub fn hex_dump(body: &[u8]) -> Vec<String> {
    let mut lines = vec![format!(
        "(binary, {}; first {} shown as hex)",
        human_size(body.len()),
        human_size(body.len().min(HEX_SHOWN))
    )];
    for (n, chunk) in body[..body.len().min(HEX_SHOWN)].chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        lines.push(format!("{:08x}  {:<47}  |{ascii}|", n * 16, hex.join(" ")));
    }
    lines
}

pub fn human_size(bytes: usize) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pretty_and_form_is_decoded() {
        let json = render(
            &[Header::new("content-type", "application/json")],
            br#"{"a":1}"#,
        );
        assert_eq!(json, ["{", "  \"a\": 1", "}"]);
        let form = render(
            &[Header::new(
                "content-type",
                "application/x-www-form-urlencoded",
            )],
            b"Body=Hello+world&To=%2B1555",
        );
        assert_eq!(
            form,
            ["(form data, decoded)", "Body = Hello world", "To = +1555"]
        );
    }

    #[test]
    fn binary_is_hex_and_big_bodies_are_bounded() {
        let lines = render(&[], &[0, 1, 2, 0xff]);
        assert!(lines[0].starts_with("(binary"));
        assert!(lines[1].starts_with("00000000  00 01 02 ff"));
        let big = vec![b'a'; 10 * 1024 * 1024];
        let lines = render(&[], &big);
        assert!(lines.last().unwrap().contains("more bytes not shown"));
        assert!(lines.iter().map(String::len).sum::<usize>() <= SHOWN + 200);
        assert_eq!(render(&[], b""), ["(empty body)"]);
    }

    #[test]
    fn text_with_controls_stays_text_for_the_outputs_to_escape() {
        let lines = render(&[], b"a\tb\r\n\x1b[2J\xc2\x9b");
        assert_eq!(lines, ["a    b", "\x1b[2J\u{9b}"]);
        assert!(render(&[], b"a\0b")[0].starts_with("(binary"));
    }

    #[test]
    fn bad_percent_escapes_do_not_panic() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_decode("%41"), "A");
        assert_eq!(percent_decode("%é"), "%é");
    }
}
