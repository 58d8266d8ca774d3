//! The soak: idle clients kept alive and a steady trickle of webhooks for
//! minutes, sampling the relay's memory to see whether it stays flat.

use crate::idle::Idle;
use crate::load::{self, Request};
use crate::procs::Proc;
use std::time::{Duration, Instant};

/// Allowed growth from the first sample (taken once the clients are
/// connected and a first batch has passed) to the largest later one.
pub const FLAT_GROWTH: f64 = 0.10;

pub struct Sample {
    pub at: Duration,
    pub rss_kib: u64,
    pub delivered: u64,
    pub errors: u64,
    pub idle_alive: usize,
}

pub struct Soak {
    pub samples: Vec<Sample>,
}

impl Soak {
    /// Largest sample after the first, relative to the first.
    pub fn growth(&self) -> f64 {
        let Some(first) = self.samples.first() else {
            return 0.0;
        };
        let max = self.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        max as f64 / first.rss_kib.max(1) as f64 - 1.0
    }

    /// Flat, with every idle client still connected (a relay that dropped
    /// them would look lean for the wrong reason).
    pub fn flat(&self, idle_count: usize) -> bool {
        self.growth() <= FLAT_GROWTH && self.samples.iter().all(|s| s.idle_alive == idle_count)
    }
}

/// Runs for `length`, sending a batch of webhooks through the tunnel and
/// reading the relay's RSS once per interval (twenty intervals).
pub async fn run(
    relay: &Proc,
    idle: &Idle,
    request: Request,
    length: Duration,
) -> anyhow::Result<Soak> {
    let interval = length / 20;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut delivered = 0;
    let mut errors = 0;
    while started.elapsed() < length {
        let tick = Instant::now();
        let batch = load::run(request.clone(), 8, 2000, interval).await?;
        delivered += batch.requests;
        errors += batch.errors;
        if let Some(rest) = interval.checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        samples.push(Sample {
            at: started.elapsed(),
            rss_kib: relay.rss_kib(),
            delivered,
            errors,
            idle_alive: idle.alive(),
        });
    }
    Ok(Soak { samples })
}
