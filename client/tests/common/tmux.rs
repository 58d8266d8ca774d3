//! The terminal UI in a real terminal: a tmux server of our own (`-L`), its
//! screen read with `capture-pane`, killed on drop.

use super::within;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// A server named after this process and `name`, so tests in one
    /// binary do not share it.
    pub fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("hookhole-test-{name}-{}", std::process::id()),
        }
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `hookhole listen` in session `ui`, a `width` x `height`
    /// terminal in `dir` (where its `hookhole.toml` is), with its data under
    /// `data` and `env` (`NAME=value`) set. When it exits, the pane says
    /// `EXITED=<code>` and stays open for the test to read.
    pub fn start_listener(&self, dir: &Path, data: &Path, size: (u16, u16), env: &[String]) {
        let command = format!(
            "{} listen; echo EXITED=$?; sleep 60",
            env!("CARGO_BIN_EXE_hookhole")
        );
        let (width, height) = (size.0.to_string(), size.1.to_string());
        let dir_text = dir.to_string_lossy().into_owned();
        let data_env = format!("XDG_DATA_HOME={}", data.display());
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            "ui",
            "-x",
            &width,
            "-y",
            &height,
            "-c",
            &dir_text,
            "-e",
            &data_env,
        ];
        for var in env {
            args.extend(["-e", var.as_str()]);
        }
        args.push(&command);
        self.run(&args);
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "ui"])
    }

    /// Waits until the screen shows `text` (the UI redraws on its own time).
    pub async fn wait_for(&self, text: &str) -> String {
        within(&format!("{text:?} on the screen"), async {
            loop {
                let screen = self.screen();
                if screen.contains(text) {
                    return screen;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// A working dir whose `hookhole.toml` has the listener forward to
/// `forward` on relay port 0, with `extra` lines after.
pub fn dir_forwarding_to(forward: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookhole.toml"),
        format!("[listen]\nforward = \"{forward}\"\nport = 0\n{extra}"),
    )
    .unwrap();
    dir
}

/// False (and the test skips) when tmux is missing, except on CI.
pub fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide tmux (.ci/run installs it)"
        );
        eprintln!("skipped: tmux is not installed");
    }
    found
}

/// The public URL the listener started with data dir `data` recorded.
pub async fn public_url(data: &Path) -> String {
    within("the listener to record its URL", async {
        loop {
            if let Ok(text) = std::fs::read_to_string(data.join("hookhole/listeners.json")) {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(url) = v
                    .as_object()
                    .and_then(|m| m.values().next())
                    .and_then(|l| l["public_url"].as_str())
                {
                    return url.to_string();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}
