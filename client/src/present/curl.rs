//! A delivery as a bash command that sends the local server the same
//! request the forwarder sends it: `hookhole export --format curl` and the
//! terminal UI's `c`.
//!
//! The command is rendered from the [`Outgoing`] request itself, so it
//! cannot drift from what the forwarder does, and it is built so that
//! nothing a sender chose is ever interpreted:
//!
//! - The body goes through a pipe: `printf` with a format string in which
//!   every byte outside plain printable ASCII is an octal escape, into
//!   `curl --data-binary @-`. A body is never an argument curl could read
//!   as `@file`, and NUL, CR and invalid UTF-8 survive (a bash string
//!   cannot hold NUL; printf writes it).
//! - The request target goes verbatim in `--request-target`; the URL is
//!   only the target's scheme and authority, never the sender's `Host`.
//!   `--path-as-is` and `--globoff` keep curl from touching it anyway.
//! - Every header is an explicit `-H`, in the forwarder's order, `Host`
//!   and `Content-Length` included; an empty value uses curl's `Name;`
//!   form; curl's own defaults the request did not have (`User-Agent`,
//!   `Accept`, `Content-Type`, `Expect`) are switched off with `Name:`.
//! - `-q` (first) skips `~/.curlrc` and `--noproxy '*'` ignores proxy
//!   variables: the command reads no file and goes nowhere else.
//! - The whole text is printable ASCII (`$'...'` with `\xHH` where
//!   needed), so printing it on a terminal is safe too.
//!
//! What curl sends, checked on the wire by `client/tests/exports.rs`:
//! the request line, `Host`, then the `-H` headers in order, then the body.

use crate::outgoing::{self, Malformed, Outgoing};
use crate::target::Target;
use hookhole_shared::protocol::Delivery;
use http::Method;

/// `-q` must come first to skip `~/.curlrc`. Silent but for errors: the
/// answer is what a user wants to see, not a progress meter.
const CURL: &str = "curl -q --silent --show-error --http1.1 --noproxy '*' --path-as-is --globoff";

/// curl's default headers, switched off when the request had none.
const CURL_DEFAULTS: &[&str] = &["User-Agent", "Accept", "Content-Type", "Expect"];

/// Body bytes per `printf` line: short lines for editors and terminals.
const CHUNK: usize = 1024;

/// The delivery as a curl command against `target`, or why it cannot be
/// sent at all (the same refusal the forwarder gives).
pub fn for_delivery(target: &Target, delivery: &Delivery) -> Result<String, Malformed> {
    outgoing::build(target, delivery).map(|request| command(&request))
}

/// The request as a bash command.
pub fn command(request: &Outgoing) -> String {
    let mut args = vec![CURL.to_string()];
    if request.method == Method::HEAD && request.body.is_empty() {
        // `-X HEAD` would wait for a body the answer never has.
        args.push("--head".to_string());
    } else {
        args.push(format!("-X {}", word(request.method.as_str().as_bytes())));
    }
    let target = request.uri.path_and_query().map_or("/", |p| p.as_str());
    args.push(format!("--request-target {}", word(target.as_bytes())));
    for (name, value) in &request.headers {
        let mut line = name.as_str().as_bytes().to_vec();
        if value.is_empty() {
            line.push(b';');
        } else {
            line.extend_from_slice(b": ");
            line.extend_from_slice(value.as_bytes());
        }
        args.push(format!("-H {}", word(&line)));
    }
    let off: Vec<String> = CURL_DEFAULTS
        .iter()
        .filter(|name| !request.headers.contains_key(**name))
        .map(|name| format!("-H '{name}:'"))
        .collect();
    args.push(off.join(" "));
    if !request.body.is_empty() {
        args.push("--data-binary @-".to_string());
    }
    let authority = request.uri.authority().map_or("", |a| a.as_str());
    args.push(word(format!("http://{authority}/").as_bytes()));
    let curl = args.join(" \\\n  ");
    match body_lines(&request.body).as_slice() {
        [] => curl,
        [one] => format!("{one} |\n{curl}"),
        many => format!("{{\n  {}\n}} |\n{curl}", many.join("\n  ")),
    }
}

/// `printf` commands that write `body` exactly.
fn body_lines(body: &[u8]) -> Vec<String> {
    body.chunks(CHUNK)
        .map(|chunk| format!("printf -- '{}'", printf_format(chunk)))
        .collect()
}

/// A printf format string that prints `bytes`: `%` doubled, `\` escaped,
/// anything outside printable ASCII (and `'`, which ends the quoting) as
/// a three-digit octal escape, so a following digit is never part of it.
fn printf_format(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'%' => out.push_str("%%"),
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\047"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// One shell word: `'...'` for plain printable ASCII, else `$'...'` with
/// `\xHH` escapes. No byte reaches the shell or the terminal unescaped.
fn word(bytes: &[u8]) -> String {
    if bytes
        .iter()
        .all(|&b| (0x20..=0x7e).contains(&b) && b != b'\'' && b != b'\\')
    {
        return format!("'{}'", String::from_utf8_lossy(bytes));
    }
    let mut out = String::from("$'");
    for &b in bytes {
        match b {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

/// A bash comment line saying `text`: printable ASCII only, so hostile
/// text can neither end the comment with a newline nor reach a terminal.
pub fn comment(text: &str) -> String {
    let mut out = String::from("# ");
    for &b in text.as_bytes() {
        match b {
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hookhole_shared::headers::Header;

    fn delivery(method: &str, headers: Vec<Header>, body: &'static [u8]) -> Delivery {
        Delivery {
            id: "abcdefgh23456701".into(),
            seq: 1,
            received_at_ms: 0,
            method: method.into(),
            path: "/hooks".into(),
            query: Some("x=1".into()),
            headers,
            body_blake3: String::new(),
            url: "http://evil.example/ch/hooks?x=1".into(),
            queued: false,
            answered: false,
            body: Bytes::from_static(body),
        }
    }

    fn target() -> Target {
        Target::parse("http://127.0.0.1:3000").unwrap()
    }

    #[test]
    fn a_plain_json_post() {
        let d = delivery(
            "POST",
            vec![
                Header::new("content-type", "application/json"),
                Header::new("content-length", "7"),
                Header::new("x-empty", ""),
            ],
            b"{\"a\":1}",
        );
        assert_eq!(
            for_delivery(&target(), &d).unwrap(),
            "printf -- '{\"a\":1}' |\n\
             curl -q --silent --show-error --http1.1 --noproxy '*' --path-as-is --globoff \\\n  \
             -X 'POST' \\\n  \
             --request-target '/hooks?x=1' \\\n  \
             -H 'host: 127.0.0.1:3000' \\\n  \
             -H 'content-type: application/json' \\\n  \
             -H 'content-length: 7' \\\n  \
             -H 'x-empty;' \\\n  \
             -H 'User-Agent:' -H 'Accept:' -H 'Expect:' \\\n  \
             --data-binary @- \\\n  \
             'http://127.0.0.1:3000/'"
        );
    }

    #[test]
    fn bodies_are_printf_formats_never_arguments() {
        assert_eq!(printf_format(b"@/etc/passwd"), "@/etc/passwd");
        assert_eq!(
            printf_format(b"a\0b\r\n%s\\'\xff1"),
            r"a\000b\015\012%%s\\\047\3771"
        );
        let d = delivery("POST", vec![], b"@/etc/passwd");
        let text = for_delivery(&target(), &d).unwrap();
        assert!(text.starts_with("printf -- '@/etc/passwd' |\n"), "{text}");
        assert!(!text.contains("--data-binary '"), "{text}");
        let big = vec![b'x'; CHUNK * 2 + 1];
        assert_eq!(body_lines(&big).len(), 3);
    }

    #[test]
    fn words_are_quoted_and_ascii() {
        assert_eq!(word(b"it is"), "'it is'");
        assert_eq!(word(b"it's"), r"$'it\'s'");
        assert_eq!(word(&[b'a', 0xff, b'\\', 0x1b]), r"$'a\xff\\\x1b'");
        let d = delivery(
            "POST",
            vec![Header::new("x-bin", b"caf\xc3\xa9 \x80".to_vec())],
            b"\x1b]52;c;AAAA\x07\xe2\x80\xae",
        );
        let text = for_delivery(&target(), &d).unwrap();
        assert!(
            text.bytes()
                .all(|b| b == b'\n' || (0x20..=0x7e).contains(&b)),
            "{text}"
        );
        assert!(text.contains(r"-H $'x-bin: caf\xc3\xa9 \x80'"), "{text}");
    }

    #[test]
    fn head_without_a_body_uses_head_mode() {
        let text = for_delivery(&target(), &delivery("HEAD", vec![], b"")).unwrap();
        assert!(text.contains("--head"), "{text}");
        assert!(!text.contains("-X"), "{text}");
        assert!(!text.contains("--data-binary"), "{text}");
    }

    #[test]
    fn malformed_deliveries_are_not_rendered() {
        let d = Delivery {
            path: "@127.0.0.1:3999/x".into(),
            ..delivery("POST", vec![], b"")
        };
        assert!(matches!(
            for_delivery(&target(), &d),
            Err(Malformed::Target(_))
        ));
    }

    #[test]
    fn comments_cannot_end_early() {
        assert_eq!(
            comment("a\nrm -rf ~ \u{202e}"),
            r"# a\x0arm -rf ~ \xe2\x80\xae"
        );
    }
}
