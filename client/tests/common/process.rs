//! Running the real `hookhole` binary: stdout read line by line, killed on drop.

use super::within;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub struct Proc {
    pub child: Child,
    pub stdout: Lines<BufReader<ChildStdout>>,
}

/// A `hookhole` command isolated from the developer's own config and data:
/// run in `dir`, with the platform dirs pointed into it.
pub fn hookhole(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookhole"));
    cmd.current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("HOOKHOLE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        cmd.stderr(Stdio::piped());
        Self::spawn_with_stderr(cmd)
    }

    /// The same, with stderr where `cmd` already sends it.
    pub fn spawn_with_stderr(mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn hookhole");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Proc { child, stdout }
    }

    /// The next stdout line, parsed as JSON (every stdout line must be JSON).
    pub async fn next_json(&mut self) -> serde_json::Value {
        let line = within("a line on stdout", self.stdout.next_line())
            .await
            .unwrap()
            .expect("stdout closed");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
    }

    /// Waits for the relay's `listening` line; returns it and its port.
    pub async fn listening(&mut self) -> (serde_json::Value, u16) {
        let line = self.wait_event("listening").await;
        let addr: std::net::SocketAddr = line["addr"].as_str().unwrap().parse().unwrap();
        (line, addr.port())
    }

    /// Skips stdout lines until one has `"event": event`, within the one
    /// bound for the whole wait: a process that keeps printing other lines
    /// (a client retrying its connection) must not hold a test forever.
    pub async fn wait_event(&mut self, event: &str) -> serde_json::Value {
        let what = format!("a {event:?} line on stdout");
        within(&what, async {
            loop {
                let json = self.next_json().await;
                if json["event"] == event {
                    return json;
                }
            }
        })
        .await
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for exit; returns the exit code and everything on stderr.
    pub async fn exit(mut self) -> (Option<i32>, String) {
        let status = within("the process to exit", self.child.wait())
            .await
            .unwrap();
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = err.read_to_string(&mut stderr).await;
        }
        (status.code(), stderr)
    }
}

/// Starts `hookhole listen` headless on the embedded relay with `args`, and
/// waits for its public URL.
pub async fn listening(mut listen: Command, args: &[&str]) -> (Proc, String) {
    listen
        .args(["listen", "--no-tui", "--port", "0"])
        .args(args);
    let mut listener = Proc::spawn(listen);
    let url = listener.wait_event("ready").await["public_url"]
        .as_str()
        .unwrap()
        .to_string();
    (listener, url)
}

/// Waits for a listener's next delivery event, stops the listener, and
/// returns the delivery's id.
pub async fn stopped(mut listener: Proc) -> String {
    let id = listener.wait_event("delivery").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    listener.signal("INT");
    listener.exit().await;
    id
}

/// Runs a command to completion: exit code, stdout, stderr.
pub async fn run(mut cmd: Command) -> (Option<i32>, String, String) {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = within("the command to finish", cmd.output()).await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `hookhole ARGS` run from `dir`, which must succeed: its stdout.
pub async fn stdout_of(dir: &Path, args: &[&str]) -> String {
    let mut cmd = hookhole(dir);
    cmd.args(args);
    let (code, stdout, stderr) = run(cmd).await;
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    stdout
}

/// `hookhole ARGS` run from `dir` (`history --json`, say): one JSON value
/// per line of its stdout.
pub async fn json_lines_of(dir: &Path, args: &[&str]) -> Vec<Value> {
    stdout_of(dir, args)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A relay process on `port` (0: any), keeping its buffer in `data`, with
/// heartbeats every 200 ms.
pub async fn relay(dir: &Path, data: &Path, port: u16) -> (Proc, u16) {
    relay_beating(dir, data, port, "200ms").await
}

pub async fn relay_beating(dir: &Path, data: &Path, port: u16, heartbeat: &str) -> (Proc, u16) {
    let mut cmd = hookhole(dir);
    cmd.args([
        "relay",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data)
    .args(["--heartbeat", heartbeat]);
    let mut proc = Proc::spawn(cmd);
    let (_, port) = proc.listening().await;
    (proc, port)
}

/// A body that says which webhook it is: `{"n":N}`.
pub fn numbered(n: usize) -> Vec<u8> {
    format!("{{\"n\":{n}}}").into_bytes()
}

/// The `n` of every delivery (bodies made by [`numbered`]) in the client's history, with how often it is there.
pub async fn history_counts(dir: &Path) -> BTreeMap<usize, usize> {
    let mut cmd = hookhole(dir);
    cmd.args(["history", "--json", "--limit", "100000"]);
    let (code, stdout, stderr) = run(cmd).await;
    assert_eq!(code, Some(0), "{stderr}");
    let mut counts = BTreeMap::new();
    for line in stdout.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let id = row["id"].as_str().unwrap().to_string();
        let mut show = hookhole(dir);
        show.args(["show", &id, "--json"]);
        let (_, shown, _) = run(show).await;
        let shown: Value = serde_json::from_str(&shown).unwrap();
        let body: Value = serde_json::from_str(shown["body"]["text"].as_str().unwrap()).unwrap();
        *counts
            .entry(body["n"].as_u64().unwrap() as usize)
            .or_insert(0) += 1;
    }
    counts
}

/// `hookhole listen` headless on `relay` for `channel`, forwarding to
/// `target`; waits until it is ready.
pub async fn headless(dir: &Path, relay: &str, channel: &str, target: &str) -> Proc {
    headless_with(dir, relay, channel, target, &[]).await
}

pub async fn headless_with(
    dir: &Path,
    relay: &str,
    channel: &str,
    target: &str,
    extra: &[&str],
) -> Proc {
    let mut cmd = hookhole(dir);
    cmd.args([
        "listen",
        "--no-tui",
        "--relay",
        relay,
        "--channel",
        channel,
        "--forward",
        target,
    ])
    .args(extra);
    let mut proc = Proc::spawn(cmd);
    Box::pin(proc.wait_event("ready")).await;
    proc
}
