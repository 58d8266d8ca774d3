//! A real `nats-server` with JetStream for the cluster workload, found on
//! PATH or at `$NATS_SERVER`, on a free loopback port with its store in
//! the benchmark's directory.

use crate::procs::Proc;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept clients.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Nats {
    pub proc: Proc,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    /// What `nats-server --version` says, e.g. `v2.9.10`.
    pub version: String,
}

/// The server's binary, or why there is none (one line, for the report).
pub fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("$NATS_SERVER ({}) is not a file", path.display()))
        };
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|candidate| candidate.is_file())
        })
        .ok_or_else(|| {
            "nats-server is not on PATH (apt-get install nats-server, or set $NATS_SERVER)".into()
        })
}

/// Starts `binary` with JetStream, its files under `dir`, once it accepts
/// clients.
pub fn start(binary: &Path, dir: &Path) -> anyhow::Result<Nats> {
    let store = dir.join("jetstream");
    let ports = dir.join("ports");
    std::fs::create_dir_all(&ports)?;
    let child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
        .arg(&store)
        .arg("--ports_file_dir")
        .arg(&ports)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", binary.display()))?;
    let proc = Proc { child };
    let port = wait_for_port(&ports)?;
    let version = Command::new(binary)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let version = version
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(Nats {
        proc,
        url: format!("nats://127.0.0.1:{port}"),
        version,
    })
}

/// The client port from the ports file, which the server writes once it
/// accepts clients.
fn wait_for_port(dir: &Path) -> anyhow::Result<u16> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let port = std::fs::read_dir(dir)?.flatten().find_map(|entry| {
            let text = std::fs::read_to_string(entry.path()).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            json["nats"][0].as_str()?.rsplit(':').next()?.parse().ok()
        });
        if let Some(port) = port {
            return Ok(port);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "nats-server did not accept clients within {START_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
