//! What a webhook delivery says about itself, and what its provider does
//! when the answer disappoints it.
//!
//! Every provider names, in its headers or body, what happened (the event
//! type), which event it is (the id a handler dedupes on), often which
//! attempt this is; and documents how long it waits for an answer and how
//! it retries. Those facts are data, beside the signature rules: the
//! `events` object of a preset ([`EventRules`], read from `presets.json` or
//! a user's `[preset.events]`), each field a [`FieldSource`] (`header:NAME`,
//! `body:/json/pointer` or `form:NAME`; the id may join several, a
//! [`FieldRule`]) and the documented [`RetryPolicy`] with its source.
//!
//! - [`EventRules::facts`] reads one delivery's [`WebhookFacts`]: headers
//!   directly, body fields by walking only the pointers' paths through the
//!   JSON (`pointer`), never building the whole document, and form fields
//!   with the verifiers' own form decoder.
//! - [`late`] and [`next_step`] say how the local answer looks from the
//!   provider's side ("Malomo would time out after 10 s and retry: attempt
//!   2 of 10"); the one place for that rule.
//!
//! Everything read from a delivery is hostile: strings are capped at
//! [`MAX_FACT_LEN`] bytes and kept as sent (shown through
//! [`crate::printable`]); bodies over [`MAX_SCANNED_BODY`], or not JSON (not
//! a form, for form fields), give no body facts; anything malformed gives
//! `None` for that field.

mod extract;
mod next_step;
mod pointer;
mod rule;
mod source;

pub use next_step::{describe_deadline, next_step};
pub use rule::{FieldRule, JOIN, MAX_PARTS};
pub use source::FieldSource;

use serde::{Deserialize, Serialize};

/// Longest type or id kept, in bytes (cut at a character boundary). Real
/// ids and types are under 100 bytes; this bounds what a sender can make
/// the history and the screen carry per delivery.
pub const MAX_FACT_LEN: usize = 256;

/// Largest body whose fields are read. Webhook bodies are a few KiB; a
/// bigger one is most likely not an event envelope, and scanning it on every
/// delivery would cost more than the facts are worth.
pub const MAX_SCANNED_BODY: usize = 1024 * 1024;

/// A preset's `events` object: where a delivery's facts are, and what the
/// provider documents about deadlines and retries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRules {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<FieldSource>,
    /// Appended to the type as `TYPE.DETAIL` when present (GitHub's
    /// `X-GitHub-Event: pull_request` with `"action": "opened"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_detail: Option<FieldSource>,
    /// The event's id: the same on every retry, the key to dedupe on. One
    /// source, or several whose values are joined with `:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FieldRule>,
    /// The attempt number the provider sends (1 for the first delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<FieldSource>,
    /// How long the provider waits for an answer before it gives up on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetryPolicy>,
    /// Where the deadline and retry facts come from (a documentation URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// How a provider retries a delivery it counts as failed, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Every attempt, the first included (1: does not retry). `None` when
    /// the provider documents only a window ("for up to 3 days").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The documented wait before each retry, in seconds (empty when only a
    /// count or a window is documented).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delays_s: Vec<u64>,
    /// The window all attempts fall in, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_s: Option<u64>,
    pub on: RetryOn,
    /// What the provider does after the last attempt ("disables the webhook").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<String>,
}

/// Which answers a provider retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// Anything but a 2xx in time: other statuses, timeouts, no connection.
    AnyFailure,
    /// 5xx, 429, timeouts and no connection; other 4xx are final.
    ServerErrors,
}

/// What one delivery says about itself. Strings are capped
/// ([`MAX_FACT_LEN`] bytes) and kept as sent: printing goes through
/// [`crate::printable`] like every other sender text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookFacts {
    /// The provider's id (`malomo`).
    pub provider: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(rename = "id", default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// How the local exchange went, as the provider would see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The answer's status; `None` when the local server was unreachable or
    /// the exchange failed.
    pub status: Option<u16>,
    pub duration_ms: u64,
}

/// Whether the answer came after the provider's deadline (`None` when no
/// deadline is known). Exactly at the deadline is still in time.
pub fn late(rules: &EventRules, duration_ms: u64) -> Option<bool> {
    rules.deadline_ms.map(|deadline| duration_ms > deadline)
}

impl EventRules {
    /// Checks the rules between fields, once, when a preset is loaded (the
    /// sources' syntax was checked as they were read).
    pub fn validate(&self) -> Result<(), String> {
        if self.deadline_ms == Some(0) {
            return Err("events.deadline_ms must be more than 0".into());
        }
        if let Some(retries) = &self.retries {
            retries.validate()?;
        }
        Ok(())
    }
}

impl RetryPolicy {
    fn validate(&self) -> Result<(), String> {
        match self.attempts {
            Some(0) => {
                return Err(
                    "events.retries.attempts counts the first attempt too: it must be at least 1"
                        .into(),
                );
            }
            Some(attempts) if self.delays_s.len() > (attempts - 1) as usize => {
                return Err(format!(
                    "events.retries.delays_s lists {} waits but {attempts} attempts leave {} retries",
                    self.delays_s.len(),
                    attempts - 1
                ));
            }
            None if self.delays_s.is_empty() && self.within_s.is_none() => {
                return Err(
                    "events.retries needs attempts, delays_s or within_s: what the provider documents"
                        .into(),
                );
            }
            _ => {}
        }
        if self.within_s == Some(0) {
            return Err("events.retries.within_s must be more than 0".into());
        }
        Ok(())
    }

    /// Every attempt, the first included, when the count is documented or
    /// follows from the listed waits.
    pub fn total_attempts(&self) -> Option<u32> {
        self.attempts.or_else(|| {
            u32::try_from(self.delays_s.len())
                .ok()
                .filter(|&n| n > 0)
                .map(|n| n.saturating_add(1))
        })
    }
}

#[cfg(test)]
#[path = "webhook/webhook_tests.rs"]
mod tests;

/// A POST of `body` with `headers` to a test URL, handed to `read`: what
/// the facts tests read their facts from.
#[cfg(test)]
pub(crate) fn with_test_request<R>(
    headers: &[(&str, &str)],
    body: &[u8],
    read: impl FnOnce(&crate::signature::Request<'_>) -> R,
) -> R {
    let headers: Vec<crate::headers::Header> = headers
        .iter()
        .map(|(name, value)| crate::headers::Header::new(*name, *value))
        .collect();
    read(&crate::signature::Request {
        method: "POST",
        url: "https://hooks.example.test/in/abc",
        headers: &headers,
        body,
    })
}
