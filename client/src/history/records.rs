//! What the history holds: deliveries, their attempts, the summary line of
//! `hookhole history`, and how much of it to keep.

use hookhole_shared::headers::Header;
use hookhole_shared::protocol::Delivery;
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
                keep.age = hookhole_relay::settings::parse_age(part).map_err(|e| {
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

/// One attempt at forwarding a delivery, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredAttempt {
    pub number: u32,
    /// `original`, `replay`, `resigned` or `edited`.
    pub kind: String,
    pub started_ms: u64,
    pub duration_ms: Option<u64>,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub response_headers: Vec<Header>,
    #[serde(skip)]
    pub response_body: Vec<u8>,
    /// What was sent, when it differs from the delivery (re-signed, edited).
    pub request_headers: Option<Vec<Header>>,
    #[serde(skip)]
    pub request_body: Option<Vec<u8>>,
    pub verdict: Option<Verdict>,
}

impl StoredAttempt {
    /// The first attempt, as the engine made it.
    pub fn first(
        result: &Result<hookhole_shared::protocol::Response, hookhole_shared::protocol::Failure>,
        started_ms: u64,
        duration_ms: u64,
    ) -> StoredAttempt {
        StoredAttempt::from_result("original", 1, result, started_ms, duration_ms)
    }

    pub fn from_result(
        kind: &str,
        number: u32,
        result: &Result<hookhole_shared::protocol::Response, hookhole_shared::protocol::Failure>,
        started_ms: u64,
        duration_ms: u64,
    ) -> StoredAttempt {
        match result {
            Ok(r) => StoredAttempt {
                status: Some(r.status),
                response_headers: r.headers.clone(),
                response_body: r.body.to_vec(),
                ..StoredAttempt::started(kind, number, started_ms, duration_ms)
            },
            Err(f) => StoredAttempt::not_sent(
                kind,
                number,
                f.code.as_str(),
                &f.message,
                started_ms,
                duration_ms,
            ),
        }
    }

    /// An attempt that got no answer: `code` and `message` say why.
    pub fn not_sent(
        kind: &str,
        number: u32,
        code: &str,
        message: &str,
        started_ms: u64,
        duration_ms: u64,
    ) -> StoredAttempt {
        StoredAttempt {
            error_code: Some(code.to_string()),
            error_message: Some(message.to_string()),
            ..StoredAttempt::started(kind, number, started_ms, duration_ms)
        }
    }

    fn started(kind: &str, number: u32, started_ms: u64, duration_ms: u64) -> StoredAttempt {
        StoredAttempt {
            number,
            kind: kind.to_string(),
            started_ms,
            duration_ms: Some(duration_ms),
            status: None,
            error_code: None,
            error_message: None,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            request_headers: None,
            request_body: None,
            verdict: None,
        }
    }

    /// Records what was sent, when it differs from the delivery.
    pub fn sent(&mut self, headers: &[Header], body: &[u8]) {
        self.request_headers = Some(headers.to_vec());
        self.request_body = Some(body.to_vec());
    }

    /// 2xx answers are successes; errors and other statuses are failures.
    pub fn failed(&self) -> bool {
        match self.status {
            Some(s) => !(200..300).contains(&s),
            None => self.error_code.is_some(),
        }
    }
}

/// A delivery with all its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    pub delivery: Delivery,
    pub channel: String,
    pub verdict: Verdict,
    pub attempts: Vec<StoredAttempt>,
}

impl StoredDelivery {
    pub fn last(&self) -> Option<&StoredAttempt> {
        self.attempts.last()
    }

    /// The last attempt failed, or the signature is invalid or unreadable.
    pub fn failed(&self) -> bool {
        use hookhole_shared::signature::Status;
        self.last().is_none_or(StoredAttempt::failed)
            || matches!(self.verdict.status, Status::Invalid | Status::Malformed)
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
    pub signature: Verdict,
}
