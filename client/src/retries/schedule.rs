//! A provider's documented retry schedule as waits, and whether an answer
//! is retried: pure, so every case is tested without a clock.

use hookhole_shared::webhook::{RetryOn, RetryPolicy};
use std::time::Duration;

/// The first wait when a provider documents no waits and no count to
/// spread over its window: a minute, doubling after that (exponential
/// backoff, as Stripe and Square describe theirs).
const FIRST_WAIT_S: f64 = 60.0;

/// The most retries a schedule plays: Paddle documents 60; more would be a
/// preset's typo, not a provider.
const MAX_RETRIES: usize = 100;

/// The documented wait before each retry, in seconds, uncompressed:
///
/// - `delays_s` when listed (the last one repeated up to `attempts`);
/// - `attempts` and `within_s`: the retries spread over the window with
///   doubling waits (each twice the one before, together the window),
///   where a wait would pass an even share of what is left, the rest of
///   the window is shared evenly;
/// - `attempts` alone: doubling from a minute;
/// - `within_s` alone: doubling from a minute, as many as fit the window.
pub fn waits_s(policy: &RetryPolicy) -> Vec<f64> {
    let retries = policy
        .total_attempts()
        .map(|n| (n.saturating_sub(1) as usize).min(MAX_RETRIES));
    if let Some(&last) = policy.delays_s.last() {
        let mut waits: Vec<f64> = policy.delays_s.iter().map(|&s| s as f64).collect();
        waits.resize(retries.unwrap_or(waits.len()).max(waits.len()), last as f64);
        return waits;
    }
    match (retries, policy.within_s) {
        (Some(n), Some(window)) => spread(n, window as f64),
        (Some(n), None) => (0..n).map(|i| FIRST_WAIT_S * 2f64.powi(i as i32)).collect(),
        (None, Some(window)) => {
            let mut waits = Vec::new();
            let mut wait = FIRST_WAIT_S;
            while waits.len() < MAX_RETRIES && waits.iter().sum::<f64>() + wait <= window as f64 {
                waits.push(wait);
                wait *= 2.0;
            }
            waits
        }
        (None, None) => Vec::new(),
    }
}

/// `n` doubling waits that fill `window`, none past an even share of what
/// is left (so sixty retries over three days do not start at nanoseconds).
fn spread(n: usize, window: f64) -> Vec<f64> {
    let first = (window / (2f64.powi(n.min(1023) as i32) - 1.0)).max(1.0);
    let mut left = window;
    (0..n)
        .map(|i| {
            let wait = (first * 2f64.powi(i as i32)).min(left / (n - i) as f64);
            left -= wait;
            wait
        })
        .collect()
}

/// A documented wait compressed by `speed` (`--retry-speed`).
pub fn compressed(wait_s: f64, speed: u32) -> Duration {
    Duration::from_secs_f64((wait_s / f64::from(speed.max(1))).max(0.0))
}

/// What the provider makes of an attempt's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// A 2xx within its deadline: it stops.
    Satisfied,
    /// A failure it retries.
    Retried,
    /// A failure it does not retry (a 400 to a `server_errors` provider).
    Final,
}

/// How the provider hears an answer with `status` (`None`: none came),
/// answered `late` or not: a 2xx in time satisfies it (the client's one
/// rule, [`crate::delivery::Outcome::failed`], for an answer); anything
/// else is retried as its `on` rule says.
pub fn heard(status: Option<u16>, late: Option<bool>, on: RetryOn) -> Heard {
    let late = late == Some(true);
    if !late && status.is_some_and(|s| (200..300).contains(&s)) {
        return Heard::Satisfied;
    }
    match on.retries(status, late) {
        true => Heard::Retried,
        false => Heard::Final,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: Option<u32>, delays_s: &[u64], within_s: Option<u64>) -> RetryPolicy {
        RetryPolicy {
            attempts,
            delays_s: delays_s.to_vec(),
            within_s,
            on: RetryOn::AnyFailure,
            then: None,
        }
    }

    #[test]
    fn listed_waits_are_played_as_documented() {
        assert_eq!(
            waits_s(&policy(Some(4), &[0, 60, 300], None)),
            [0.0, 60.0, 300.0]
        );
        // Fewer waits than retries: the last one again.
        assert_eq!(waits_s(&policy(Some(4), &[10], None)), [10.0, 10.0, 10.0]);
        assert!(waits_s(&policy(Some(1), &[], None)).is_empty(), "no retry");
    }

    #[test]
    fn attempts_within_a_window_double_and_fill_it() {
        // Malomo: 10 attempts within 24 h.
        let waits = waits_s(&policy(Some(10), &[], Some(86_400)));
        assert_eq!(waits.len(), 9);
        assert!((waits.iter().sum::<f64>() - 86_400.0).abs() < 1e-6);
        for pair in waits.windows(2) {
            assert!((pair[1] / pair[0] - 2.0).abs() < 1e-9, "{waits:?}");
        }
        // Paddle: 60 retries over 3 days: doubling from a second, then even.
        let waits = waits_s(&policy(Some(61), &[], Some(259_200)));
        assert_eq!(waits.len(), 60);
        assert_eq!(waits[0], 1.0);
        assert!((waits.iter().sum::<f64>() - 259_200.0).abs() < 1e-6);
        assert!(waits.windows(2).all(|p| p[1] >= p[0] - 1e-9), "{waits:?}");
    }

    #[test]
    fn a_window_or_a_count_alone_doubles_from_a_minute() {
        let stripe = waits_s(&policy(None, &[], Some(259_200)));
        assert_eq!(&stripe[..3], [60.0, 120.0, 240.0]);
        assert!(stripe.iter().sum::<f64>() <= 259_200.0);
        // 60 s · (2¹² − 1) = 245 700 s fits three days; one more would not.
        assert_eq!(stripe.len(), 12);
        let maple = waits_s(&policy(Some(11), &[], None));
        assert_eq!(maple.len(), 10);
        assert_eq!(maple[9], 60.0 * 512.0);
    }

    #[test]
    fn compressed_by_the_speed() {
        assert_eq!(compressed(3600.0, 60), Duration::from_secs(60));
        assert_eq!(compressed(3600.0, 3600), Duration::from_secs(1));
        assert_eq!(compressed(0.0, 60), Duration::ZERO);
    }

    #[test]
    fn what_the_provider_retries() {
        let answered = Some;
        let refused = None;
        use Heard::*;
        let any = RetryOn::AnyFailure;
        let server = RetryOn::ServerErrors;
        assert_eq!(heard(answered(200), Some(false), any), Satisfied);
        assert_eq!(heard(answered(204), None, server), Satisfied);
        assert_eq!(heard(answered(200), Some(true), any), Retried, "late");
        assert_eq!(heard(answered(200), Some(true), server), Retried, "late");
        assert_eq!(heard(answered(400), None, any), Retried);
        assert_eq!(heard(answered(400), None, server), Final);
        assert_eq!(heard(answered(400), Some(true), server), Retried);
        assert_eq!(heard(answered(429), None, server), Retried);
        assert_eq!(heard(answered(503), None, server), Retried);
        assert_eq!(heard(refused, None, server), Retried);
    }
}
