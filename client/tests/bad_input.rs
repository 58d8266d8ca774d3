//! Bad input through the real binary: refused at start with exit code 2 and
//! one line that names the problem; files and standard input read with a
//! bound; id prefixes taken literally.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, listening, run};
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs `hookhole` with `args` in `dir`; asserts exit code 2, nothing on
/// stdout and one line on stderr containing `expect`.
async fn refused(dir: &std::path::Path, args: &[&str], expect: &str) {
    let mut cmd = hookhole(dir);
    cmd.args(args);
    refused_by(cmd, expect).await;
}

/// [`refused`] for a command built by the caller (with its environment);
/// the line must also carry no raw control or formatting character.
async fn refused_by(cmd: tokio::process::Command, expect: &str) {
    let what = format!("{:?}", cmd.as_std());
    let (code, stdout, stderr) = run(cmd).await;
    assert_eq!(code, Some(2), "{what}: {stderr}");
    assert!(stdout.is_empty(), "{what}: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
    assert!(
        stderr.contains(expect),
        "{what}: expected {expect:?} in {stderr}"
    );
    assert_eq!(
        raw_controls(&stderr),
        Vec::<char>::new(),
        "{what}: {stderr}"
    );
}

/// Characters a terminal obeys instead of drawing, found raw: C0 controls
/// but the newline, DEL, C1 controls, bidirectional formatting. (Written
/// out here, not taken from the code under test.)
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            matches!(c,
                '\0'..='\x09' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}'
                | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// OSC 0 (retitle the window) and OSC 52 (write the clipboard).
const HOSTILE: &str = "\x1b]0;PWNED\x07\x1b]52;c;SEFDS0VE\x07";
/// The same as `hookhole_shared::printable` shows it.
const SHOWN: &str = r"\x1b]0;PWNED\x07\x1b]52;c;SEFDS0VE\x07";

#[tokio::test]
async fn hostile_config_values_flags_and_environment_are_refused_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // The config file is read from the working directory on its own.
    let in_toml: String = HOSTILE
        .chars()
        .map(|c| match c {
            c if c.is_control() => format!("\\u{:04x}", u32::from(c)),
            c => c.to_string(),
        })
        .collect();
    let toml = |text: &str| text.replace("HOSTILE", &in_toml);
    for (text, expect) in [
        (
            "[listen]\nforward = \"http://127.0.0.1:3000/HOSTILE\"\n",
            format!("error: forward http://127.0.0.1:3000/{SHOWN}"),
        ),
        (
            "[listen]\nforward = \"3000\"\nsecret = [\"stripe=@/nonexist/HOSTILE\"]\n",
            format!("/nonexist/{SHOWN}"),
        ),
    ] {
        std::fs::write(dir.path().join("hookhole.toml"), toml(text)).unwrap();
        refused(dir.path(), &["listen", "--port", "0"], &expect).await;
    }
    std::fs::remove_file(dir.path().join("hookhole.toml")).unwrap();

    // clap's own errors quote the value they refuse, from argv or the
    // environment.
    let listen = ["listen", "--forward", "3000", "--port", "0"];
    for args in [
        &["listen", "--forward", "3000", "--port", HOSTILE][..],
        &[&listen[..], &["--keep", HOSTILE]].concat(),
        &[&listen[..], &["--response-timeout", HOSTILE]].concat(),
        &["relay", "--listen", HOSTILE],
        &["relay", "--listen", "127.0.0.1:0", "--max-body", HOSTILE],
        &[
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            HOSTILE,
        ],
        &["listen", &format!("--bogus{HOSTILE}")],
    ] {
        refused(dir.path(), args, SHOWN).await;
    }
    let mut cmd = hookhole(dir.path());
    cmd.env("HOOKHOLE_PORT", HOSTILE)
        .args(["listen", "--forward", "3000"]);
    refused_by(cmd, SHOWN).await;

    // Help quotes the environment too (`[env: NAME=value]`).
    let mut cmd = hookhole(dir.path());
    cmd.env("HOOKHOLE_FORWARD", HOSTILE)
        .args(["listen", "--help"]);
    let (code, stdout, stderr) = run(cmd).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("[env: HOOKHOLE_FORWARD={SHOWN}]")),
        "{stdout}"
    );
    assert_eq!(raw_controls(&stdout), Vec::<char>::new(), "{stdout}");
}

#[tokio::test]
async fn forward_targets_secret_settings_and_durations_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let listen = |extra: &[&'static str]| {
        let mut args = vec!["listen", "--forward", "3000", "--port", "0"];
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["listen", "--forward", "99999"],
            "invalid port \"99999\"",
        ),
        (vec!["listen", "--forward", "0"], "invalid port \"0\""),
        (
            vec!["listen", "--forward", "http://127.0.0.1:70000/x"],
            "invalid port \"70000\"",
        ),
        (
            vec!["listen", "--forward", "localhost:0"],
            "invalid port \"0\"",
        ),
        // `http::Uri` reads port 99999 as none (so port 80), and port 0
        // had the client retry forever.
        (
            listen(&["--relay", "http://127.0.0.1:99999"]),
            "--relay http://127.0.0.1:99999: invalid port \"99999\"",
        ),
        (
            listen(&["--relay", "http://127.0.0.1:0/"]),
            "--relay http://127.0.0.1:0/: invalid port \"0\"",
        ),
        (listen(&["--relay", "ws://:8080"]), "missing host"),
        (
            vec!["export", "--format", "curl", "--to", "99999"],
            "error: --to 99999: invalid port \"99999\"",
        ),
        (
            listen(&["--secret", "github=x,tolerance=abc"]),
            "--secret: tolerance=\"abc\": expected whole seconds",
        ),
        (
            listen(&["--secret", "github=x,algorithm=rot13"]),
            "--secret github: unknown algorithm \"rot13\"",
        ),
        (
            listen(&["--secret", "generic=x,header=X-Sig,encoding=rot13"]),
            "--secret generic: unknown encoding \"rot13\"",
        ),
        (
            vec![
                "verify",
                "--secret",
                "github=x,hash=rot13",
                "--body-file",
                "/dev/null",
            ],
            "unknown algorithm \"rot13\"",
        ),
        (
            listen(&["--response-timeout", "0s"]),
            "duration \"0s\" is too short",
        ),
        (
            listen(&["--forward-timeout", "20years"]),
            "duration \"20years\" is too long",
        ),
        (listen(&["--keep", "100,0s"]), "keep at least 1 delivery"),
        (listen(&["--keep", "100,50y"]), "is too long"),
        (
            vec![
                "relay",
                "--listen",
                "127.0.0.1:0",
                "--response-timeout",
                "0s",
            ],
            "too short",
        ),
        (
            vec!["relay", "--listen", "127.0.0.1:0", "--heartbeat", "0ms"],
            "too short",
        ),
        (
            vec!["relay", "--listen", "127.0.0.1:0", "--header-timeout", "0s"],
            "too short",
        ),
        (
            vec!["relay", "--listen", "127.0.0.1:0", "--buffer-age", "0s"],
            "too short",
        ),
        (
            vec![
                "trigger",
                "stripe",
                "--to",
                "http://127.0.0.1:9/x",
                "--age",
                "11y",
            ],
            "too long",
        ),
    ];
    for (args, expect) in cases {
        refused(dir.path(), &args, expect).await;
    }
}

#[tokio::test]
async fn the_config_file_is_checked_like_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[listen]\nforward = \"3000\"\nresponse-timeout = \"0s\"\n",
            "response-timeout: duration \"0s\" is too short",
        ),
        (
            "[listen]\nforward = \"3000\"\nsecret = [\"github=x,tolerance=soon\"]\n",
            "tolerance=\"soon\"",
        ),
        (
            "[listen]\nforward = \"3000\"\nsecret = [\"github=x,algorithm=rot13\"]\n",
            "unknown algorithm \"rot13\"",
        ),
        ("[listen]\nforward = \"99999\"\n", "invalid port"),
        (
            "[listen]\nforward = 99999\n",
            "forward 99999: invalid port \"99999\"",
        ),
        (
            "[listen]\nforward = -1\n",
            "expected a port from 1 to 65535",
        ),
        (
            "[listen]\nforward = 3000\nrelay = \"https://relay.example.com:0\"\n",
            "invalid port \"0\"",
        ),
        (
            "[listen]\nforward = \"3000\"\n[[preset]]\nid = \"acme\"\nname = \"Acme\"\nsecret_hint = \"x\"\nheader = \"x-sig\"\nalgorithm = \"rot13\"\n",
            "rot13",
        ),
    ];
    for (text, expect) in cases {
        std::fs::write(dir.path().join("hookhole.toml"), text).unwrap();
        refused(dir.path(), &["listen", "--port", "0"], expect).await;
    }
}

#[tokio::test]
async fn a_port_in_the_config_file_may_be_a_toml_integer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookhole.toml"),
        "[listen]\nforward = 3000\nport = 0\n",
    )
    .unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(["listen", "--no-tui"]);
    let mut listener = Proc::spawn(cmd);
    let ready = listener.wait_event("ready").await;
    assert_eq!(ready["forward"], "http://127.0.0.1:3000");
    listener.signal("INT");
    let (code, stderr) = listener.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn endless_and_oversized_inputs_stop_at_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; (1 << 20) + 1]).unwrap();
    let started = Instant::now();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["verify", "--body-file", "/dev/zero"],
            "--body-file /dev/zero: larger than the 64 MiB limit",
        ),
        (
            vec!["--config", "/dev/zero", "listen"],
            "cannot read config file /dev/zero: larger than the 1 MiB limit",
        ),
        (
            vec!["--config", "big.toml", "listen"],
            "larger than the 1 MiB limit",
        ),
        (
            vec![
                "listen",
                "--forward",
                "3000",
                "--secret",
                "github=@/dev/zero",
            ],
            "cannot read /dev/zero: larger than the 64 KiB limit",
        ),
        (
            vec![
                "relay",
                "--listen",
                "127.0.0.1:0",
                "--tokens-file",
                "/dev/zero",
            ],
            "larger than the 1 MiB limit",
        ),
        (
            vec![
                "listen",
                "--forward",
                "3000",
                "--relay",
                "https://relay.invalid",
                "--ca-cert",
                "/dev/zero",
            ],
            "--ca-cert /dev/zero: larger than the 1 MiB limit",
        ),
        (
            vec![
                "trigger",
                "stripe",
                "--secret",
                "stripe=whsec_x",
                "--to",
                "http://127.0.0.1:9/x",
                "--data-file",
                "/dev/zero",
            ],
            "--data-file /dev/zero: larger than the 64 MiB limit",
        ),
    ];
    for (args, expect) in cases {
        refused(dir.path(), &args, expect).await;
    }

    // Standard input is bounded the same way.
    let mut cmd = hookhole(dir.path());
    cmd.args(["verify", "--body-file", "-"])
        .stdin(Stdio::from(std::fs::File::open("/dev/zero").unwrap()))
        .kill_on_drop(true);
    let out = within("verify to give up on endless stdin", cmd.output())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("larger than the 64 MiB limit"), "{stderr}");
    // Without a bound, /dev/zero is read until memory runs out.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_relay_refuses_oversized_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(["relay", "--listen", "127.0.0.1:0"]).args([
        "--tls-cert",
        "/dev/zero",
        "--tls-key",
        "/dev/zero",
    ]);
    let (code, _, stderr) = run(cmd).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("--tls-cert /dev/zero: larger than the 1 MiB limit"),
        "{stderr}"
    );
}

#[tokio::test]
async fn id_prefixes_match_literally() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let (mut listener, public_url) =
        listening(hookhole(dir.path()), &["--forward", &target.url()]).await;
    for path in ["/a", "/b"] {
        assert_eq!(
            post(&format!("{public_url}{path}"), b"{}").await.status,
            200
        );
    }
    let id = listener.wait_event("delivery").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    listener.wait_event("delivery").await;
    listener.signal("INT");
    listener.exit().await;

    for pattern in ["%", "_", "%%", &format!("{}%", &id[..1])] {
        refused(
            dir.path(),
            &["show", pattern],
            &format!("no delivery with an id starting with {pattern:?}"),
        )
        .await;
    }
    let mut show = hookhole(dir.path());
    show.args(["show", &id[..6]]);
    let (code, stdout, stderr) = run(show).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&id), "{stdout}");
}
