//! Runs the real `hookhole-relay` binary for the start-up tests.

// Test code: a failed setup step should panic.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "owners-file-token-0123456789";

/// How a run ended: exit code and what it printed.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `hookhole-relay` with its data dir in `dir`, a token and `args`, isolated
/// from the developer's config; at most 60 s (a relay that starts after
/// all is killed, and the test fails).
pub fn run_relay(dir: &Path, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookhole-relay"));
    cmd.current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
        .env("HOOKHOLE_RELAY_TOKENS", TOKEN)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("HOOKHOLE_") && key != "HOOKHOLE_RELAY_TOKENS" {
            cmd.env_remove(key);
        }
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let out = match outcome.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the relay did not exit within 60 s");
        }
    };
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
