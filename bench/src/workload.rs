//! The workloads every setup is measured with, and what one measurement
//! through a tunnel yields: its latencies and the CPU each process under
//! test spent per delivery.

use crate::load::{self, Request, Stats};
use crate::procs::Proc;
use std::time::Duration;

/// A stream of identical webhooks: how many, over how many connections,
/// for at most how long.
pub struct Workload {
    pub name: &'static str,
    pub connections: usize,
    pub total: u64,
    pub max: Duration,
    pub size: usize,
}

/// The workloads a single relay and a cluster are both measured with: 2 KiB
/// over one connection (latency) and 32 (throughput), 1 MiB over one.
pub fn standard(quick: bool) -> [Workload; 3] {
    let scale = |full: u64, quick_total: u64| if quick { quick_total } else { full };
    let long = Duration::from_secs(if quick { 3 } else { 10 });
    [
        Workload {
            name: "1 connection, 2 KiB",
            connections: 1,
            total: scale(2000, 300),
            max: long,
            size: 2048,
        },
        Workload {
            name: "32 connections, 2 KiB",
            connections: 32,
            total: scale(50_000, 6000),
            max: long,
            size: 2048,
        },
        Workload {
            name: "1 connection, 1 MiB",
            connections: 1,
            total: scale(200, 30),
            max: long * 3,
            size: 1 << 20,
        },
    ]
}

/// One workload through a tunnel.
pub struct Measured {
    pub stats: Stats,
    /// CPU time per delivery of each process measured, in the order given.
    pub cpu: Vec<Duration>,
}

impl Measured {
    /// CPU time per delivery of all the processes measured together.
    pub fn cpu_total(&self) -> Duration {
        self.cpu.iter().sum()
    }
}

/// Warms `request`'s path up (connections, pools, caches), then drives the
/// workload and reads what each of `procs` spent on it.
pub async fn measure(
    request: Request,
    procs: &[&Proc],
    workload: &Workload,
) -> anyhow::Result<Measured> {
    let connections = workload.connections;
    load::run(request.clone(), connections.min(4), 50, workload.max).await?;
    let before: Vec<Duration> = procs.iter().map(|p| p.cpu()).collect();
    let stats = load::run(request, connections, workload.total, workload.max).await?;
    let deliveries = stats.requests.max(1) as u32;
    let cpu = procs
        .iter()
        .zip(before)
        .map(|(p, before)| p.cpu().saturating_sub(before) / deliveries)
        .collect();
    Ok(Measured { stats, cpu })
}
