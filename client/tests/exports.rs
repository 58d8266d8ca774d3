//! Exports reproduce the request and nothing else: hostile deliveries go
//! through a real relay and listener to a recording target; then the
//! `export --format curl` file (real binary) and the UI's `c` text are run
//! with bash against recording targets, and what arrives is compared with
//! what the forwarder sent: method, target, headers in order, body bytes.

#![allow(clippy::unwrap_used)]

mod common;

use common::process::{hookhole, listening, run};
use common::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One request as its bytes arrived on a raw TCP socket, and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Captured {
    method: String,
    target: String,
    /// Names as sent (not case-folded), values with surrounding blanks
    /// trimmed (an empty value is `Name:` from curl, `name: ` from hyper).
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Captured {
    fn case(&self) -> String {
        let value = self
            .headers
            .iter()
            .find(|(n, _)| n == "x-case")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        String::from_utf8(value).unwrap()
    }

    fn host(&self) -> &[u8] {
        &self.headers[0].1
    }
}

/// A raw TCP listener: reads one request per connection (head, then
/// exactly Content-Length body bytes), answers `200` with no body, closes.
struct Recorder {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Captured>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut chunk = vec![0u8; 64 * 1024];
                    loop {
                        if let Some(captured) = parse(&raw) {
                            tx.send(captured).unwrap();
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                            let _ = stream.write_all(answer).await;
                            return;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => raw.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        Recorder { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `n` requests, by their `x-case` header.
    async fn take(&mut self, n: usize) -> BTreeMap<String, Captured> {
        let mut out = BTreeMap::new();
        for _ in 0..n {
            let captured = within("a request at the recorder", self.requests.recv())
                .await
                .unwrap();
            out.insert(captured.case(), captured);
        }
        out
    }
}

/// The whole request, once all of it has arrived.
fn parse(raw: &[u8]) -> Option<Captured> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(&raw[..end]).ok()?;
    let headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.trim_ascii().to_vec()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| std::str::from_utf8(v).unwrap().parse().unwrap());
    (raw.len() >= end + length).then(|| Captured {
        method: request.method.unwrap().to_string(),
        target: request.path.unwrap().to_string(),
        headers,
        body: raw[end..end + length].to_vec(),
    })
}

/// Hostile requests, each a raw head and body for the relay, tagged by
/// `x-case`: unusual paths and queries, repeated, empty and non-UTF-8
/// header values, bodies that look like curl arguments or shell code,
/// every byte value, a large body, chunked framing, HEAD and a custom method.
fn cases(channel_path: &str, host: &str, canary: &Path) -> Vec<(String, Vec<u8>)> {
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut every_byte: Vec<u8> =
        b"-v --data @/etc/passwd %s%n \\' \"$(touch pwned)\" `touch pwned2`\r\n".to_vec();
    every_byte.extend(0..=255u8);
    let with_length = |request_line: &str, headers: &[u8], body: &[u8]| {
        let mut head = format!("{request_line} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
        head.extend_from_slice(headers);
        head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        head.extend_from_slice(body);
        head
    };
    let at_file = format!("@{}", canary.display());
    vec![
        (
            "at-file".into(),
            with_length(
                &format!("POST {channel_path}/a/../b/%2F%2e/{{x}}?x=[1]&y={{2}}&z=%00&q='"),
                b"x-case: at-file\r\nx-dup: one\r\nx-other: o\r\nx-dup: two\r\nx-empty:\r\nx-bin: caf\xc3\xa9 \xff\r\n",
                at_file.as_bytes(),
            ),
        ),
        (
            "every-byte".into(),
            with_length(
                &format!("PUT {channel_path}/bytes"),
                b"x-case: every-byte\r\ncontent-type: application/octet-stream\r\nuser-agent: Stripe/1.0\r\naccept: */*\r\n",
                &every_byte,
            ),
        ),
        (
            "big".into(),
            with_length(
                &format!("POST {channel_path}/big"),
                b"x-case: big\r\ncontent-type: application/x-www-form-urlencoded\r\n",
                &big,
            ),
        ),
        (
            "empty-path".into(),
            with_length(
                &format!("GET {channel_path}?only=query"),
                b"x-case: empty-path\r\nuser-agent: x\r\n",
                b"",
            ),
        ),
        ("chunked".into(), {
            let mut raw = format!(
                "POST {channel_path}/chunked HTTP/1.1\r\nhost: {host}\r\nx-case: chunked\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            .into_bytes();
            raw.extend_from_slice(b"5\r\nhel\0o\r\n0\r\n\r\n");
            raw
        }),
        (
            "head".into(),
            with_length(&format!("HEAD {channel_path}/h"), b"x-case: head\r\n", b""),
        ),
        (
            "purge".into(),
            with_length(&format!("PURGE {channel_path}/p"), b"x-case: purge\r\n", b"x"),
        ),
    ]
}

/// Sends each case to the relay and waits for its answer.
async fn deliver(relay: SocketAddr, cases: &[(String, Vec<u8>)]) {
    for (name, raw) in cases {
        let sent = raw_request(relay, "", raw).await;
        assert_eq!(sent.status, 200, "{name}: {:?}", sent.body);
    }
}

/// What `replayed` received equals what the forwarder sent in `live`,
/// `Host` aside when the export went to another target.
fn assert_same(
    live: &BTreeMap<String, Captured>,
    replayed: &BTreeMap<String, Captured>,
    host: &str,
) {
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        replayed.keys().collect::<Vec<_>>()
    );
    for (case, original) in live {
        let again = &replayed[case];
        assert_eq!(again.host(), host.as_bytes(), "{case}: Host");
        assert_eq!(again.method, original.method, "{case}: method");
        assert_eq!(again.target, original.target, "{case}: target");
        assert_eq!(again.headers[1..], original.headers[1..], "{case}: headers");
        assert!(again.body == original.body, "{case}: body bytes differ");
    }
}

/// Runs a bash script in `dir`, with the variables curl reads for proxies
/// set to a dead address: the commands must ignore them.
async fn bash(dir: &Path, script: &str) {
    // From a file: an export with a large body is larger than an argument
    // may be.
    let file = dir.join("script.sh");
    std::fs::write(&file, script).unwrap();
    let out = within(
        "bash to run the export",
        tokio::process::Command::new("bash")
            .arg(&file)
            .current_dir(dir)
            .env("HOME", dir)
            .env_remove("CURL_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env("http_proxy", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("ALL_PROXY", "http://127.0.0.1:9")
            .stdin(std::process::Stdio::null())
            .output(),
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn exported_curl_sends_what_the_forwarder_sent_and_reads_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary.txt");
    std::fs::write(&canary, "SECRET-CANARY").unwrap();
    // A ~/.curlrc that would change the request: `-q` must skip it.
    std::fs::write(dir.path().join(".curlrc"), "header = \"x-curlrc: yes\"\n").unwrap();
    let mut local = Recorder::start().await;
    std::fs::write(
        dir.path().join("hookhole.toml"),
        format!("[listen]\nforward = \"{}\"\nport = 0\n", local.url()),
    )
    .unwrap();
    let (listener, public_url) = listening(hookhole(dir.path()), &[]).await;
    let uri: http::Uri = public_url.parse().unwrap();
    let relay: SocketAddr = uri.authority().unwrap().as_str().parse().unwrap();
    let cases = cases(uri.path(), &relay.to_string(), &canary);
    deliver(relay, &cases).await;
    let live = local.take(cases.len()).await;
    let local_host = local.addr.to_string();
    assert_eq!(live["chunked"].body, b"hel\0o", "the forwarder's view");
    listener.signal("INT");
    listener.exit().await;

    // `export --format curl --out`: a private file, printable ASCII only.
    let out = dir.path().join("hooks.sh");
    let (code, _, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["export", "--format", "curl", "--out", out.to_str().unwrap()]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "--out is owner-only");
    let script = std::fs::read_to_string(&out).unwrap();
    assert!(
        script
            .bytes()
            .all(|b| b == b'\n' || (0x20..=0x7e).contains(&b)),
        "the export is printable ASCII"
    );
    bash(dir.path(), &script).await;
    let exported = local.take(cases.len()).await;
    assert_same(&live, &exported, &local_host);
    // What curl puts on the wire, seen here: `Host` first (curl writes the
    // name capitalised), then the -H headers in order, repeated names
    // grouped as the relay and the forwarder group them, and nothing of
    // curl's own (no User-Agent, Accept, Content-Type or Expect).
    let names: Vec<&str> = exported["at-file"]
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Host",
            "x-case",
            "x-dup",
            "x-dup",
            "x-other",
            "x-empty",
            "x-bin",
            "content-length",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "forwarded",
            "x-real-ip",
        ]
    );
    assert_eq!(
        exported["at-file"].headers[5].1, b"",
        "x-empty is sent, empty"
    );
    assert_eq!(
        exported["at-file"].body,
        format!("@{}", canary.display()).into_bytes(),
        "the body is sent as it is, no file is read"
    );
    assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());

    // `--to` chooses another target; Host follows it.
    let mut other = Recorder::start().await;
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["export", "--format", "curl", "--to", &other.url()]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    bash(dir.path(), &stdout).await;
    assert_same(
        &live,
        &other.take(cases.len()).await,
        &other.addr.to_string(),
    );

    // The UI's `c`, on the same deliveries loaded from the history.
    let history =
        hookhole::history::History::open_existing(&dir.path().join("data/hookhole")).unwrap();
    let mut app = hookhole::tui::app::App::new(0, false);
    let registry = hookhole_shared::signature::Registry::builtin();
    let records = history
        .summaries(100, &Default::default(), &registry)
        .unwrap()
        .iter()
        .map(|s| hookhole::tui::model::Record::from_stored(&history.get(&s.id).unwrap(), &registry))
        .collect();
    app.update(hookhole::tui::app::Msg::Loaded(records));
    app.link.forward = local.url();
    let ids: Vec<String> = app.records.iter().map(|r| r.id.clone()).collect();
    for id in ids {
        app.selected = Some(id);
        let key = crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('c'));
        let commands = app.update(hookhole::tui::app::Msg::Key(key));
        let [hookhole::tui::app::Command::Copy { text, .. }] = commands.as_slice() else {
            panic!("expected a copy, got {commands:?}");
        };
        bash(dir.path(), text).await;
    }
    assert_same(&live, &local.take(cases.len()).await, &local_host);
}

#[tokio::test]
async fn curl_export_needs_a_target_and_never_uses_the_senders_host() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["export", "--format", "curl"]);
        c
    })
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pass --to URL"), "{stderr}");
    let (code, _, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["export", "--format", "curl", "--to", "ftp://x"]);
        c
    })
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--to"), "{stderr}");
}
