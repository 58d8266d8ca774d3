//! hookhole-bench: the tunnel against direct requests to the same local
//! server, in the same run, on this machine; and a two-relay cluster
//! beside the single relay.
//!
//! `cargo run --release -p hookhole-bench [-- --quick] [-- --check]`
//! `cargo run --release -p hookhole-bench -- --cluster` (only the cluster
//! and the single relay's figures it is compared with)
//! `cargo run --release -p hookhole-bench -- --soak[=MINUTES]` (10 by default)
//! `cargo run --release -p hookhole-bench -- --profile[=WHICH]` (one workload,
//! 20 s: latency, large, cluster, cluster-latency, cluster-large)
//! `cargo run --release -p hookhole-bench -- --peers bore` (also bore, a raw
//! TCP tunnel, in the same table, and the targets relative to it)
//!
//! Starts a target server, a relay and a client (history and signature
//! verification on) as separate release processes on loopback, drives the
//! workloads, and prints one table with each figure as a ratio to direct.
//! Then, when a `nats-server` is installed, the same workloads through two
//! relays joined on NATS (sent to one, the client on the other), beside the
//! single relay's figures.
//!
//! - `target`: the local server under test, a process of its own.
//! - `procs`: the relay, client and target processes, measured via `/proc`.
//! - `setup`: starting the target, the relay and the clients under test.
//! - `webhook`: the signed webhook every workload sends.
//! - `workload`: the standard workloads and one measurement through a tunnel.
//! - `load`: the load generator and its latencies.
//! - `idle`: what one connected, idle client costs the relay.
//! - `burst`: the offline buffer's rate, to a channel with no client.
//! - `soak`: minutes of idle clients and 5,000 webhooks a second.
//! - `nats`: the `nats-server` the cluster runs on.
//! - `cluster`: two relays on NATS, beside the single relay.
//! - `peers`: the `--peers` flag: other tunnels measured beside hookhole.
//! - `bore`: bore, installed on demand, and the targets relative to it.
//! - `profile`: one workload for a profiler.
//! - `machine`: what the numbers were measured on.

mod bore;
mod burst;
mod cluster;
mod idle;
mod load;
mod machine;
mod nats;
mod peers;
mod procs;
mod profile;
mod setup;
mod soak;
mod target;
mod webhook;
mod workload;

use bore::{Beside, Bore};
use load::Stats;
use peers::Peer;
use profile::Profile;
use setup::Setup;
use std::time::Duration;
use workload::{Measured, Workload};

struct Options {
    quick: bool,
    check: bool,
    /// Only the workloads the cluster is compared on, single relay and
    /// cluster (no fan-out, no idle clients).
    cluster_only: bool,
    /// Run the memory soak (instead of the workloads) for this long.
    soak: Option<Duration>,
    /// Only drive one workload, for a profiler.
    profile: Option<Profile>,
    /// Other tunnels to measure beside the single relay.
    peers: Vec<Peer>,
}

struct Row {
    name: &'static str,
    direct: Stats,
    tunnel: Measured,
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// `workload` sent directly to the target, then through the tunnel.
async fn workload(setup: &Setup, workload: &Workload) -> anyhow::Result<Row> {
    let direct_req = webhook::request(setup.target, "/hook", workload.size)?;
    let (connections, max) = (workload.connections, workload.max);
    // Warm up the direct path (connections, caches); `measure` warms the
    // tunnel's.
    load::run(direct_req.clone(), connections.min(4), 50, max).await?;
    let direct = load::run(direct_req, connections, workload.total, max).await?;
    let tunnel_req = webhook::through(setup.relay, workload.size)?;
    let tunnel = workload::measure(tunnel_req, &setup.procs(), workload).await?;
    if direct.errors + tunnel.stats.errors > 0 {
        eprintln!(
            "{}: {} direct and {} tunnel requests failed",
            workload.name, direct.errors, tunnel.stats.errors
        );
    }
    Ok(Row {
        name: workload.name,
        direct,
        tunnel,
    })
}

async fn bench(options: &Options) -> anyhow::Result<bool> {
    if let Some(profile) = options.profile {
        return profile::run(profile).await;
    }
    let mut setup = Setup::start()?;
    let dir = setup.dir.clone();
    match options.soak {
        // The soak's client keeps every delivery it is sent.
        Some(length) => setup.add_client_keeping(soak::RATE * (length.as_secs() + 60))?,
        None => setup.add_client()?,
    }
    let result = match options.soak {
        Some(length) => soak::report(&setup, length).await,
        None => workloads(&mut setup, options).await,
    };
    drop(setup);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(result? || !options.check)
}

/// The standard workloads on the single relay, then (unless only the
/// cluster is compared) fan-out and idle clients with the single relay's
/// table, then the cluster beside the single relay. Whether every target
/// is met.
async fn workloads(setup: &mut Setup, options: &Options) -> anyhow::Result<bool> {
    let standard = workload::standard(options.quick);
    let mut rows = Vec::new();
    // bore, when asked for, right after hookhole on each workload: this
    // machine's speed drifts within minutes.
    let bore = match options.peers.contains(&Peer::Bore) {
        true => Some(Bore::start_or_skip(setup.target)),
        false => None,
    };
    let mut bore_rows = Vec::new();
    for w in &standard {
        rows.push(workload(setup, w).await?);
        if let Some(Some(bore)) = &bore {
            bore_rows.push(bore.measure(w).await?);
        }
    }
    let beside_bore = match bore {
        None => Beside::NotAsked,
        Some(None) => Beside::Skipped,
        Some(Some(bore)) => {
            // Stopped before fan-out and the idle clients, which it would
            // only disturb.
            drop(bore);
            Beside::Measured(bore_rows)
        }
    };
    let mut met = true;
    if options.cluster_only {
        println!();
        println!("machine: {}", machine::describe());
    } else {
        met &= single_relay(setup, &mut rows, &beside_bore, options.quick).await?;
    }
    let single: Vec<&Measured> = rows
        .iter()
        .take(standard.len())
        .map(|r| &r.tunnel)
        .collect();
    if let Some(cluster_met) =
        cluster::compare(&setup.binary, &setup.dir, &standard, &single).await?
    {
        met &= cluster_met;
    }
    Ok(met)
}

/// Fan-out and idle clients on the single relay, then its table (`rows`
/// holds the standard workloads' figures, `beside_bore` bore's when asked
/// for) and targets.
async fn single_relay(
    setup: &mut Setup,
    rows: &mut Vec<Row>,
    beside_bore: &Beside,
    quick: bool,
) -> anyhow::Result<bool> {
    let rss_relay = setup.relay_proc.rss_kib();
    let rss_client = setup.clients[0].rss_kib();
    setup.add_client()?;
    let fan_out = Workload {
        name: "fan-out: 2 clients, 32 conns",
        connections: 32,
        total: if quick { 3000 } else { 20_000 },
        ..workload::standard(quick)[1]
    };
    rows.push(workload(setup, &fan_out).await?);
    let burst = burst::measure(setup.relay, &setup.relay_proc, quick).await?;
    println!("{}", burst::describe(&burst));

    let idle_count = if quick { 1000 } else { 10_000 };
    let before = setup.relay_proc.rss_kib();
    let idle = idle::open(setup.relay, idle_count).await?;
    // Let the relay settle after the connection storm.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = setup.relay_proc.rss_kib();
    let per_idle = after.saturating_sub(before) as f64 / idle_count as f64;
    drop(idle);

    println!();
    println!("machine: {}", machine::describe());
    println!();
    println!(
        "| workload | direct req/s | tunnel req/s | ratio | direct p50 | tunnel p50 | ratio | tunnel p99 | relay+client CPU/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, r) in rows.iter().enumerate() {
        table_row(r.name, &r.direct, &r.tunnel);
        if let Some(bore) = beside_bore.row(i) {
            table_row(&format!("bore: {}", r.name), &r.direct, bore);
        }
    }
    if beside_bore.row(0).is_some() {
        println!();
        println!(
            "bore rows: bore {} (bore server and bore local in the relay and client columns), \
             a raw TCP tunnel to the same target (direct figures: the row above's)",
            bore::VERSION
        );
    }
    println!();
    println!(
        "relay RSS {} KiB, client RSS {} KiB (after the single-client workloads)",
        rss_relay, rss_client
    );
    println!("relay RSS per idle connected client: {per_idle:.1} KiB ({idle_count} clients)");

    let ratio = |r: &Row| r.tunnel.stats.per_second() / r.direct.per_second().max(1e-9);
    let latency = rows[0].tunnel.stats.percentile(0.5).as_secs_f64()
        / rows[0].direct.percentile(0.5).as_secs_f64().max(1e-12);
    let mut targets = vec![
        (
            "32-connection throughput >= 0.5x direct",
            ratio(&rows[1]) >= 0.5,
            format!("{:.2}x", ratio(&rows[1])),
        ),
        (
            "1-connection p50 latency <= 2x direct",
            latency <= 2.0,
            format!("{latency:.2}x"),
        ),
        (
            "1 MiB bodies >= 0.25x direct",
            ratio(&rows[2]) >= 0.25,
            format!("{:.2}x", ratio(&rows[2])),
        ),
        (
            "relay+client CPU <= 40 µs per delivery",
            rows[1].tunnel.cpu_total() <= Duration::from_micros(40),
            us(rows[1].tunnel.cpu_total()),
        ),
        (
            "relay RSS <= 64 KiB per idle client",
            per_idle <= 64.0,
            format!("{per_idle:.1} KiB"),
        ),
    ];
    let ours: Vec<&Measured> = rows.iter().map(|r| &r.tunnel).collect();
    let relative_to_bore = beside_bore.targets(&ours);
    targets.extend(relative_to_bore.iter().flatten().cloned());
    println!();
    let mut all = true;
    for (what, met, value) in &targets {
        println!("{} {what}: {value}", if *met { "met   " } else { "MISSED" });
        all &= met;
    }
    if let Err(why) = relative_to_bore {
        println!("targets relative to bore: {why}");
    }
    Ok(all)
}

/// One row of the single relay's table: `tunnel` beside `direct`.
fn table_row(name: &str, direct: &Stats, tunnel: &Measured) {
    println!(
        "| {name} | {:.0} | {:.0} | {:.2}x | {} | {} | {:.2}x | {} | {} |",
        direct.per_second(),
        tunnel.stats.per_second(),
        tunnel.stats.per_second() / direct.per_second().max(1e-9),
        us(direct.percentile(0.5)),
        us(tunnel.stats.percentile(0.5)),
        tunnel.stats.percentile(0.5).as_secs_f64()
            / direct.percentile(0.5).as_secs_f64().max(1e-12),
        us(tunnel.stats.percentile(0.99)),
        us(tunnel.cpu_total()),
    );
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookhole-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if args.iter().any(|a| a == "--serve-target") {
        return match runtime.block_on(target::serve()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::FAILURE,
        };
    }
    let soak = args.iter().find_map(|a| {
        let minutes = a.strip_prefix("--soak")?;
        match minutes.strip_prefix('=') {
            Some(m) => m.parse::<f64>().ok().filter(|m| *m > 0.0),
            None if minutes.is_empty() => Some(10.0),
            None => None,
        }
    });
    if args.iter().any(|a| a.starts_with("--soak")) && soak.is_none() {
        eprintln!("hookhole-bench: --soak takes a number of minutes, e.g. --soak=10");
        return std::process::ExitCode::from(2);
    }
    let profile = args.iter().find_map(|a| {
        let which = a.strip_prefix("--profile")?;
        Profile::parse(which.strip_prefix('=').unwrap_or(which))
    });
    if args.iter().any(|a| a.starts_with("--profile")) && profile.is_none() {
        eprintln!(
            "hookhole-bench: --profile takes latency, large, cluster, cluster-latency or cluster-large, e.g. --profile=large"
        );
        return std::process::ExitCode::from(2);
    }
    let peers = match peers::from_args(&args) {
        Ok(peers) => peers,
        Err(usage) => {
            eprintln!("hookhole-bench: {usage}");
            return std::process::ExitCode::from(2);
        }
    };
    let alone = ["--soak", "--profile", "--cluster"];
    if !peers.is_empty() && args.iter().any(|a| alone.iter().any(|f| a.starts_with(f))) {
        eprintln!(
            "hookhole-bench: --peers adds rows to the single relay's table: not with --soak, --profile or --cluster"
        );
        return std::process::ExitCode::from(2);
    }
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
        check: args.iter().any(|a| a == "--check"),
        cluster_only: args.iter().any(|a| a == "--cluster"),
        soak: soak.map(|m| Duration::from_secs_f64(m * 60.0)),
        profile,
        peers,
    };
    match runtime.block_on(bench(&options)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hookhole-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
