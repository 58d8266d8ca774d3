//! What the provider would do next, said in one line: the one place that
//! turns a deadline, a retry policy and a local answer into words.

use super::{EventRules, Outcome, RetryOn, RetryPolicy, late};

/// "Malomo would time out after 10 s and retry: attempt 2 of 10",
/// "GitHub does not retry"; `None` when the provider would be satisfied
/// (a 2xx within the deadline) or nothing is known of what it does.
/// `attempt` is the delivery's attempt number, when the provider sends one.
pub fn next_step(
    provider_name: &str,
    rules: &EventRules,
    attempt: Option<u32>,
    outcome: &Outcome,
) -> Option<String> {
    // Past the deadline the provider has hung up: the status never reached it.
    let timed_out = late(rules, outcome.duration_ms) == Some(true);
    if !timed_out && matches!(outcome.status, Some(200..=299)) {
        return None;
    }
    let deadline = rules
        .deadline_ms
        .filter(|_| timed_out)
        .map(|ms| format!("would time out after {}", describe_deadline(ms)));
    let Some(retries) = &rules.retries else {
        // What follows is not documented; the timeout alone is worth saying.
        return deadline.map(|d| format!("{provider_name} {d}"));
    };
    if !retries.on.retries(outcome.status, timed_out)
        && let Some(status) = outcome.status
    {
        return Some(format!("{provider_name} does not retry a {status}"));
    }
    let lead = match &deadline {
        Some(d) => format!("{provider_name} {d} and"),
        None => format!("{provider_name} would"),
    };
    let total = retries.total_attempts();
    if total == Some(1) {
        return Some(match deadline {
            Some(d) => format!("{provider_name} {d} and not retry"),
            None => format!("{provider_name} does not retry"),
        });
    }
    Some(match (attempt, total) {
        (Some(n), Some(total)) if n >= total => {
            format!(
                "{lead} give up: that was attempt {n} of {total}{}",
                then(retries)
            )
        }
        (Some(n), Some(total)) => {
            let wait = usize::try_from(n - 1)
                .ok()
                .and_then(|i| retries.delays_s.get(i))
                .map(|&s| match s {
                    0 => " at once".to_string(),
                    s => format!(" in {}", seconds(s)),
                })
                .unwrap_or_default();
            format!("{lead} retry{wait}: attempt {} of {total}", n + 1)
        }
        _ => format!(
            "{lead} retry ({}){}",
            schedule(retries, total),
            then(retries)
        ),
    })
}

impl RetryOn {
    /// Whether a provider with this rule retries an answer that
    /// disappointed it: `status` (`None`: no answer) or `timed_out` (past
    /// its deadline). `server_errors` retries 5xx and 429 (the sender is
    /// asked to slow down, not refused) besides timeouts and no answer.
    pub fn retries(self, status: Option<u16>, timed_out: bool) -> bool {
        match (self, status) {
            (RetryOn::AnyFailure, _) | (RetryOn::ServerErrors, None) => true,
            (RetryOn::ServerErrors, Some(status)) => timed_out || status >= 500 || status == 429,
        }
    }
}

fn then(retries: &RetryPolicy) -> String {
    retries.then_clause()
}

impl RetryPolicy {
    /// What the provider does after its last attempt, as a clause to end a
    /// sentence with ("; then it disables the webhook"); empty when not
    /// documented.
    pub fn then_clause(&self) -> String {
        match &self.then {
            Some(then) => format!("; then it {then}"),
            None => String::new(),
        }
    }

    /// The documented policy in a few words, for tables and detail panes:
    /// "10 attempts within 24 h", "5 attempts, retries after 1 min, 5 min,
    /// 30 min, 2 h; then disables the webhook", "does not retry".
    pub fn describe(&self) -> String {
        let total = self.total_attempts();
        if total == Some(1) {
            return "does not retry".to_string();
        }
        let mut parts = Vec::new();
        let mut first = match total {
            Some(total) => format!("{total} attempts"),
            None => "retries".to_string(),
        };
        if let Some(within) = self.within_s {
            first.push_str(&format!(" within {}", seconds(within)));
        }
        parts.push(first);
        if !self.delays_s.is_empty() {
            let waits: Vec<String> = self.delays_s.iter().map(|&s| seconds(s)).collect();
            parts.push(format!("retries after {}", waits.join(", ")));
        }
        if self.on == RetryOn::ServerErrors {
            parts.push("on 5xx, 429 and timeouts only".to_string());
        }
        format!("{}{}", parts.join(", "), then(self))
    }
}

/// The whole documented schedule, for a delivery whose attempt is unknown.
fn schedule(retries: &RetryPolicy, total: Option<u32>) -> String {
    let mut parts = Vec::new();
    if let Some(total) = total {
        parts.push(format!("up to {total} attempts"));
    }
    if let Some(within) = retries.within_s {
        parts.push(format!("for up to {}", seconds(within)));
    }
    if !retries.delays_s.is_empty() {
        let waits: Vec<String> = retries.delays_s.iter().map(|&s| seconds(s)).collect();
        parts.push(format!("waiting {}", waits.join(", ")));
    }
    parts.join(", ")
}

/// A deadline: "10 s", "500 ms", "1.5 s".
pub fn describe_deadline(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// A wait or a window: "30 s", "5 min", "2 h", "24 h", "3 days".
pub(crate) fn seconds(s: u64) -> String {
    const DAY: u64 = 86_400;
    if s >= 2 * DAY && s.is_multiple_of(DAY) {
        format!("{} days", s / DAY)
    } else if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
#[path = "next_step_tests.rs"]
mod tests;
