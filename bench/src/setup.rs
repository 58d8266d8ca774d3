//! The processes under test: the local target server, the relay and its
//! clients, each a release process of its own on loopback.

use crate::procs::{self, Proc, spawn};
use crate::webhook::SECRET;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The channel every client of the benchmark listens on.
pub const CHANNEL: &str = "bench";

/// Deliveries a client's history keeps, unless a run asks for more.
pub const KEEP: u64 = 100_000;

pub struct Setup {
    pub target: SocketAddr,
    pub relay: SocketAddr,
    pub relay_proc: Proc,
    pub clients: Vec<Proc>,
    pub binary: PathBuf,
    pub dir: PathBuf,
    _target_proc: Proc,
}

impl Setup {
    /// Starts the target and the relay (no client yet), in a fresh
    /// temporary directory.
    pub fn start() -> anyhow::Result<Setup> {
        let binary = procs::hookhole_binary()?;
        let dir = scratch_dir()?;
        let (target_proc, target) = start_target()?;
        let (relay_proc, relay) = start_relay("relay", &binary, &dir.join("relay"), &[])?;
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

    /// The processes under test: the relay, then each client.
    pub fn procs(&self) -> Vec<&Proc> {
        std::iter::once(&self.relay_proc)
            .chain(&self.clients)
            .collect()
    }

    pub fn add_client(&mut self) -> anyhow::Result<()> {
        self.add_client_keeping(KEEP)
    }

    /// A client whose history keeps `keep` deliveries (the soak keeps all
    /// of its millions).
    pub fn add_client_keeping(&mut self, keep: u64) -> anyhow::Result<()> {
        let data = self.dir.join(format!("client-{}", self.clients.len()));
        let client = start_client(&self.binary, self.relay, self.target, &data, keep)?;
        self.clients.push(client);
        Ok(())
    }
}

/// This run's directory for data (removed at the end by the caller).
pub fn scratch_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hookhole-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The local server the clients forward to: this program again, with
/// `--serve-target`.
pub fn start_target() -> anyhow::Result<(Proc, SocketAddr)> {
    let me = std::env::current_exe()?;
    let (proc, line) = spawn("target", &me, &["--serve-target"], "listening")?;
    Ok((proc, addr_of(&line)?))
}

/// `hookhole relay` on a free port with its data in `data` and `extra`
/// flags (a cluster's), once it listens.
pub fn start_relay(
    name: &'static str,
    binary: &Path,
    data: &Path,
    extra: &[&str],
) -> anyhow::Result<(Proc, SocketAddr)> {
    // The benchmark measures the tunnel, not the rate limiter, connects
    // 10,000 idle clients (more than the relay's default budget for client
    // links) and bursts into the offline buffer.
    let mut args = vec![
        "relay",
        "--listen",
        "127.0.0.1:0",
        "--rate-limit",
        "1000000000",
        "--max-in-flight",
        "100000",
        "--max-client-connections",
        "100000",
        // The offline burst stores 20,000 webhooks on one channel.
        "--buffer-limit",
        "1000000",
        "--data-dir",
        data.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    let (proc, line) = spawn(name, binary, &args, "listening")?;
    Ok((proc, addr_of(&line)?))
}

/// `hookhole listen` on the benchmark's channel of `relay`, forwarding to
/// `target` with history and Stripe verification on, keeping `keep`
/// deliveries, once it is ready.
pub fn start_client(
    binary: &Path,
    relay: SocketAddr,
    target: SocketAddr,
    data: &Path,
    keep: u64,
) -> anyhow::Result<Proc> {
    let relay = format!("http://{relay}");
    let keep = keep.to_string();
    let forward = format!("http://{target}");
    let secret = format!("stripe={SECRET}");
    let (proc, _) = spawn(
        "client",
        binary,
        &[
            "listen",
            "--no-tui",
            "--relay",
            &relay,
            "--channel",
            CHANNEL,
            "--forward",
            &forward,
            "--secret",
            &secret,
            "--data-dir",
            data.to_str().unwrap_or_default(),
            "--keep",
            &keep,
        ],
        "\"ready\"",
    )?;
    Ok(proc)
}

fn addr_of(line: &str) -> anyhow::Result<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    Ok(value["addr"].as_str().unwrap_or_default().parse()?)
}
