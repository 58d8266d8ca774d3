//! bore (github.com/ekzhang/bore), a raw TCP tunnel, beside hookhole
//! (`--peers bore`): the practical limit for a tunnel on one machine, since
//! it parses no HTTP and saves nothing (issue 18's targets are ratios to it).
//!
//! `bore server` and `bore local` run as two processes on loopback in front
//! of the same target server as hookhole, and are driven with the same
//! workloads and the same signed webhooks (bore forwards bytes, it does not
//! care). Their CPU is read like the relay's and the client's.
//!
//! bore is installed with `cargo install` into the benchmark's own tool
//! directory (`bench-tools` in the target directory), once, and reused; when
//! that fails (no network), or bore's fixed control port is taken, the run
//! goes on without it after one line saying why.

use crate::load::Stats;
use crate::procs::{Proc, spawn_with};
use crate::us;
use crate::webhook;
use crate::workload::{self, Measured, Workload};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The bore release measured: pinned, so that figures of different days
/// compare and the log line its public port is read from stays the same.
pub const VERSION: &str = "0.6.0";

/// bore's control port: a constant in bore (no flag chooses it), so only
/// one bore server can run on a machine.
const CONTROL_PORT: u16 = 7835;

/// bore logs with `tracing` at info whatever `RUST_LOG` says; no colours,
/// so that its lines are plain text.
const ENV: [(&str, &str); 2] = [("RUST_LOG", "info"), ("NO_COLOR", "1")];

/// What `bore local` logs once the server has given it a public port:
/// `... INFO bore_cli::client: listening at 127.0.0.1:PORT`.
const LISTENING: &str = "listening at ";

/// A bore server and client in front of a local target.
pub struct Bore {
    /// Where the tunnel takes connections (the server's public port).
    pub addr: SocketAddr,
    // Dropped (killed) in this order: the client, then the server.
    local: Proc,
    server: Proc,
}

impl Bore {
    /// Installs bore when missing and starts it in front of `target`;
    /// `None` after one line saying why not (not installed and no network,
    /// its control port taken, it did not start).
    pub fn start_or_skip(target: SocketAddr) -> Option<Bore> {
        match binary().and_then(|binary| start(&binary, target)) {
            Ok(bore) => Some(bore),
            Err(why) => {
                println!("bore: skipped: {why}");
                None
            }
        }
    }

    /// `w` through bore, measured like hookhole's relay and client: the
    /// server's CPU, then the client's.
    pub async fn measure(&self, w: &Workload) -> anyhow::Result<Measured> {
        let request = webhook::request(self.addr, "/hook", w.size)?;
        let measured = workload::measure(request, &[&self.server, &self.local], w).await?;
        if measured.stats.errors > 0 {
            eprintln!(
                "bore, {}: {} requests failed",
                w.name, measured.stats.errors
            );
        }
        Ok(measured)
    }
}

/// bore's part in a run.
pub enum Beside {
    /// Not asked for (no `--peers bore`).
    NotAsked,
    /// Asked for, but it could not be installed or started.
    Skipped,
    /// The standard workloads through bore, in their order.
    Measured(Vec<Measured>),
}

/// A target line: what, whether met, the figure.
pub type Target = (&'static str, bool, String);

impl Beside {
    /// bore's figures for the standard workload at `index`, if measured.
    pub fn row(&self, index: usize) -> Option<&Measured> {
        match self {
            Beside::Measured(rows) => rows.get(index),
            _ => None,
        }
    }

    /// The targets relative to bore (see [`targets`]), or why there are
    /// none, in one line.
    pub fn targets(&self, hookhole: &[&Measured]) -> Result<Vec<Target>, &'static str> {
        match self {
            Beside::Measured(bore) => Ok(targets(hookhole, bore)),
            Beside::Skipped => Err("not measured (bore was skipped, see above)"),
            Beside::NotAsked => Err("run with --peers bore (installs bore once)"),
        }
    }
}

/// Issue 18's targets as ratios to bore. `hookhole` and `bore` hold the
/// standard workloads' figures in [`workload::standard`]'s order: 1
/// connection of 2 KiB, 32 connections of 2 KiB, 1 connection of 1 MiB.
fn targets(hookhole: &[&Measured], bore: &[Measured]) -> Vec<Target> {
    let ([latency, throughput, large, ..], [bore_latency, bore_throughput, bore_large, ..]) =
        (hookhole, bore)
    else {
        return Vec::new();
    };
    let rate = |m: &Measured| m.stats.per_second();
    let quantile = |stats: &Stats, p: f64| stats.percentile(p);
    let over = |ours: f64, theirs: f64| ours / theirs.max(1e-12);
    let throughput_ratio = over(rate(throughput), rate(bore_throughput));
    let p50 = [latency, bore_latency].map(|m| quantile(&m.stats, 0.5));
    let p50_ratio = over(p50[0].as_secs_f64(), p50[1].as_secs_f64());
    let p99 = [throughput, bore_throughput].map(|m| quantile(&m.stats, 0.99));
    let p99_ratio = over(p99[0].as_secs_f64(), p99[1].as_secs_f64());
    let large_ratio = over(rate(large), rate(bore_large));
    vec![
        (
            "32-connection throughput >= 1.0x bore's",
            throughput_ratio >= 1.0,
            format!(
                "{throughput_ratio:.2}x ({:.0} vs {:.0} req/s)",
                rate(throughput),
                rate(bore_throughput)
            ),
        ),
        (
            "1-connection p50 latency <= 1.5x bore's",
            p50_ratio <= 1.5,
            format!("{p50_ratio:.2}x ({} vs {})", us(p50[0]), us(p50[1])),
        ),
        (
            "32-connection p99 latency <= 2x bore's",
            p99_ratio <= 2.0,
            format!("{p99_ratio:.2}x ({} vs {})", us(p99[0]), us(p99[1])),
        ),
        (
            "1 MiB bodies >= 5x bore's",
            large_ratio >= 5.0,
            format!(
                "{large_ratio:.2}x ({:.0} vs {:.0} req/s)",
                rate(large),
                rate(bore_large)
            ),
        ),
    ]
}

/// Where the benchmark keeps the tools it installs: `bench-tools` in the
/// target directory it runs from (`target/release/hookhole-bench`), so
/// nothing is installed system-wide and `cargo clean` removes it.
fn tool_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("no target directory above {}", exe.display()))?;
    Ok(target.join("bench-tools"))
}

/// bore's binary in the tool directory, installed first when missing.
fn binary() -> Result<PathBuf, String> {
    let root = tool_dir()?;
    let binary = root.join("bin").join("bore");
    if !binary.is_file() {
        install(&root)?;
    }
    Ok(binary)
}

/// `cargo install bore-cli` (the pinned version, its own lock file) into
/// `root`: a minute or two of building, once.
fn install(root: &Path) -> Result<(), String> {
    println!(
        "bore: installing bore-cli {VERSION} into {} (cargo install, once) ...",
        root.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["install", "bore-cli", "--version", VERSION, "--locked"])
        .args(["--quiet", "--color", "never", "--root"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    Err(format!(
        "cargo install bore-cli failed (no network?): {}",
        printable(last.trim())
    ))
}

/// `bore server` on loopback, then `bore local` forwarding its public port
/// to `target`, once the client reports that port.
fn start(binary: &Path, target: SocketAddr) -> Result<Bore, String> {
    // bore would fail with only "did not start": say which port is taken.
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, CONTROL_PORT)).map_err(|e| {
        format!("bore's control port 127.0.0.1:{CONTROL_PORT} (fixed in bore) is not free: {e}")
    })?;
    let server_args = ["server", "--bind-addr", "127.0.0.1"];
    let (server, _) = spawn_with(
        "bore server",
        binary,
        &server_args,
        &ENV,
        "server listening",
    )
    .map_err(|e| e.to_string())?;
    let (port, host) = (target.port().to_string(), target.ip().to_string());
    let local_args = ["local", &port, "--local-host", &host, "--to", "127.0.0.1"];
    let (local, line) = spawn_with("bore local", binary, &local_args, &ENV, LISTENING)
        .map_err(|e| e.to_string())?;
    let port = public_port(&line)
        .ok_or_else(|| format!("no port in bore local's line {:?}", printable(&line)))?;
    Ok(Bore {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        local,
        server,
    })
}

/// The public port in `bore local`'s "listening at HOST:PORT" line (colour
/// codes or not); `None` for anything else.
fn public_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once(LISTENING)?;
    let address = rest
        .split(|c: char| c.is_whitespace() || c.is_control())
        .next()?;
    let (_, port) = address.rsplit_once(':')?;
    port.parse().ok().filter(|&port| port != 0)
}

/// `text` without control characters (escape sequences lose their ESC),
/// at most 200 characters: output of other programs, for our terminal.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_public_port_is_read_from_bore_locals_listening_line() {
        let plain =
            "2026-12-06T08:41:41.123456Z  INFO bore_cli::client: listening at 127.0.0.1:40123";
        assert_eq!(public_port(plain), Some(40123));
        let coloured = "\x1b[2m2026-12-06T08:41:41Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mbore_cli::client\x1b[0m\x1b[2m:\x1b[0m listening at 127.0.0.1:5555\x1b[0m";
        assert_eq!(public_port(coloured), Some(5555));
        assert_eq!(public_port("listening at localhost:65535 "), Some(65535));
    }

    #[test]
    fn a_line_without_a_valid_port_gives_none() {
        for bad in [
            "INFO bore_cli::client: connected to server remote_port=40123",
            "listening at 127.0.0.1",
            "listening at 127.0.0.1:",
            "listening at 127.0.0.1:0",
            "listening at 127.0.0.1:65536",
            "listening at 127.0.0.1:-1",
            "listening at 127.0.0.1:12ab",
            "",
        ] {
            assert_eq!(public_port(bad), None, "{bad:?}");
        }
    }

    fn measured(requests: u64, seconds: u64, latency_us: [u64; 2]) -> Measured {
        // 98 requests at the first latency, two at the second: p50 is the
        // first, p99 the second.
        let mut latencies = vec![Duration::from_micros(latency_us[0]); 98];
        latencies.extend([Duration::from_micros(latency_us[1]); 2]);
        Measured {
            stats: Stats {
                requests,
                errors: 0,
                elapsed: Duration::from_secs(seconds),
                latencies,
            },
            cpu: vec![],
        }
    }

    #[test]
    fn each_target_is_a_ratio_to_bore_met_at_its_bound() {
        let bore = [
            measured(100, 1, [200, 400]),
            measured(30_000, 1, [1000, 4000]),
            measured(40, 1, [20_000, 30_000]),
        ];
        let at_bounds = [
            measured(100, 1, [300, 400]),
            measured(30_000, 1, [1000, 8000]),
            measured(200, 1, [5000, 6000]),
        ];
        let verdicts = |ours: &[Measured; 3]| -> Vec<bool> {
            let ours: Vec<&Measured> = ours.iter().collect();
            targets(&ours, &bore).iter().map(|t| t.1).collect()
        };
        assert_eq!(verdicts(&at_bounds), [true; 4]);
        let beyond = [
            measured(100, 1, [301, 400]),
            measured(29_999, 1, [1000, 8001]),
            measured(199, 1, [5000, 6000]),
        ];
        assert_eq!(verdicts(&beyond), [false; 4]);
        let values: Vec<String> = targets(&at_bounds.iter().collect::<Vec<_>>(), &bore)
            .into_iter()
            .map(|t| t.2)
            .collect();
        assert_eq!(values[0], "1.00x (30000 vs 30000 req/s)");
        assert_eq!(values[1], "1.50x (300 µs vs 200 µs)");
    }
}
