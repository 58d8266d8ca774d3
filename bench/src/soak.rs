//! The soak: idle clients kept alive and a steady 5,000 webhooks a second
//! through the tunnel for minutes, sampling the relay's and the client's
//! memory to see whether they stay flat while the history keeps everything.

use crate::idle::{self, Idle};
use crate::load::{self, Request};
use crate::procs::Proc;
use crate::setup::Setup;
use crate::webhook;
use std::time::{Duration, Instant};

/// Allowed growth from the baseline sample to the largest later one.
pub const FLAT_GROWTH: f64 = 0.10;

/// Webhooks sent through the tunnel per second, in one batch per second.
pub const RATE: u64 = 5_000;

/// Connections the batches are sent over.
const CONNECTIONS: usize = 16;

/// Idle clients connected to the relay for the whole soak.
const IDLE_CLIENTS: usize = 10_000;

/// Samples taken over the soak.
const SAMPLES: u32 = 20;

/// Samples before the baseline: the first minute of a 10-minute soak, while
/// caches (SQLite's pages, the allocator's arenas) fill to their bounds.
const WARM_UP_SAMPLES: usize = 2;

pub struct Sample {
    pub at: Duration,
    pub relay_kib: u64,
    pub client_kib: u64,
    pub delivered: u64,
    pub errors: u64,
    pub idle_alive: usize,
}

pub struct Soak {
    pub samples: Vec<Sample>,
    /// The client's largest resident size over the whole soak.
    pub client_peak_kib: u64,
}

impl Soak {
    /// Largest sample after the baseline relative to the baseline (the
    /// first sample after the warm-up), for one process's figure.
    pub fn growth(&self, of: impl Fn(&Sample) -> u64) -> f64 {
        let mut after_warm_up = self
            .samples
            .iter()
            .skip(WARM_UP_SAMPLES.min(self.samples.len() - 1));
        let Some(baseline) = after_warm_up.next().map(&of) else {
            return 0.0;
        };
        let max = after_warm_up.map(&of).max().unwrap_or(baseline);
        max as f64 / baseline.max(1) as f64 - 1.0
    }

    /// Both flat, with every idle client still connected (a relay that
    /// dropped them would look lean for the wrong reason) and every webhook
    /// answered.
    pub fn flat(&self) -> bool {
        self.growth(|s| s.relay_kib) <= FLAT_GROWTH
            && self.growth(|s| s.client_kib) <= FLAT_GROWTH
            && self
                .samples
                .iter()
                .all(|s| s.idle_alive == IDLE_CLIENTS && s.errors == 0)
    }
}

/// Runs for `length`, sending [`RATE`] webhooks through the tunnel every
/// second, and reading the relay's and the client's RSS [`SAMPLES`] times.
pub async fn run(
    relay: &Proc,
    client: &Proc,
    idle: &Idle,
    request: Request,
    length: Duration,
) -> anyhow::Result<Soak> {
    let interval = length / SAMPLES;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut delivered = 0;
    let mut errors = 0;
    let mut next_sample = interval;
    while started.elapsed() < length {
        let second = Instant::now();
        let batch = load::run(request.clone(), CONNECTIONS, RATE, Duration::from_secs(1)).await?;
        delivered += batch.requests;
        errors += batch.errors;
        if let Some(rest) = Duration::from_secs(1).checked_sub(second.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        if started.elapsed() >= next_sample {
            next_sample += interval;
            samples.push(Sample {
                at: started.elapsed(),
                relay_kib: relay.rss_kib(),
                client_kib: client.rss_kib(),
                delivered,
                errors,
                idle_alive: idle.alive(),
            });
        }
    }
    Ok(Soak {
        samples,
        client_peak_kib: client.peak_rss_kib(),
    })
}

/// 10,000 idle clients kept alive and 5,000 webhooks a second for
/// `length`, printed as a table: do the relay's and the client's memory
/// stay flat?
pub async fn report(setup: &Setup, length: Duration) -> anyhow::Result<bool> {
    let idle = idle::open(setup.relay, IDLE_CLIENTS).await?;
    let request = webhook::through(setup.relay, 2048)?;
    let client = setup
        .clients
        .first()
        .ok_or_else(|| anyhow::anyhow!("the soak needs a client"))?;
    println!(
        "soak: {IDLE_CLIENTS} idle clients, {RATE} webhooks a second through the tunnel, the client keeping every one, {:.0} s",
        length.as_secs_f64()
    );
    let result = run(&setup.relay_proc, client, &idle, request, length).await?;
    drop(idle);
    println!();
    println!(
        "| time | relay RSS | client RSS | idle clients connected | webhooks delivered | failed |"
    );
    println!("|---|---|---|---|---|---|");
    for s in &result.samples {
        println!(
            "| {:.0} s | {} KiB | {} KiB | {} | {} | {} |",
            s.at.as_secs_f64(),
            s.relay_kib,
            s.client_kib,
            s.idle_alive,
            s.delivered,
            s.errors
        );
    }
    println!();
    if let Some(last) = result.samples.last() {
        println!(
            "client peak RSS: {} KiB; {:.0} webhooks a second on average",
            result.client_peak_kib,
            last.delivered as f64 / last.at.as_secs_f64()
        );
    }
    let met = result.flat();
    println!(
        "{} relay and client RSS flat over the soak (at most {:.0}% above the sample at {:.0} s), every idle client kept, every webhook answered: relay {:+.1}%, client {:+.1}%",
        if met { "met   " } else { "MISSED" },
        FLAT_GROWTH * 100.0,
        result
            .samples
            .get(WARM_UP_SAMPLES)
            .map_or(0.0, |s| s.at.as_secs_f64()),
        result.growth(|s| s.relay_kib) * 100.0,
        result.growth(|s| s.client_kib) * 100.0,
    );
    Ok(met)
}
