//! The cluster's figures beside the single relay's, and the targets for a
//! cross-node delivery (issue 17): at most 0.3 ms more p50 latency and 50%
//! more CPU than a single relay's.

use super::{NATS_SERVER, PROCESSES};
use crate::us;
use crate::workload::{Measured, Workload};
use std::time::Duration;

/// What a cross-node delivery may add to the single relay's p50 latency
/// (one connection, 2 KiB).
const ADDED_P50: Duration = Duration::from_micros(300);

/// What a cross-node delivery may cost in CPU, all processes together, as
/// a multiple of the single relay's relay and client (32 connections,
/// 2 KiB: the workload of the single relay's own CPU target).
const CPU_RATIO: f64 = 1.5;

/// One workload on the single relay and on the cluster.
pub struct Row<'a> {
    pub workload: &'a Workload,
    /// The single relay's relay, then its client.
    pub single: &'a Measured,
    /// Sent to relay A, the client on B (per process as `PROCESSES`).
    pub cross: Measured,
    /// Sent to relay B, where the client is.
    pub local: Measured,
}

/// Prints the table and the targets; whether both targets are met.
pub fn print(version: &str, rows: &[Row]) -> bool {
    println!();
    println!(
        "cluster: relays A and B on nats-server {version} (JetStream on); cross-node: webhooks sent to A, \
         the client on B; same node: sent to B. CPU per delivery per process (a single relay's under relay A)."
    );
    println!();
    let mut header = vec!["workload", "setup", "req/s", "p50", "p99"];
    header.extend(PROCESSES);
    header.push("CPU/req");
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for row in rows {
        let [relay, client] = [0, 1].map(|i| row.single.cpu.get(i).copied().map(us));
        let single_cpu = [relay, None, client, None];
        figures(row.workload.name, "single relay", row.single, single_cpu);
        for (what, cluster) in [("cross-node", &row.cross), ("same node", &row.local)] {
            figures(
                "",
                what,
                cluster,
                cluster.cpu.iter().copied().map(us).map(Some),
            );
            change(&format!("{what} vs single"), row.single, cluster);
        }
    }
    println!();
    let find = |connections: usize, size: usize| {
        rows.iter()
            .find(|r| r.workload.connections == connections && r.workload.size == size)
    };
    let mut met = true;
    if let Some(row) = find(1, 2048) {
        let added = added_p50(row.single, &row.cross);
        let ok = added <= ADDED_P50.as_secs_f64();
        met &= ok;
        println!(
            "{} cross-node delivery adds <= {:.1} ms p50 ({}): {:+.3} ms ({} -> {})",
            verdict(ok),
            ADDED_P50.as_secs_f64() * 1e3,
            row.workload.name,
            added * 1e3,
            us(row.single.stats.percentile(0.5)),
            us(row.cross.stats.percentile(0.5)),
        );
    }
    if let Some(row) = find(32, 2048) {
        let ratio = cpu_ratio(row.single, &row.cross);
        let ok = ratio <= CPU_RATIO;
        met &= ok;
        // NATS usually runs on machines of its own: what the relays and
        // the client spend, without it.
        let nats = row.cross.cpu.get(NATS_SERVER).copied().unwrap_or_default();
        let without = row.cross.cpu_total().saturating_sub(nats);
        println!(
            "{} cross-node CPU per delivery <= {CPU_RATIO:.1}x the single relay's ({}): {ratio:.2}x ({} -> {}; {:.2}x without nats-server)",
            verdict(ok),
            row.workload.name,
            us(row.single.cpu_total()),
            us(row.cross.cpu_total()),
            without.as_secs_f64() / row.single.cpu_total().as_secs_f64().max(1e-12),
        );
    }
    if let Some(row) = rows.iter().find(|r| r.workload.size > 64 * 1024) {
        println!(
            "for information (no target), {}: cross-node adds {:+.1} ms p50, CPU {:.2}x",
            row.workload.name,
            added_p50(row.single, &row.cross) * 1e3,
            cpu_ratio(row.single, &row.cross),
        );
    }
    met
}

/// One setup's figures: throughput, latency, CPU per delivery per process
/// (`None` for a process the setup does not have) and in all.
fn figures(name: &str, setup: &str, m: &Measured, cpu: impl IntoIterator<Item = Option<String>>) {
    let mut cells = vec![
        name.to_string(),
        setup.to_string(),
        format!("{:.0}", m.stats.per_second()),
        us(m.stats.percentile(0.5)),
        us(m.stats.percentile(0.99)),
    ];
    cells.extend(cpu.into_iter().map(|c| c.unwrap_or_else(|| "-".into())));
    cells.push(us(m.cpu_total()));
    table_row(&cells);
}

/// The cluster against the single relay: throughput and CPU as ratios,
/// latency as what it adds.
fn change(setup: &str, single: &Measured, cluster: &Measured) {
    let added = |p: f64| {
        let d =
            cluster.stats.percentile(p).as_secs_f64() - single.stats.percentile(p).as_secs_f64();
        format!("{:+.0} µs", d * 1e6)
    };
    let mut cells = vec![
        String::new(),
        setup.to_string(),
        format!(
            "{:.2}x",
            cluster.stats.per_second() / single.stats.per_second().max(1e-9)
        ),
        added(0.5),
        added(0.99),
    ];
    cells.extend(std::iter::repeat_n(String::new(), PROCESSES.len()));
    cells.push(format!("{:.2}x", cpu_ratio(single, cluster)));
    table_row(&cells);
}

/// A markdown table row; empty cells stay empty.
fn table_row(cells: &[String]) {
    let cells: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.is_empty() {
                " ".into()
            } else {
                format!(" {c} ")
            }
        })
        .collect();
    println!("|{}|", cells.join("|"));
}

/// Seconds the cluster adds to the single relay's p50.
fn added_p50(single: &Measured, cluster: &Measured) -> f64 {
    cluster.stats.percentile(0.5).as_secs_f64() - single.stats.percentile(0.5).as_secs_f64()
}

/// The cluster's CPU per delivery (every process) over the single relay's.
fn cpu_ratio(single: &Measured, cluster: &Measured) -> f64 {
    cluster.cpu_total().as_secs_f64() / single.cpu_total().as_secs_f64().max(1e-12)
}

fn verdict(met: bool) -> &'static str {
    if met { "met   " } else { "MISSED" }
}
