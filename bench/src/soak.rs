//! The soak: idle clients kept alive and a steady trickle of webhooks for
//! minutes, sampling the relay's memory to see whether it stays flat.

use crate::idle::{self, Idle};
use crate::load::{self, Request};
use crate::procs::Proc;
use crate::setup::Setup;
use crate::webhook;
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

/// 10,000 idle clients kept alive and a trickle of webhooks for `length`,
/// printed as a table: does the relay's memory stay flat?
pub async fn report(setup: &Setup, length: Duration) -> anyhow::Result<bool> {
    let idle_count = 10_000;
    let idle = idle::open(setup.relay, idle_count).await?;
    let request = webhook::through(setup.relay, 2048)?;
    println!(
        "soak: {idle_count} idle clients, 2,000 webhooks per interval, {:.0} s",
        length.as_secs_f64()
    );
    let result = run(&setup.relay_proc, &idle, request, length).await?;
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
        FLAT_GROWTH * 100.0,
        result.growth() * 100.0
    );
    Ok(met)
}
