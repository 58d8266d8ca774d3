//! One workload driven for 20 s, for a profiler (`--profile[=WHICH]`): the
//! processes' ids first (attach `perf record -p` or read `/proc`
//! meanwhile), then the throughput, p50 and CPU per request.

use crate::cluster::{self, Cluster};
use crate::procs::{self, Proc};
use crate::setup::{self, Setup};
use crate::workload::{self, Workload};
use crate::{us, webhook};
use std::time::Duration;

/// How long the workload runs.
const LENGTH: Duration = Duration::from_secs(20);

#[derive(Clone, Copy)]
pub struct Profile {
    /// Through a two-relay cluster (to relay A, the client on B) rather
    /// than a single relay.
    cluster: bool,
    connections: usize,
    size: usize,
}

impl Profile {
    /// `--profile` (32 connections of 2 KiB), `--profile=latency` (one
    /// connection), `--profile=large` (one connection of 1 MiB); each also
    /// through the cluster: `--profile=cluster`, `cluster-latency`,
    /// `cluster-large`. `None` for anything else.
    pub fn parse(value: &str) -> Option<Profile> {
        let (cluster, workload) = match value.strip_prefix("cluster") {
            Some("") => (true, ""),
            Some(rest) => (true, rest.strip_prefix('-').filter(|w| !w.is_empty())?),
            None => (false, value),
        };
        let (connections, size) = match workload {
            "" => (32, 2048),
            "latency" => (1, 2048),
            "large" => (1, 1 << 20),
            _ => return None,
        };
        Some(Profile {
            cluster,
            connections,
            size,
        })
    }
}

/// Starts the processes, prints their ids, drives the workload.
pub async fn run(profile: Profile) -> anyhow::Result<bool> {
    let workload = Workload {
        name: "profile",
        connections: profile.connections,
        total: u64::MAX,
        max: LENGTH,
        size: profile.size,
    };
    if !profile.cluster {
        let mut setup = Setup::start()?;
        setup.add_client()?;
        let names = ["relay", "client"];
        let result = drive(&workload, setup.relay, &names, &setup.procs()).await;
        let dir = setup.dir.clone();
        drop(setup);
        let _ = std::fs::remove_dir_all(dir);
        return result;
    }
    let Some(nats_binary) = cluster::nats_or_skip() else {
        return Ok(true);
    };
    let dir = setup::scratch_dir()?;
    let started = async {
        let binary = procs::hookhole_binary()?;
        Cluster::start(&binary, &nats_binary, &dir).await
    };
    let result = match started.await {
        Ok(cluster) => drive(&workload, cluster.a, &cluster::PROCESSES, &cluster.procs()).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(dir);
    result
}

async fn drive(
    workload: &Workload,
    relay: std::net::SocketAddr,
    names: &[&str],
    procs: &[&Proc],
) -> anyhow::Result<bool> {
    let ids: Vec<String> = names
        .iter()
        .zip(procs)
        .map(|(name, proc)| format!("{name} pid {}", proc.child.id()))
        .collect();
    println!(
        "{}: {} connections of {} bytes for {} s",
        ids.join(", "),
        workload.connections,
        workload.size,
        LENGTH.as_secs()
    );
    let request = webhook::through(relay, workload.size)?;
    let measured = workload::measure(request, procs, workload).await?;
    let each: Vec<String> = names
        .iter()
        .zip(&measured.cpu)
        .map(|(name, cpu)| format!("{name} {}", us(*cpu)))
        .collect();
    println!(
        "{:.0} req/s, p50 {}, CPU {} per request ({}), {} errors",
        measured.stats.per_second(),
        us(measured.stats.percentile(0.5)),
        us(measured.cpu_total()),
        each.join(", "),
        measured.stats.errors
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_workload_alone_or_through_the_cluster() {
        let parsed =
            |value: &str| Profile::parse(value).map(|p| (p.cluster, p.connections, p.size));
        assert_eq!(parsed(""), Some((false, 32, 2048)));
        assert_eq!(parsed("latency"), Some((false, 1, 2048)));
        assert_eq!(parsed("large"), Some((false, 1, 1 << 20)));
        assert_eq!(parsed("cluster"), Some((true, 32, 2048)));
        assert_eq!(parsed("cluster-latency"), Some((true, 1, 2048)));
        assert_eq!(parsed("cluster-large"), Some((true, 1, 1 << 20)));
        for bad in [
            "small",
            "clusterlarge",
            "cluster-",
            "cluster-cluster",
            "Large",
        ] {
            assert!(Profile::parse(bad).is_none(), "{bad:?}");
        }
    }
}
