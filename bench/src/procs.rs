//! The processes under test: started from the release `hookhole` binary,
//! measured through `/proc` (resident memory, CPU time), killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Proc {
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release `hookhole` binary next to this benchmark, built if missing,
/// or the one `HOOKHOLE_BENCH_BINARY` names (to compare two builds without
/// rebuilding between runs).
pub fn hookhole_binary() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("HOOKHOLE_BENCH_BINARY") {
        let binary = PathBuf::from(binary);
        anyhow::ensure!(binary.exists(), "{} not found", binary.display());
        return Ok(binary);
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", exe.display()))?;
    let binary = dir.join("hookhole");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the release hookhole binary ...");
    // The workspace this benchmark was built from, wherever it is run.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--quiet", "-p", "hookhole"])
        .status()?;
    anyhow::ensure!(status.success(), "cargo build --release -p hookhole failed");
    anyhow::ensure!(
        binary.exists(),
        "{} not found after building",
        binary.display()
    );
    Ok(binary)
}

/// Spawns `program args...` and returns it once a stdout line contains
/// `ready` (a JSON event), with that line.
pub fn spawn(
    name: &'static str,
    program: &Path,
    args: &[&str],
    ready: &str,
) -> anyhow::Result<(Proc, String)> {
    spawn_with(name, program, args, &[("RUST_LOG", "warn")], ready)
}

/// As [`spawn`], with `env` set for the process (a peer's log settings).
pub fn spawn_with(
    name: &'static str,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    ready: &str,
) -> anyhow::Result<(Proc, String)> {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if line.contains(&ready) {
                let _ = tx.send(line);
                break;
            }
        }
        // Keep draining so the process never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| anyhow::anyhow!("{name} did not start"))?;
    Ok((Proc { child }, line))
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

impl Proc {
    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmRSS:")
    }

    /// The most resident memory so far (the kernel's high-water mark), in
    /// KiB: a peak between two samples shows here.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmHWM:")
    }

    /// CPU time used so far (user + system), from `/proc/PID/stat`.
    pub fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        // Linux reports clock ticks of 1/100 s (USER_HZ) on every common platform.
        Duration::from_millis(ticks * 10)
    }
}
