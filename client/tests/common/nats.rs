//! A real `nats-server` with JetStream for cluster tests, and relay
//! processes that join it.
//!
//! The server is found on PATH (or at `$NATS_SERVER`). Without it, cluster
//! tests are skipped with a message, except in CI (`CI` set), where they
//! fail: CI installs it and the tests must run.

use super::process::{Proc, hookhole, numbered};
use super::{TestTarget, WAIT, within};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    /// Flags beyond JetStream's: `--user`, `--pass`...
    flags: Vec<String>,
    jetstream: bool,
    /// JetStream's files: kept across a restart.
    store: PathBuf,
    _dir: tempfile::TempDir,
}

fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    })
}

impl Nats {
    /// Starts a server on a free port; `None` (the test then returns) when
    /// none is installed outside CI.
    pub async fn start() -> Option<Nats> {
        Self::start_with(true, &[]).await
    }

    /// A server with or without JetStream, with extra flags.
    pub async fn start_with(jetstream: bool, flags: &[&str]) -> Option<Nats> {
        if binary().is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is not installed: CI must install it (apt-get install nats-server)"
            );
            eprintln!("skipping: nats-server is not installed (apt-get install nats-server)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("jetstream");
        let mut nats = Nats {
            child: None,
            port: 0,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            jetstream,
            store,
            _dir: dir,
        };
        nats.run().await;
        Some(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The URL with credentials in it.
    pub fn url_as(&self, user: &str, pass: &str) -> String {
        format!("nats://{user}:{pass}@127.0.0.1:{}", self.port)
    }

    /// Starts the server: on a port of its choosing the first time, on the
    /// same port after a restart (relays reconnect to it).
    async fn run(&mut self) {
        let ports = self._dir.path().join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        std::fs::create_dir_all(&ports).unwrap();
        let port = if self.port == 0 {
            "-1".to_string()
        } else {
            self.port.to_string()
        };
        let mut cmd = Command::new(binary().unwrap());
        if self.jetstream {
            cmd.arg("-js");
        }
        cmd.args(["-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(&self.store)
            .args(&self.flags)
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child = cmd.spawn().expect("start nats-server");
        // The ports file is written once the server accepts clients.
        self.port = within("nats-server to listen", wait_for_port(&ports)).await;
        self.child = Some(child);
    }

    /// Stops the server at once (SIGKILL): relays see the link drop.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Starts it again on the same port, with what JetStream had stored.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.run().await;
    }
}

async fn wait_for_port(dir: &Path) -> u16 {
    loop {
        if let Some(port) = std::fs::read_dir(dir).unwrap().flatten().find_map(|entry| {
            let text = std::fs::read_to_string(entry.path()).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            let url = json["nats"][0].as_str()?;
            url.rsplit(':').next()?.parse().ok()
        }) {
            return port;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A relay process in the cluster.
pub struct ClusterRelay {
    pub proc: Proc,
    pub url: String,
    pub node: String,
}

impl ClusterRelay {
    /// `hookhole relay --nats URL --node NODE` on a free port, with a data
    /// dir of its own under `dir`, and `extra` flags.
    pub async fn start(dir: &Path, nats: &Nats, node: &str, extra: &[&str]) -> ClusterRelay {
        // Boxed: a test that starts several keeps its own future small
        // (test threads have small stacks).
        Box::pin(Self::start_on(dir, &nats.url(), node, "127.0.0.1:0", extra)).await
    }

    /// Relays "a" and "b" with no extra flags: the usual two-node cluster.
    pub async fn pair(dir: &Path, nats: &Nats) -> (ClusterRelay, ClusterRelay) {
        let a = Self::start(dir, nats, "a", &[]).await;
        (a, Self::start(dir, nats, "b", &[]).await)
    }

    /// The same while NATS is away (or not usable): waits for it to
    /// listen only.
    pub async fn start_unlinked(dir: &Path, nats: &str, node: &str) -> ClusterRelay {
        Self::spawn(dir, nats, node, "127.0.0.1:0", &[]).await
    }

    pub async fn start_on(
        dir: &Path,
        nats: &str,
        node: &str,
        listen: &str,
        extra: &[&str],
    ) -> ClusterRelay {
        let relay = Self::spawn(dir, nats, node, listen, extra).await;
        relay.until_linked().await;
        relay
    }

    async fn spawn(
        dir: &Path,
        nats: &str,
        node: &str,
        listen: &str,
        extra: &[&str],
    ) -> ClusterRelay {
        let data = dir.join(format!("relay-{node}"));
        let mut cmd = hookhole(dir);
        cmd.args(["relay", "--listen", listen, "--nats", nats, "--node", node])
            .arg("--data-dir")
            .arg(&data)
            .args(extra);
        // Its log goes to a file beside its data (a pipe nobody reads
        // would fill and stall it), for a failing test to point at.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("relay-{node}.log")))
            .unwrap();
        cmd.env("RUST_LOG", "hookhole_relay=debug").stderr(log);
        let mut proc = Proc::spawn_with_stderr(cmd);
        let url = proc.wait_event("listening").await["public_url"]
            .as_str()
            .unwrap()
            .to_string();
        ClusterRelay {
            proc,
            url,
            node: node.to_string(),
        }
    }

    /// The relay's health report.
    pub async fn health(&self) -> serde_json::Value {
        super::send("GET", &format!("{}/_hookhole/health", self.url), &[], b"")
            .await
            .json()
    }

    /// Waits until the relay's health report (status and JSON) satisfies
    /// `ready`, polling; returns that report.
    pub async fn until_health(
        &self,
        what: &str,
        ready: impl Fn(u16, &serde_json::Value) -> bool,
    ) -> serde_json::Value {
        within(what, async {
            loop {
                let sent =
                    super::send("GET", &format!("{}/_hookhole/health", self.url), &[], b"").await;
                let report = sent.json();
                if ready(sent.status, &report) {
                    return report;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// Waits until the relay reports its NATS link up.
    pub async fn until_linked(&self) {
        self.until_health("the relay's NATS link", |_, report| {
            report["cluster"]["connected"] == true
        })
        .await;
    }

    /// The value of one metric line (`name value`), 0 when absent.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = super::send("GET", &format!("{}/_hookhole/metrics", self.url), &[], b"")
            .await
            .body;
        String::from_utf8_lossy(&text)
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} "))?.parse().ok())
            .unwrap_or(0)
    }
}

/// The last lines of every relay's log under `dir`, for a failure message.
pub fn relay_logs(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("relay-") && name.ends_with(".log") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            out.push_str(&format!("== {name}\n{tail}\n"));
        }
    }
    out
}

// ------------------------------------------------- clients and senders

/// Posts `body` to the first of `relays` that takes the connection, the way
/// a load balancer in front of the cluster would; the status the sender
/// was told, or `None` when the request got no answer (its node died).
pub async fn post_to_any(relays: &[String], channel: &str, body: Vec<u8>) -> Option<u16> {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    for relay in relays {
        let addr = relay.trim_start_matches("http://");
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            continue;
        }
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
        let request = http::Request::post(format!("{relay}/{channel}/hook"))
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .unwrap();
        return match tokio::time::timeout(WAIT, client.request(request)).await {
            Ok(Ok(response)) => Some(response.status().as_u16()),
            _ => None,
        };
    }
    None
}

/// Webhooks numbered from 0, sent by four senders at once to whichever of
/// `up` take connections now, until `stop`; what each sender was told.
pub fn steady_stream(
    up: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    channel: &'static str,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<std::collections::BTreeMap<usize, Option<u16>>> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (up, stop, next) = (up.clone(), stop.clone(), next.clone());
            tokio::spawn(async move {
                let mut told = std::collections::BTreeMap::new();
                while !stop.is_cancelled() {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let relays = up.lock().unwrap().clone();
                    told.insert(n, post_to_any(&relays, channel, numbered(n)).await);
                }
                told
            })
        })
        .collect();
    tokio::spawn(async move {
        let mut told = std::collections::BTreeMap::new();
        for worker in workers {
            told.extend(worker.await.unwrap());
        }
        told
    })
}

/// What each sender was told, and what the local server and the history
/// saw: every webhook acknowledged with 2xx (or 202) arrived exactly once,
/// and none arrived twice.
pub async fn nothing_lost_or_doubled(
    dir: &std::path::Path,
    told: &std::collections::BTreeMap<usize, Option<u16>>,
    target: &mut TestTarget,
) {
    let acknowledged: Vec<usize> = told
        .iter()
        .filter(|(_, status)| status.is_some_and(|s| (200..300).contains(&s)))
        .map(|(n, _)| *n)
        .collect();
    assert!(acknowledged.len() > told.len() / 2, "{told:?}");
    let mut seen = std::collections::BTreeMap::<usize, usize>::new();
    let arrived = tokio::time::timeout(WAIT, async {
        while !acknowledged.iter().all(|n| seen.contains_key(n)) {
            let request = target.requests.recv().await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            *seen
                .entry(body["n"].as_u64().unwrap() as usize)
                .or_default() += 1;
        }
    })
    .await;
    if arrived.is_err() {
        let missing: Vec<_> = acknowledged
            .iter()
            .filter(|n| !seen.contains_key(n))
            .collect();
        panic!(
            "acknowledged but never delivered: {missing:?}; the senders were told {told:?}\n{}",
            relay_logs(dir)
        );
    }
    // Anything still on its way (a stored copy sent again) arrives now.
    while let Ok(request) = target.requests.try_recv() {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        *seen
            .entry(body["n"].as_u64().unwrap() as usize)
            .or_default() += 1;
    }
    for (n, count) in &seen {
        assert_eq!(
            *count, 1,
            "webhook {n} reached the local server {count} times"
        );
    }
    let history = super::process::history_counts(dir).await;
    for n in &acknowledged {
        assert_eq!(
            history.get(n),
            Some(&1),
            "webhook {n} in the history: {history:?}"
        );
    }
    assert!(history.values().all(|c| *c == 1), "{history:?}");
}
