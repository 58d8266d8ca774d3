//! The load generator: N keep-alive HTTP/1.1 connections, each sending
//! requests one after another, recording every latency.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Request {
    pub addr: SocketAddr,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Sorted latencies.
    pub latencies: Vec<Duration>,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i]
    }
}

/// Sends `total` requests over `connections` connections (or stops at
/// `max_time`), and measures.
pub async fn run(
    request: Request,
    connections: usize,
    total: u64,
    max_time: Duration,
) -> anyhow::Result<Stats> {
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + max_time;
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (request, next) = (request.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            worker(&request, &next, total, deadline).await
        }));
    }
    let mut stats = Stats::default();
    for worker in workers {
        let (latencies, errors) = worker.await??;
        stats.requests += latencies.len() as u64;
        stats.errors += errors;
        stats.latencies.extend(latencies);
    }
    stats.elapsed = started.elapsed();
    stats.latencies.sort_unstable();
    Ok(stats)
}

async fn worker(
    request: &Request,
    next: &AtomicU64,
    total: u64,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let stream = tokio::net::TcpStream::connect(request.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let mut errors = 0;
    while next.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
        let req = build(request)?;
        let sent = Instant::now();
        match sender.send_request(req).await {
            Ok(response) => {
                let ok = response.status().is_success();
                response.into_body().collect().await?;
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    Ok((latencies, errors))
}

/// Sends `request` once, on a connection of its own: the answer's status.
pub async fn status(request: &Request) -> anyhow::Result<http::StatusCode> {
    let stream = tokio::net::TcpStream::connect(request.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = build(request)?;
    let response = sender.send_request(req).await?;
    let status = response.status();
    response.into_body().collect().await?;
    Ok(status)
}

fn build(request: &Request) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(&request.path)
        .header("host", request.addr.to_string());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    Ok(builder.body(Full::new(request.body.clone()))?)
}
