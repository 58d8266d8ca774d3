use super::*;
use std::fmt::Write as _;

/// Every class the module hides, with one escape each is drawn as.
const CLASSES: &[(&str, std::ops::RangeInclusive<char>)] = &[
    ("C0", '\0'..='\x1f'),
    ("DEL", '\x7f'..='\x7f'),
    ("C1", '\u{80}'..='\u{9f}'),
    ("arabic letter mark", '\u{61c}'..='\u{61c}'),
    ("LRM, RLM", '\u{200e}'..='\u{200f}'),
    ("bidi embeddings and overrides", '\u{202a}'..='\u{202e}'),
    ("bidi isolates", '\u{2066}'..='\u{2069}'),
    ("line and paragraph separators", '\u{2028}'..='\u{2029}'),
    ("mongolian vowel separator", '\u{180e}'..='\u{180e}'),
    ("zero-width space", '\u{200b}'..='\u{200b}'),
    ("word joiner, invisible operators", '\u{2060}'..='\u{2064}'),
    ("deprecated format characters", '\u{206a}'..='\u{206f}'),
    ("byte order mark", '\u{feff}'..='\u{feff}'),
    ("interlinear annotation", '\u{fff9}'..='\u{fffb}'),
    ("tags", '\u{e0000}'..='\u{e007f}'),
];

fn has_hidden(text: &str) -> bool {
    text.chars().any(is_hidden)
}

#[test]
fn every_hidden_class_is_drawn_as_an_ascii_escape() {
    for (class, range) in CLASSES {
        for c in range.clone() {
            let text = format!("a{c}b");
            let shown = line(&text);
            assert!(matches!(shown, Cow::Owned(_)), "{class} {c:?}");
            assert!(!has_hidden(&shown), "{class} {c:?}: {shown:?}");
            let escape = &shown[1..shown.len() - 1];
            assert!(escape.starts_with('\\'), "{class} {c:?}: {escape}");
            assert!(escape.is_ascii(), "{class} {c:?}: {escape}");
        }
    }
}

#[test]
fn escapes_read_like_rust_literals() {
    assert_eq!(line("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
    assert_eq!(line("\x1b[2J\x00\x7f"), "\\x1b[2J\\x00\\x7f");
    assert_eq!(line("a\nb\r\tc"), "a\\nb\\r\\tc");
    assert_eq!(line("\u{9b}31m"), "\\u{9b}31m");
    assert_eq!(line("/x\u{202e}gnp.exe"), "/x\\u{202e}gnp.exe");
    assert_eq!(line("\u{2066}\u{2069}"), "\\u{2066}\\u{2069}");
    assert_eq!(line("\u{feff}{}"), "\\u{feff}{}");
    assert_eq!(line("\u{e0041}"), "\\u{e0041}");
}

#[test]
fn nothing_else_is_touched_and_clean_text_is_borrowed() {
    for clean in [
        "",
        "POST /webhooks/stripe?x=1 HTTP/1.1",
        "✓ valid · 200 OK — über 日本語 🎉",
        "family 👨\u{200d}👩\u{200d}👧, می\u{200c}خواهم",
        r"C:\path\x1b stays as typed",
    ] {
        assert!(matches!(line(clean), Cow::Borrowed(_)), "{clean:?}");
        assert!(matches!(block(clean), Cow::Borrowed(_)), "{clean:?}");
    }
    // Every character outside the classes passes through unchanged.
    let others: String = (0..=0x10ffff_u32)
        .filter_map(char::from_u32)
        .filter(|&c| !is_hidden(c))
        .collect();
    assert!(matches!(line(&others), Cow::Borrowed(_)));
    let hidden = (0..=0x10ffff_u32)
        .filter_map(char::from_u32)
        .filter(|&c| is_hidden(c))
        .count();
    let listed: usize = CLASSES.iter().map(|(_, r)| r.clone().count()).sum();
    assert_eq!(hidden, listed, "the table and the rule agree");
}

#[test]
fn mixed_and_multi_byte_text_keeps_its_order() {
    let text = "日本\x1b]0;pwned\x07語 ✓ valid\u{85}\u{202e}\u{2028}end";
    assert_eq!(
        line(text),
        "日本\\x1b]0;pwned\\x07語 ✓ valid\\u{85}\\u{202e}\\u{2028}end"
    );
    assert_eq!(line_owned(text.to_string()), line(text));
    let clean = String::from("clean");
    let ptr = clean.as_ptr();
    let kept = line_owned(clean);
    assert_eq!(kept.as_ptr(), ptr, "no copy when clean");
}

#[test]
fn block_keeps_newlines_tabs_and_crlf_but_not_a_lone_cr() {
    assert_eq!(block("a\n\tb\r\nc"), "a\n\tb\r\nc");
    assert!(matches!(block("a\n\tb\r\nc"), Cow::Borrowed(_)));
    assert_eq!(block("paid\rfake"), "paid\\rfake");
    assert_eq!(block("end\r"), "end\\r");
    assert_eq!(block("\x1b[2J\n\u{9b}\n"), "\\x1b[2J\n\\u{9b}\n");
    assert_eq!(block("a\u{2028}b"), "a\\u{2028}b");
}

#[test]
fn invalid_utf8_through_the_lossy_path_is_inert() {
    // Raw C1 bytes (as Latin-1 would send them) are not UTF-8: they become
    // U+FFFD before they get here, which is visible.
    let bytes = b"\x9b2J\xff\x1b[2J\xc2\x85\xe2\x80\xae";
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(line(&text), "\u{fffd}2J\u{fffd}\\x1b[2J\\u{85}\\u{202e}");
}

#[test]
fn line_writer_matches_line_whatever_the_pieces() {
    let text = "a\x1b[31mb\u{202e}c\nd";
    let mut out = LineWriter(String::new());
    for piece in ["a\x1b", "[31mb", "\u{202e}", "c\nd"] {
        out.write_str(piece).unwrap();
    }
    assert_eq!(out.0, line(text));
    let mut formatted = LineWriter(String::new());
    write!(formatted, "{text:?} {text}").unwrap();
    assert!(!has_hidden(&formatted.0));
}

#[test]
fn json_escapes_every_hidden_character_and_stays_valid() {
    let all: String = CLASSES.iter().flat_map(|(_, r)| r.clone()).collect();
    let value = serde_json::json!({ "path": format!("/a{all}"), all.clone(): [all.clone()] });
    for json in [to_json(&value).unwrap(), to_json_pretty(&value).unwrap()] {
        assert!(
            !json.chars().any(|c| is_hidden(c) && c != '\n'),
            "raw hidden character in {json:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value, "the meaning is unchanged");
    }
    let one = to_json(&"\u{85}\u{202e}\u{7f}\u{e0041}\x1b").unwrap();
    assert_eq!(one, r#""\u0085\u202e\u007f\udb40\udc41\u001b""#);
    assert!(
        to_json_pretty(&value).unwrap().contains("\n  \""),
        "still indented"
    );
    assert_eq!(to_json(&"clean ✓").unwrap(), r#""clean ✓""#);
}
