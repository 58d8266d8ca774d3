//! The summary line of `hookhole history`, and how much history to keep.
//! Deliveries and attempts are [`crate::delivery`]'s.

use hookhole_shared::signature::Verdict;
use std::time::Duration;

/// How much history to keep: at most `count` deliveries, none older than `age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub count: u64,
    pub age: Duration,
}

impl Default for Keep {
    fn default() -> Self {
        Keep {
            count: 10_000,
            age: Duration::from_secs(30 * 86_400),
        }
    }
}

impl Keep {
    /// Kept by count only (tests: their rows are from any time).
    #[cfg(test)]
    pub fn count_only(count: u64) -> Keep {
        Keep {
            count,
            age: std::time::Duration::from_secs(u32::MAX.into()),
        }
    }

    /// Parses `--keep`: a count (`5000`), an age (`7d`), or both (`5000,7d`).
    pub fn parse(text: &str) -> Result<Keep, String> {
        let mut keep = Keep::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Ok(count) = part.parse::<u64>() {
                keep.count = count;
            } else {
                keep.age = hookhole_host::settings::parse_age(part).map_err(|e| {
                    format!(
                        "--keep {text:?}: expected a count (5000), an age (7d), or both (5000,7d): {e}"
                    )
                })?;
            }
        }
        // Every delivery is saved before it is answered: keeping none would
        // save each one only to drop it.
        if keep.count == 0 || keep.age.is_zero() {
            return Err(format!(
                "--keep {text:?}: keep at least 1 delivery, for more than 0 s"
            ));
        }
        Ok(keep)
    }
}

/// A line of `hookhole history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub id: String,
    pub channel: String,
    pub seq: u64,
    pub received_at_ms: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub attempts: u32,
    pub body_bytes: u64,
    /// By [`crate::delivery::failed`].
    pub failed: bool,
    pub signature: Verdict,
    /// The delivery's `webhook` object, when it named a provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook::Webhook>,
    /// The route that took it: its name, else its number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<crate::route::Label>,
    /// What its sender heard, when the relay answered it itself.
    #[serde(skip_serializing_if = "crate::delivery::SenderHeard::is_local")]
    pub sender_heard: crate::delivery::SenderHeard,
}
