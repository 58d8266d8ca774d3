//! Nothing a sender or relay controls reaches a terminal or a log raw. A
//! sender posts terminal escapes, C1 controls and bidi overrides through a
//! real relay and listener; the terminal UI (in tmux), `history` and `show`,
//! the headless JSON lines and the relay's log must show them escaped.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, listening, run};
use common::tmux::{Tmux, public_url, tmux_available};
use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Form values that decode to OSC 52 (write the clipboard), OSC 0 (retitle
/// the window), CSI 2 J (clear the screen) and a fake `✓ valid` row.
const FORM: &str = "clip=%1B%5D52%3Bc%3BZWNobyBwd25lZA%3D%3D%07&title=%1B%5D0%3Bpwned%07\
&clear=%1B%5B2J&row=%0D%0A00%3A00%3A09+POST+%2Fpaid+200+%E2%9C%93+valid";
/// A path with C1 controls (U+009B is CSI on 8-bit terminals).
const C1_PATH: &str = "/pay\u{9b}31m\u{85}";
const BIDI_HEADER: &str = "invoice\u{202e}fdp.exe\u{2066}";
const BIDI_JSON: &str = "{\"note\":\"\u{202e}dilav \u{2713}\",\"isolate\":\"\u{2067}\u{200f}x\"}";

/// What the escaped forms look like (`hookhole_shared::printable`).
const SHOWN_CLIP: &str = r"clip = \x1b]52;c;ZWNobyBwd25lZA==\x07";
const SHOWN_TITLE: &str = r"title = \x1b]0;pwned\x07";
const SHOWN_CLEAR: &str = r"clear = \x1b[2J";
const SHOWN_ROW: &str = r"row = \r\n00:00:09 POST /paid 200 ✓ valid";
const SHOWN_PATH: &str = r"/pay\u{9b}31m\u{85}";
const SHOWN_HEADER: &str = r"invoice\u{202e}fdp.exe\u{2066}";
/// JSON bodies are drawn as JSON, so their escapes are JSON's.
const SHOWN_NOTE: &str = r"\u202edilav ✓";

/// The characters the issue names, found raw: C0 controls but newline and
/// tab, DEL, C1 controls, bidirectional formatting. (Written out here, not
/// taken from the code under test.)
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            matches!(c,
                '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}'
                | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Posts the hostile deliveries to a channel URL: a form body on the C1
/// path with a bidi header, then a JSON body with bidi strings.
async fn post_hostile(channel_url: &str) {
    let uri: http::Uri = channel_url.parse().unwrap();
    let addr: SocketAddr = uri.authority().unwrap().as_str().parse().unwrap();
    let channel = uri.path();
    for (path, content_type, body) in [
        (C1_PATH, "application/x-www-form-urlencoded", FORM),
        ("/json", "application/json", BIDI_JSON),
    ] {
        let head = format!(
            "POST {channel}{path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
             content-type: {content_type}\r\nx-note: {BIDI_HEADER}\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        // Whatever the answer: what matters is how the delivery is shown.
        raw_request(addr, &head, body.as_bytes()).await;
    }
}

/// `text` without the SGR sequences (`ESC [ params m`) the UI draws colours
/// and reverse video with; any other escape is returned as an error.
fn without_sgr(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        let mut seq = String::from("ESC");
        let csi = chars.next_if_eq(&'[').is_some();
        seq.push('[');
        while let Some(p) = chars.next_if(|p| p.is_ascii_digit() || matches!(p, ';' | ':')) {
            seq.push(p);
        }
        match chars.next() {
            Some('m') if csi => {}
            other => return Err(format!("a raw escape {seq}{other:?} in {text:?}")),
        }
    }
    Ok(out)
}

#[tokio::test]
async fn the_terminal_ui_shows_hostile_payloads_escaped_and_the_terminal_obeys_none() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    std::fs::write(
        dir.path().join("hookhole.toml"),
        format!("[listen]\nforward = \"{}\"\nport = 0\n", target.url()),
    )
    .unwrap();
    let data = dir.path().join("data");
    let tmux = Tmux::new("escapes");
    tmux.start_listener(dir.path(), &data, (120, 40), &[]);
    // Let applications set tmux buffers with OSC 52, as a terminal with
    // clipboard access would: the attack has to be seen to fail.
    tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
    let title = || tmux.run(&["display-message", "-p", "-t", "ui", "#{pane_title}"]);
    let title_before = title();

    let url = public_url(&data).await;
    post_hostile(&url).await;
    // Both drawn: the first delivery stays selected, so its request (the
    // form, decoded) went to the terminal before the second's row.
    tmux.wait_for("2 deliveries").await;
    assert_eq!(
        tmux.run(&["list-buffers"]),
        "",
        "OSC 52 set no paste buffer"
    );
    assert_eq!(title(), title_before, "OSC 0 did not retitle the pane");
    let screen = tmux.wait_for("(form data, decoded)").await;
    for shown in [
        SHOWN_CLIP,
        SHOWN_TITLE,
        SHOWN_CLEAR,
        SHOWN_ROW,
        SHOWN_PATH,
        SHOWN_HEADER,
    ] {
        assert!(screen.contains(shown), "{shown} is visible:\n{screen}");
    }
    assert_eq!(
        screen.matches("✓ valid").count(),
        1,
        "the only `✓ valid` is inside the escaped value, not a row:\n{screen}"
    );
    let drawn = tmux.run(&["capture-pane", "-e", "-p", "-t", "ui"]);
    let text = without_sgr(&drawn).unwrap();
    assert_eq!(raw_controls(&text), Vec::<char>::new(), "{text}");

    // The JSON delivery: bidi overrides in strings, in the request and in
    // the local server's answer (the echo target sends the body back).
    tmux.run(&["send-keys", "-t", "ui", "j"]);
    let screen = tmux.wait_for("\"note\": ").await;
    assert!(screen.contains(SHOWN_NOTE), "{screen}");
    tmux.run(&["send-keys", "-t", "ui", "2"]);
    let screen = tmux.wait_for("Attempt 1 (original)").await;
    assert!(screen.contains(SHOWN_NOTE), "{screen}");
    let drawn = tmux.run(&["capture-pane", "-e", "-p", "-t", "ui"]);
    assert_eq!(
        raw_controls(&without_sgr(&drawn).unwrap()),
        Vec::<char>::new()
    );

    tmux.run(&["send-keys", "-t", "ui", "q"]);
    tmux.wait_for("EXITED=0").await;
    assert_eq!(tmux.run(&["list-buffers"]), "");
    assert_eq!(title(), title_before);
}

/// Reads stdout lines until `n` delivery lines came; returns them raw.
async fn delivery_lines(proc: &mut Proc, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.len() < n {
        let line = within("a JSON line", proc.stdout.next_line())
            .await
            .unwrap()
            .expect("stdout closed");
        if line.contains(r#""event":"delivery""#) {
            lines.push(line);
        }
    }
    lines
}

async fn stdout_of(dir: &std::path::Path, args: &[&str]) -> String {
    let mut cmd = hookhole(dir);
    cmd.args(args);
    let (code, stdout, stderr) = run(cmd).await;
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    assert_eq!(
        raw_controls(&stdout),
        Vec::<char>::new(),
        "{args:?}: {stdout}"
    );
    stdout
}

#[tokio::test]
async fn history_show_json_lines_and_the_relay_log_carry_no_raw_controls() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let mut relay_cmd = hookhole(dir.path());
    relay_cmd.args(["relay", "--listen", "127.0.0.1:0"]);
    let mut relay = Proc::spawn(relay_cmd);
    let (listening, port) = relay.listening().await;
    let relay_url = listening["public_url"].as_str().unwrap().to_string();

    // A hostile client names itself with escapes; the relay logs the name.
    let agent = "evil\x1b]0;relay\x07\u{9b}2J\u{202e}";
    let hello =
        serde_json::json!({"type": "hello", "version": 2, "channel": "peer", "agent": agent});
    let relay_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut peer = raw_peer(relay_addr, Some(&hello.to_string())).await;
    use futures_util::StreamExt as _;
    within("welcome", peer.next()).await.unwrap().unwrap();
    drop(peer);

    let mut client_cmd = hookhole(dir.path());
    client_cmd.args([
        "listen",
        "--relay",
        &relay_url,
        "--channel",
        "safe",
        "--forward",
        &target.url(),
    ]);
    let mut client = Proc::spawn(client_cmd);
    client.wait_event("ready").await;
    post_hostile(&format!("{relay_url}/safe")).await;

    // Headless JSON lines: valid JSON, no raw controls, the same text.
    let lines = delivery_lines(&mut client, 2).await;
    let mut ids = Vec::new();
    for line in &lines {
        assert_eq!(raw_controls(line), Vec::<char>::new(), "{line}");
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        ids.push(json["id"].as_str().unwrap().to_string());
    }
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["path"], C1_PATH, "escaped, not changed");
    assert!(lines[0].contains(r"/pay\u009b31m\u0085"), "{}", lines[0]);

    // `history` and `show`, as text and as JSON.
    let history = stdout_of(dir.path(), &["history"]).await;
    assert!(history.contains(SHOWN_PATH), "{history}");
    for line in stdout_of(dir.path(), &["history", "--json"]).await.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(row["path"] == C1_PATH || row["path"] == "/json", "{row}");
    }
    let form = stdout_of(dir.path(), &["show", &ids[0]]).await;
    for shown in [
        SHOWN_CLIP,
        SHOWN_TITLE,
        SHOWN_CLEAR,
        SHOWN_ROW,
        SHOWN_PATH,
        SHOWN_HEADER,
    ] {
        assert!(form.contains(shown), "{shown} in:\n{form}");
    }
    let json = stdout_of(dir.path(), &["show", &ids[1]]).await;
    assert!(json.contains(SHOWN_NOTE), "{json}");
    let pretty = stdout_of(dir.path(), &["show", &ids[1], "--json"]).await;
    let value: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(value["body"]["text"], BIDI_JSON, "escaped, not changed");

    // `replay` prints the path it sent; `trigger` prints the error text a
    // server answered with.
    let replayed = stdout_of(dir.path(), &["replay", &ids[0], "--forward", &target.url()]).await;
    assert!(replayed.contains(SHOWN_PATH), "{replayed}");
    let hostile_server = TestTarget::start(|_| async {
        Reply::ok(r#"{"error":"\u001b]52;c;eA==\u0007\u009b2J\u202e"}"#)
    })
    .await;
    let triggered = stdout_of(
        dir.path(),
        &[
            "trigger",
            "maestra.customer.updated",
            "--to",
            &hostile_server.url(),
        ],
    )
    .await;
    assert!(
        triggered.contains(r"\x1b]52;c;eA==\x07\u{9b}2J\u{202e}"),
        "{triggered}"
    );

    // The relay's log on stderr: the agent escaped, one line per event.
    relay.signal("INT");
    let (code, stderr) = relay.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(r"agent=evil\x1b]0;relay\x07\u{9b}2J\u{202e}"),
        "{stderr}"
    );
    assert_eq!(raw_controls(&stderr), Vec::<char>::new(), "{stderr}");
    client.signal("INT");
    let (_, stderr) = client.exit().await;
    assert_eq!(raw_controls(&stderr), Vec::<char>::new(), "{stderr}");
}

#[tokio::test]
async fn history_rows_keep_their_columns_whatever_the_path() {
    use unicode_width::UnicodeWidthStr as _;
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let (mut listener, public_url) =
        listening(hookhole(dir.path()), &["--forward", &target.url()]).await;
    let uri: http::Uri = public_url.parse().unwrap();
    let addr: SocketAddr = uri.authority().unwrap().as_str().parse().unwrap();
    // No-break spaces wrap like text: long enough, the rest of the path
    // lands on a line of its own that reads as a row ending in `✓ valid`.
    let forged = format!(
        "/{}00000000000000f  2026-01-01T00:00:00Z POST    /paid  200  \u{2713} valid",
        " ".repeat(300)
    )
    .replace(' ', "\u{a0}");
    // Escapes widen a value: padding must come after escaping. (C1 CSI:
    // hyper refuses raw ASCII controls in a request line.)
    let escaped = "/\u{9b}2J\u{9b}2J\u{9b}2J\u{9b}2J\u{9b}2J";
    let wide = format!("/{}", "\u{65e5}".repeat(40));
    for path in [forged.as_str(), escaped, &wide] {
        let head = format!(
            "POST {}{path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
             content-length: 2\r\n\r\n",
            uri.path()
        );
        assert_eq!(raw_request(addr, &head, b"{}").await.status, 200);
        listener.wait_event("delivery").await;
    }
    listener.signal("INT");
    listener.exit().await;

    let table = stdout_of(dir.path(), &["history"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    for line in &lines {
        assert_eq!(line.width(), lines[0].width(), "{table}");
    }
    assert!(!table.contains("\u{2713} valid"), "{table}");
    assert!(
        table.contains(r"/\u{9b}2J\u{9b}2J\u{9b}2J\u{9… "),
        "{table}"
    );
}

/// A `Write` into a buffer the test reads afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The field formatter both programs log with (stderr and `hookhole.log`):
/// message, display and debug values all escaped, one line per event.
#[test]
fn log_fields_escape_messages_and_values_and_keep_one_line_per_event() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .fmt_fields(hookhole_host::logging::log_fields())
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let path = "/pay\u{9b}\x1b[2J";
        tracing::warn!(%path, header = ?"\u{202e}x", "got {path}\nINFO forged: ✓ valid");
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(raw_controls(&text), Vec::<char>::new(), "{text}");
    assert!(
        text.contains(r"got /pay\u{9b}\x1b[2J\nINFO forged: ✓ valid path=/pay\u{9b}\x1b[2J"),
        "{text}"
    );
    assert!(text.contains(r#"header="\u{202e}x""#), "{text}");
}
