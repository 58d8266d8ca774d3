//! The cluster workload: two relays joined through a real `nats-server`
//! with JetStream, the client on relay B and the webhooks sent to relay A,
//! so that every delivery crosses nodes (NATS request, reply). The same
//! workloads as the single relay's, reported beside its figures from the
//! same run; also sent to relay B ("same node"), which shows what joining
//! a cluster costs a delivery that never leaves its node.
//!
//! Without a `nats-server` (PATH or `$NATS_SERVER`) the cluster rows are
//! skipped with one line: the benchmark does not need one otherwise.
//!
//! - [`report`]: the table beside the single relay and the targets.

mod report;

use crate::load;
use crate::nats::{self, Nats};
use crate::procs::Proc;
use crate::setup;
use crate::webhook;
use crate::workload::{self, Measured, Workload};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// The processes measured, in the order of [`Cluster::procs`].
pub const PROCESSES: [&str; 4] = ["relay A", "relay B", "client", "nats-server"];
/// Where nats-server is in [`PROCESSES`].
pub const NATS_SERVER: usize = 3;

/// How long relay B may take to take the channel's deliveries from A once
/// its client is connected (subscribing on NATS).
const CROSSING_TIMEOUT: Duration = Duration::from_secs(30);

/// A two-relay cluster and its client, all release processes on loopback.
pub struct Cluster {
    /// Relay A: where webhooks arrive.
    pub a: SocketAddr,
    /// Relay B: where the client is connected.
    pub b: SocketAddr,
    pub nats: Nats,
    // Dropped (killed) in this order: the client before the relays, the
    // relays before NATS.
    client: Proc,
    relay_a: Proc,
    relay_b: Proc,
    _target: Proc,
}

impl Cluster {
    /// Starts NATS, a target, relays A and B (the single relay's flags,
    /// plus `--nats` and `--node`) and a client on B, in `dir`; returns
    /// once a webhook sent to A reaches the client.
    pub async fn start(binary: &Path, nats_binary: &Path, dir: &Path) -> anyhow::Result<Cluster> {
        let dir = dir.join("cluster");
        std::fs::create_dir_all(&dir)?;
        let nats = nats::start(nats_binary, &dir.join("nats"))?;
        let (target, target_addr) = setup::start_target()?;
        let relay = |name, node| {
            let flags = ["--nats", nats.url.as_str(), "--node", node];
            setup::start_relay(name, binary, &dir.join(format!("relay-{node}")), &flags)
        };
        let (relay_a, a) = relay("relay A", "a")?;
        let (relay_b, b) = relay("relay B", "b")?;
        let client = setup::start_client(binary, b, target_addr, &dir.join("client"), setup::KEEP)?;
        let cluster = Cluster {
            a,
            b,
            nats,
            client,
            relay_a,
            relay_b,
            _target: target,
        };
        cluster.until_crossing().await?;
        Ok(cluster)
    }

    /// Relay A, relay B, the client, nats-server (as [`PROCESSES`] names them).
    pub fn procs(&self) -> [&Proc; 4] {
        [&self.relay_a, &self.relay_b, &self.client, &self.nats.proc]
    }

    /// Sends webhooks to A until one is answered by the client (`200`)
    /// rather than stored for later (`202`, while B has not subscribed to
    /// the channel yet; such a webhook reaches the client a moment later).
    async fn until_crossing(&self) -> anyhow::Result<()> {
        let probe = webhook::through(self.a, 2048)?;
        let deadline = Instant::now() + CROSSING_TIMEOUT;
        loop {
            let status = load::status(&probe).await?;
            if status == http::StatusCode::OK {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "a webhook sent to relay A did not reach the client on relay B within {CROSSING_TIMEOUT:?} (last answer {status})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Where `nats-server` is, or `None` after saying in one line why the
/// cluster is skipped.
pub fn nats_or_skip() -> Option<std::path::PathBuf> {
    match nats::binary() {
        Ok(binary) => Some(binary),
        Err(why) => {
            println!("cluster: skipped: {why}");
            None
        }
    }
}

/// Drives `workloads` through a fresh cluster, across nodes and on one
/// node, and prints them beside `single` (the single relay's figures for
/// the same workloads, its relay's CPU first, then its client's). Whether
/// the targets are met; `None` when the cluster was skipped.
pub async fn compare(
    binary: &Path,
    dir: &Path,
    workloads: &[Workload],
    single: &[&Measured],
) -> anyhow::Result<Option<bool>> {
    let Some(nats_binary) = nats_or_skip() else {
        return Ok(None);
    };
    let cluster = Cluster::start(binary, &nats_binary, dir).await?;
    let procs = cluster.procs();
    let mut rows = Vec::new();
    for (workload, &single) in workloads.iter().zip(single) {
        let cross = run(cluster.a, workload, &procs, "cross-node").await?;
        let local = run(cluster.b, workload, &procs, "same node").await?;
        rows.push(report::Row {
            workload,
            single,
            cross,
            local,
        });
    }
    let version = cluster.nats.version.clone();
    drop(cluster);
    Ok(Some(report::print(&version, &rows)))
}

/// One workload sent to `relay` of the cluster.
async fn run(
    relay: SocketAddr,
    workload: &Workload,
    procs: &[&Proc],
    what: &str,
) -> anyhow::Result<Measured> {
    let measured =
        workload::measure(webhook::through(relay, workload.size)?, procs, workload).await?;
    if measured.stats.errors > 0 {
        eprintln!(
            "{}, {what}: {} requests failed",
            workload.name, measured.stats.errors
        );
    }
    Ok(measured)
}
