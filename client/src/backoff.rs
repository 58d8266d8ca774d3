//! Reconnect delays: exponential, capped, with "equal jitter" (a random
//! point in the upper half of each step).
//!
//! Jitter spreads the reconnects of many clients after a relay restart, so
//! they do not all arrive in the same instant.

use std::time::Duration;

pub const FIRST: Duration = Duration::from_millis(250);
pub const CAP: Duration = Duration::from_secs(30);

/// The delay before reconnect attempt `attempt` (1-based), given a random
/// fraction in `[0, 1)`: uniform between half the exponential step and the step.
pub fn delay(attempt: u32, random: f64) -> Duration {
    let exp = FIRST.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let step = exp.min(CAP);
    step.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0))
}

/// A random fraction in `[0, 1)` from the OS source (0.5 if it fails: the
/// delay is then still bounded, just not jittered).
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        assert_eq!(delay(1, 0.999_999), FIRST.mul_f64(0.5 + 0.5 * 0.999_999));
        assert_eq!(delay(1, 0.0), FIRST / 2);
        assert_eq!(delay(3, 0.0), FIRST * 2);
        assert!(delay(30, 0.999) <= CAP);
        assert!(delay(30, 0.0) >= CAP / 2);
        assert!(delay(u32::MAX, 1.0) <= CAP);
    }
}
