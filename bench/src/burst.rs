//! The offline buffer's burst: webhooks to a channel no client listens on,
//! each answered `202` once the relay's buffer has stored it.

use crate::procs::Proc;
use crate::webhook;
use crate::workload::{self, Measured, Workload};
use std::net::SocketAddr;
use std::time::Duration;

/// A channel no client of the benchmark listens on.
const OFFLINE_CHANNEL: &str = "bench-offline";

/// Sends the burst to `relay` and measures the relay alone.
pub async fn measure(
    relay: SocketAddr,
    relay_proc: &Proc,
    quick: bool,
) -> anyhow::Result<Measured> {
    let request = webhook::request(relay, &format!("/{OFFLINE_CHANNEL}/hook"), 2048)?;
    let burst = Workload {
        name: "offline buffer burst",
        connections: 32,
        total: if quick { 3000 } else { 20_000 },
        max: Duration::from_secs(10),
        size: 2048,
    };
    let measured = workload::measure(request, &[relay_proc], &burst).await?;
    anyhow::ensure!(
        measured.stats.errors == 0,
        "offline buffer burst: {} of {} webhooks were not stored",
        measured.stats.errors,
        measured.stats.requests + measured.stats.errors
    );
    Ok(measured)
}

/// One line for the report.
pub fn describe(m: &Measured) -> String {
    format!(
        "offline buffer burst (32 connections, 2 KiB, a channel with no client: each answered 202 once stored): {:.0} req/s, p50 {} µs, p99 {} µs, relay CPU {} µs per delivery",
        m.stats.per_second(),
        m.stats.percentile(0.5).as_micros(),
        m.stats.percentile(0.99).as_micros(),
        m.cpu_total().as_micros()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_offline_channel_is_not_the_clients() {
        assert_ne!(super::OFFLINE_CHANNEL, crate::setup::CHANNEL);
    }
}
