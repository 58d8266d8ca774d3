//! What installing `hookhole-relay` gives beyond running it: shell
//! completions and man pages generated from its own command line, a
//! `--version` naming the protocol; and with those subcommands added, the
//! relay still runs from flags alone.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use clap::{CommandFactory as _, ValueEnum as _};
use hookhole_host::generated_docs::{Shell, completion_script};
use hookhole_relay::cli::Cli;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// `hookhole-relay ARGS` in `dir`, isolated from the developer's config
/// and environment.
fn relay_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookhole-relay"));
    cmd.current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("HOOKHOLE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a command that must end on its own: exit code, stdout, stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out: Output = relay_command(dir.path(), args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Whether `script` offers `sub` as a subcommand of `hookhole-relay`, in
/// the form each shell's generated script uses (as in the client's
/// `tests/install.rs`).
fn offers(shell: Shell, script: &str, sub: &str) -> bool {
    match shell {
        Shell::Bash => script.contains(&format!("hookhole__relay,{sub})")),
        Shell::Zsh => script.contains(&format!("\n'{sub}:")),
        Shell::Fish => script.contains(&format!(
            "__fish_hookhole_relay_needs_command\" -f -a \"{sub}\""
        )),
        Shell::PowerShell => script.contains(&format!(
            "[CompletionResult]::new('{sub}', '{sub}', [CompletionResultType]::ParameterValue"
        )),
        Shell::Elvish => script.contains(&format!("cand {sub} '")),
        _ => panic!("a shell this test does not know: {shell}"),
    }
}

#[test]
fn every_shell_gets_a_script_offering_every_subcommand_and_the_flags() {
    let subcommands: Vec<String> = Cli::command()
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_string())
        .collect();
    assert_eq!(subcommands, ["completions", "man"]);
    for &shell in Shell::value_variants() {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let (code, script, stderr) = run(&["completions", &name]);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "{name}");
        assert_eq!(script.as_bytes(), completion_script(Cli::command(), shell));
        for sub in &subcommands {
            assert!(offers(shell, &script, sub), "{name} lacks {sub}");
        }
        assert!(!offers(shell, &script, "no-such-command"), "{name}");
        // The relay's flags, at the top where they are given.
        assert!(script.contains("data-dir"), "{name}");
    }
}

#[test]
fn man_writes_the_relays_pages() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("man1");
    let (code, stdout, stderr) = run(&["man", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    let expected = [
        "hookhole-relay-completions.1",
        "hookhole-relay-man.1",
        "hookhole-relay.1",
    ];
    assert_eq!(found, expected);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let page = std::fs::read_to_string(dir.join("hookhole-relay.1")).unwrap();
    let title = format!(
        "\n.TH hookhole-relay 1 \"\" \"hookhole-relay {}\" \n",
        hookhole_host::version::VERSION
    );
    assert!(page.contains(&title), "{page}");
    assert!(page.contains("\\-\\-tls\\-self\\-signed"), "{page}");
}

#[test]
fn version_names_the_release_and_the_protocol() {
    let expected = format!(
        "hookhole-relay {} (protocol {})\n",
        env!("CARGO_PKG_VERSION"),
        hookhole_shared::protocol::VERSION
    );
    let (code, stdout, stderr) = run(&["--version"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, expected);
}

#[test]
fn flags_without_a_subcommand_still_run_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = relay_command(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--token",
            "install-test-token-0123456789",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    let pid = child.id().to_string();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let line = match line_rx.recv_timeout(WAIT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("no `listening` line within {WAIT:?}");
        }
    };
    let listening: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(listening["event"], "listening", "{line}");
    let addr: std::net::SocketAddr = listening["addr"].as_str().unwrap().parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    // It serves: a health check over a plain socket.
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    std::io::Write::write_all(
        &mut socket,
        b"GET /_hookhole/health HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut socket, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Ctrl-C: a clean exit.
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    let out = match done_rx.recv_timeout(WAIT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!("the relay did not stop within {WAIT:?} of SIGINT");
        }
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
