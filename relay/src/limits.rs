//! Per-channel limits: a token bucket on the webhook rate, and a cap on
//! deliveries waiting for an answer. One busy or hostile sender cannot
//! starve the relay's other channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Webhooks per second per channel, sustained.
    pub rate: f64,
    /// Webhooks a channel may send at once above the rate.
    pub burst: f64,
    /// Deliveries per channel waiting for an answer.
    pub in_flight: usize,
    /// Clients per channel.
    pub clients: usize,
    /// Header fields per request, and their total size in bytes (`431` beyond).
    pub headers: usize,
    pub header_bytes: usize,
    /// Named channels one token may claim.
    pub channels_per_token: usize,
    /// Open webhook connections (`503` beyond); as many again may be
    /// waiting to send their first request head (see `budget`).
    pub connections: usize,
    /// Open client links, relay-wide (`503` beyond).
    pub client_connections: usize,
    /// Time a sender has to send its request headers (slow-loris bound).
    pub header_timeout: std::time::Duration,
    /// How fast a webhook body must keep arriving (`408` otherwise).
    pub body_pace: crate::body::Pace,
}

/// The standalone relay's rate when `--rate-limit` is not given.
pub const DEFAULT_RATE: f64 = 1000.0;

impl Default for Limits {
    /// No rate limit (the embedded relay serves one developer's machine);
    /// `hookhole-relay` sets [`DEFAULT_RATE`] unless told otherwise.
    fn default() -> Self {
        Limits {
            rate: f64::INFINITY,
            burst: f64::INFINITY,
            in_flight: 1000,
            clients: 16,
            headers: 100,
            header_bytes: 64 * 1024,
            channels_per_token: 32,
            connections: 16_384,
            client_connections: 4096,
            header_timeout: std::time::Duration::from_secs(10),
            body_pace: crate::body::Pace::default(),
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
pub struct Gate {
    buckets: Mutex<HashMap<String, Bucket>>,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// Holds a channel's in-flight slot; frees it when dropped.
pub struct Slot {
    channel: String,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.channel) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.channel);
            }
        }
    }
}

impl Gate {
    /// Takes one token from the channel's bucket; `Err(wait)` when empty.
    pub fn rate(&self, channel: &str, limits: &Limits, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(channel.to_string()).or_insert(Bucket {
            tokens: limits.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limits.rate).min(limits.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / limits.rate.max(1e-9),
            ))
        }
    }

    /// Takes an in-flight slot for the channel, if one is free.
    pub fn slot(&self, channel: &str, limits: &Limits) -> Option<Slot> {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(channel.to_string()).or_insert(0);
        if *n >= limits.in_flight {
            return None;
        }
        *n += 1;
        Some(Slot {
            channel: channel.to_string(),
            in_flight: self.in_flight.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let gate = Gate::default();
        let limits = Limits {
            rate: 10.0,
            burst: 3.0,
            ..Limits::default()
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(gate.rate("a", &limits, t0).is_ok());
        }
        let wait = gate.rate("a", &limits, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(
            gate.rate("b", &limits, t0).is_ok(),
            "channels are independent"
        );
        assert!(
            gate.rate("a", &limits, t0 + Duration::from_millis(150))
                .is_ok(),
            "refilled"
        );
    }

    #[test]
    fn in_flight_slots_are_returned_on_drop() {
        let gate = Gate::default();
        let limits = Limits {
            in_flight: 2,
            ..Limits::default()
        };
        let a = gate.slot("c", &limits).unwrap();
        let _b = gate.slot("c", &limits).unwrap();
        assert!(gate.slot("c", &limits).is_none());
        drop(a);
        assert!(gate.slot("c", &limits).is_some());
    }
}
