//! The processes under test: the local target server, the relay and its
//! clients, each a release process of its own on loopback.

use crate::SECRET;
use crate::procs::{self, Proc, spawn};
use std::net::SocketAddr;
use std::time::Duration;

pub struct Setup {
    pub target: SocketAddr,
    pub relay: SocketAddr,
    pub relay_proc: Proc,
    pub clients: Vec<Proc>,
    binary: std::path::PathBuf,
    pub dir: std::path::PathBuf,
    _target_proc: Proc,
}

impl Setup {
    /// Starts the target and the relay (no client yet), in a fresh
    /// temporary directory.
    pub fn start() -> anyhow::Result<Setup> {
        let binary = procs::hookhole_binary()?;
        let dir = std::env::temp_dir().join(format!("hookhole-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let me = std::env::current_exe()?;
        let (target_proc, line) = spawn("target", &me, &["--serve-target"], "listening")?;
        let target = addr_of(&line)?;
        let relay_data = dir.join("relay");
        let (relay_proc, line) = spawn(
            "relay",
            &binary,
            // The benchmark measures the tunnel, not the rate limiter, and
            // connects 10,000 idle clients (more than the relay's default budget
            // for client links).
            &[
                "relay",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "1000000000",
                "--max-in-flight",
                "100000",
                "--max-client-connections",
                "100000",
                "--data-dir",
                relay_data.to_str().unwrap_or_default(),
            ],
            "listening",
        )?;
        let relay = addr_of(&line)?;
        Ok(Setup {
            target,
            relay,
            relay_proc,
            clients: Vec::new(),
            binary,
            dir: dir.clone(),
            _target_proc: target_proc,
        })
    }

    pub fn cpu(&self) -> Duration {
        self.relay_proc.cpu() + self.clients.iter().map(Proc::cpu).sum::<Duration>()
    }

    pub fn add_client(&mut self) -> anyhow::Result<()> {
        let n = self.clients.len();
        let data = self.dir.join(format!("client-{n}"));
        let relay = format!("http://{}", self.relay);
        let forward = format!("http://{}", self.target);
        let secret = format!("stripe={SECRET}");
        let (proc, _) = spawn(
            "client",
            &self.binary,
            &[
                "listen",
                "--no-tui",
                "--relay",
                &relay,
                "--channel",
                "bench",
                "--forward",
                &forward,
                "--secret",
                &secret,
                "--data-dir",
                data.to_str().unwrap_or_default(),
                "--keep",
                "100000",
            ],
            "\"ready\"",
        )?;
        self.clients.push(proc);
        Ok(())
    }
}

fn addr_of(line: &str) -> anyhow::Result<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    Ok(value["addr"].as_str().unwrap_or_default().parse()?)
}
