//! hookhole-bench: the tunnel against direct requests to the same local
//! server, in the same run, on this machine.
//!
//! `cargo run --release -p hookhole-bench [-- --quick] [-- --check]`
//! `cargo run --release -p hookhole-bench -- --soak[=MINUTES]` (10 by default)
//! `cargo run --release -p hookhole-bench -- --profile[=latency|large]` (one workload, 20 s)
//!
//! Starts a target server, a relay and a client (history and signature
//! verification on) as separate release processes on loopback, drives the
//! workloads, and prints one table with each figure as a ratio to direct.
//!
//! - `target`: the local server under test, a process of its own.
//! - `procs`: the relay, client and target processes, measured via `/proc`.
//! - `setup`: starting the target, the relay and the clients under test.
//! - `load`: the load generator and its latencies.
//! - `idle`: what one connected, idle client costs the relay.
//! - `soak`: minutes of idle clients and a trickle of webhooks.
//! - `machine`: what the numbers were measured on.

mod idle;
mod load;
mod machine;
mod procs;
mod setup;
mod soak;
mod target;

use bytes::Bytes;
use hookhole_shared::signature::preset::builtin;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::sign::{Signing, sign};
use load::{Request, Stats};
use setup::Setup;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_benchmark_secret_0001";

#[derive(Clone, Copy)]
enum Profile {
    Small,
    Latency,
    Large,
}

struct Options {
    quick: bool,
    check: bool,
    /// Run the memory soak (instead of the workloads) for this long.
    soak: Option<Duration>,
    /// Only drive one tunnel workload, for a profiler: 32 connections of
    /// 2 KiB, or one connection of 2 KiB (`--profile=latency`) or of 1 MiB
    /// (`--profile=large`).
    profile: Option<Profile>,
}

/// A webhook body of about `size` bytes, signed like Stripe's.
fn webhook(size: usize) -> anyhow::Result<(Vec<(String, String)>, Bytes)> {
    let pad = "x".repeat(size.saturating_sub(120));
    let body = Bytes::from(format!(
        "{{\"id\":\"evt_bench\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\",\"data\":{{\"pad\":\"{pad}\"}}}}"
    ));
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let preset = builtin()
        .iter()
        .find(|p| p.id == "stripe")
        .ok_or_else(|| anyhow::anyhow!("no stripe preset"))?;
    let signing = Signing {
        body: &body,
        url: "",
        headers: &[],
        timestamp: now,
        id: "evt_bench",
    };
    let signed =
        sign(preset, &Secret::new("stripe", SECRET), &signing).map_err(anyhow::Error::msg)?;
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(
        signed
            .headers
            .into_iter()
            .map(|h| (h.name.clone(), h.value_lossy().into_owned())),
    );
    Ok((headers, body))
}

struct Row {
    name: &'static str,
    direct: Stats,
    tunnel: Stats,
    cpu_per_request: Duration,
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

async fn workload(
    setup: &Setup,
    name: &'static str,
    connections: usize,
    total: u64,
    max: Duration,
    size: usize,
) -> anyhow::Result<Row> {
    let (headers, body) = webhook(size)?;
    let direct_req = Request {
        addr: setup.target,
        path: "/hook".into(),
        headers: headers.clone(),
        body: body.clone(),
    };
    let tunnel_req = Request {
        addr: setup.relay,
        path: "/bench/hook".into(),
        headers,
        body,
    };
    // Warm up both paths (connections, pools, caches).
    load::run(direct_req.clone(), connections.min(4), 50, max).await?;
    load::run(tunnel_req.clone(), connections.min(4), 50, max).await?;
    let direct = load::run(direct_req, connections, total, max).await?;
    let cpu_before = setup.cpu();
    let tunnel = load::run(tunnel_req, connections, total, max).await?;
    let cpu = setup.cpu().saturating_sub(cpu_before);
    let cpu_per_request = cpu / (tunnel.requests.max(1) as u32);
    if direct.errors + tunnel.errors > 0 {
        eprintln!(
            "{name}: {} direct and {} tunnel requests failed",
            direct.errors, tunnel.errors
        );
    }
    Ok(Row {
        name,
        direct,
        tunnel,
        cpu_per_request,
    })
}

/// 10,000 idle clients kept alive and a trickle of webhooks for `length`:
/// does the relay's memory stay flat?
async fn soak(setup: &Setup, length: Duration) -> anyhow::Result<bool> {
    let idle_count = 10_000;
    let idle = idle::open(setup.relay, idle_count).await?;
    let (headers, body) = webhook(2048)?;
    let request = Request {
        addr: setup.relay,
        path: "/bench/hook".into(),
        headers,
        body,
    };
    println!(
        "soak: {idle_count} idle clients, 2,000 webhooks per interval, {:.0} s",
        length.as_secs_f64()
    );
    let result = soak::run(&setup.relay_proc, &idle, request, length).await?;
    drop(idle);
    println!();
    println!("| time | relay RSS | idle clients connected | webhooks delivered | failed |");
    println!("|---|---|---|---|---|");
    for s in &result.samples {
        println!(
            "| {:.0} s | {} KiB | {} | {} | {} |",
            s.at.as_secs_f64(),
            s.rss_kib,
            s.idle_alive,
            s.delivered,
            s.errors
        );
    }
    println!();
    let met = result.flat(idle_count);
    println!(
        "{} relay RSS flat over the soak, every idle client kept (at most {:.0}% above the first sample): {:+.1}%",
        if met { "met   " } else { "MISSED" },
        soak::FLAT_GROWTH * 100.0,
        result.growth() * 100.0
    );
    Ok(met)
}

/// Prints the processes' ids, then drives one workload through the tunnel
/// for 20 s: attach `perf record -p` meanwhile.
async fn profile(setup: &Setup, which: Profile) -> anyhow::Result<bool> {
    let (size, connections) = match which {
        Profile::Small => (2048, 32),
        Profile::Latency => (2048, 1),
        Profile::Large => (1 << 20, 1),
    };
    let (headers, body) = webhook(size)?;
    let request = Request {
        addr: setup.relay,
        path: "/bench/hook".into(),
        headers,
        body,
    };
    load::run(request.clone(), 4, 50, Duration::from_secs(5)).await?;
    println!(
        "relay pid {}, client pid {}: {connections} connections of {size} bytes for 20 s",
        setup.relay_proc.child.id(),
        setup.clients[0].child.id()
    );
    let (relay_before, client_before) = (setup.relay_proc.cpu(), setup.clients[0].cpu());
    let stats = load::run(request, connections, u64::MAX, Duration::from_secs(20)).await?;
    let requests = stats.requests.max(1) as u32;
    let relay = setup.relay_proc.cpu().saturating_sub(relay_before) / requests;
    let client = setup.clients[0].cpu().saturating_sub(client_before) / requests;
    println!(
        "{:.0} req/s, p50 {}, relay+client CPU {} per request (relay {}, client {}), {} errors",
        stats.per_second(),
        us(stats.percentile(0.5)),
        us(relay + client),
        us(relay),
        us(client),
        stats.errors
    );
    Ok(true)
}

async fn bench(options: &Options) -> anyhow::Result<bool> {
    let mut setup = Setup::start()?;
    let dir = setup.dir.clone();
    setup.add_client()?;
    if let Some(length) = options.soak {
        let met = soak(&setup, length).await?;
        drop(setup);
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(met || !options.check);
    }

    if let Some(which) = options.profile {
        let result = profile(&setup, which).await;
        drop(setup);
        let _ = std::fs::remove_dir_all(&dir);
        return result;
    }

    let q = options.quick;
    let scale = |full: u64, quick: u64| if q { quick } else { full };
    let long = if q {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(10)
    };
    let mut rows = vec![
        workload(
            &setup,
            "1 connection, 2 KiB",
            1,
            scale(2000, 300),
            long,
            2048,
        )
        .await?,
        workload(
            &setup,
            "32 connections, 2 KiB",
            32,
            scale(50_000, 6000),
            long,
            2048,
        )
        .await?,
        workload(
            &setup,
            "1 connection, 1 MiB",
            1,
            scale(200, 30),
            long * 3,
            1 << 20,
        )
        .await?,
    ];
    let rss_relay = setup.relay_proc.rss_kib();
    let rss_client = setup.clients[0].rss_kib();
    setup.add_client()?;
    rows.push(
        workload(
            &setup,
            "fan-out: 2 clients, 32 conns",
            32,
            scale(20_000, 3000),
            long,
            2048,
        )
        .await?,
    );

    let idle_count = if q { 1000 } else { 10_000 };
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
    for r in &rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.2}x | {} | {} | {:.2}x | {} | {} |",
            r.name,
            r.direct.per_second(),
            r.tunnel.per_second(),
            r.tunnel.per_second() / r.direct.per_second().max(1e-9),
            us(r.direct.percentile(0.5)),
            us(r.tunnel.percentile(0.5)),
            r.tunnel.percentile(0.5).as_secs_f64()
                / r.direct.percentile(0.5).as_secs_f64().max(1e-12),
            us(r.tunnel.percentile(0.99)),
            us(r.cpu_per_request),
        );
    }
    println!();
    println!(
        "relay RSS {} KiB, client RSS {} KiB (after the single-client workloads)",
        rss_relay, rss_client
    );
    println!("relay RSS per idle connected client: {per_idle:.1} KiB ({idle_count} clients)");

    let ratio = |r: &Row| r.tunnel.per_second() / r.direct.per_second().max(1e-9);
    let latency = rows[0].tunnel.percentile(0.5).as_secs_f64()
        / rows[0].direct.percentile(0.5).as_secs_f64().max(1e-12);
    let targets = [
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
            rows[1].cpu_per_request <= Duration::from_micros(40),
            us(rows[1].cpu_per_request),
        ),
        (
            "relay RSS <= 64 KiB per idle client",
            per_idle <= 64.0,
            format!("{per_idle:.1} KiB"),
        ),
    ];
    println!();
    let mut all = true;
    for (what, met, value) in &targets {
        println!("{} {what}: {value}", if *met { "met   " } else { "MISSED" });
        all &= met;
    }
    drop(setup);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(all || !options.check)
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
    let profile = args.iter().find_map(|a| match a.as_str() {
        "--profile" => Some(Profile::Small),
        "--profile=latency" => Some(Profile::Latency),
        "--profile=large" => Some(Profile::Large),
        _ => None,
    });
    if args.iter().any(|a| a.starts_with("--profile")) && profile.is_none() {
        eprintln!("hookhole-bench: --profile takes latency or large, e.g. --profile=large");
        return std::process::ExitCode::from(2);
    }
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
        check: args.iter().any(|a| a == "--check"),
        soak: soak.map(|m| Duration::from_secs_f64(m * 60.0)),
        profile,
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
