//! Why an order failed, in words that say what to check, and when to try
//! again.
//!
//! Everything the CA says (a problem document's detail) comes from
//! outside: it is made printable and cut short before it reaches the log
//! or the health report.

use std::time::Duration;

/// The first retry after a failure; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(60);
/// The longest wait between two tries. Let's Encrypt allows 5 failed
/// validations per name per hour: starting at a minute and doubling
/// stays under that once the cause is not fixed within a few minutes.
const LONGEST_RETRY: Duration = Duration::from_secs(3600);
/// After a rate limit: the CA says when (in its detail); an hour is the
/// shortest window Let's Encrypt's limits use.
const RATE_LIMITED_RETRY: Duration = Duration::from_secs(3600);
/// Most characters of the CA's own text kept.
const MAX_DETAIL: usize = 300;

/// What went wrong, by what the operator has to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The ACME directory could not be reached (URL, network, its TLS).
    Unreachable,
    /// The CA could not validate a name: DNS or the port.
    Validation,
    /// The CA's rate limit.
    RateLimited,
    /// Anything else the CA or the relay refused.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    /// What happened, printable and bounded.
    pub detail: String,
}

impl Failure {
    pub fn new(kind: Kind, detail: &str) -> Failure {
        Failure {
            kind,
            detail: sanitize(detail),
        }
    }

    /// Sorts an error from the ACME client.
    pub fn from_acme(error: &instant_acme::Error) -> Failure {
        match error {
            instant_acme::Error::Api(problem) => Failure::from_problem(problem),
            instant_acme::Error::Hyper(_) | instant_acme::Error::Other(_) => {
                Failure::new(Kind::Unreachable, &error_chain(error))
            }
            other => Failure::new(Kind::Other, &error_chain(other)),
        }
    }

    /// Sorts a problem document (RFC 8555 6.7) by its type.
    pub fn from_problem(problem: &instant_acme::Problem) -> Failure {
        let kind = match problem.r#type.as_deref().and_then(|t| t.rsplit(':').next()) {
            Some("rateLimited") => Kind::RateLimited,
            Some(
                "connection" | "dns" | "unauthorized" | "tls" | "incorrectResponse" | "caa"
                | "rejectedIdentifier",
            ) => Kind::Validation,
            _ => Kind::Other,
        };
        Failure::new(kind, &problem.to_string())
    }

    /// One line for the log: what happened and what to check.
    pub fn explain(&self, domains: &[String], http_port: Option<u16>, directory: &str) -> String {
        let names = domains.join(", ");
        let check = match self.kind {
            Kind::Validation => {
                let port = match http_port {
                    Some(port) => format!(
                        "port 80 is open to the internet and reaches --http-port {port}"
                    ),
                    None => "port 443 is open to the internet and reaches the relay's --listen port, with no proxy ending TLS in front of it".into(),
                };
                format!(
                    "check that the DNS A/AAAA records of {names} point at this machine's public address, and that {port}"
                )
            }
            Kind::RateLimited => format!(
                "the CA's rate limit: its message says when to retry; test with the staging directory first \
                 (--acme-directory {})",
                super::LETS_ENCRYPT_STAGING
            ),
            Kind::Unreachable => format!(
                "check the ACME directory URL ({}), this machine's outbound HTTPS, and --acme-ca-cert for a private CA",
                sanitize(directory)
            ),
            Kind::Other => "check the CA's message".into(),
        };
        format!("{}; {check}", self.detail)
    }

    /// How long to wait before the next try, after `failures` in a row
    /// (1 for the first).
    pub fn retry_in(&self, failures: u32) -> Duration {
        let doubled = FIRST_RETRY.saturating_mul(1 << failures.saturating_sub(1).min(16));
        let backoff = doubled.min(LONGEST_RETRY);
        match self.kind {
            Kind::RateLimited => backoff.max(RATE_LIMITED_RETRY),
            _ => backoff,
        }
    }
}

/// An error and its causes, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Text from outside, made one printable line of at most `MAX_DETAIL`
/// characters.
pub fn sanitize(text: &str) -> String {
    let cut: String = text.chars().take(MAX_DETAIL).collect();
    let mut line = hookhole_shared::printable::line(&cut).into_owned();
    if text.chars().count() > MAX_DETAIL {
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(kind: &str, detail: &str) -> instant_acme::Problem {
        serde_json::from_value(serde_json::json!({
            "type": format!("urn:ietf:params:acme:error:{kind}"),
            "detail": detail,
            "status": 400,
        }))
        .unwrap()
    }

    #[test]
    fn problems_are_sorted_by_what_to_check() {
        let names = ["relay.example".to_string()];
        let refused = Failure::from_problem(&problem("connection", "connection refused"));
        assert_eq!(refused.kind, Kind::Validation);
        let line = refused.explain(&names, None, "https://ca.test/dir");
        assert!(line.contains("connection refused"), "{line}");
        assert!(
            line.contains("DNS A/AAAA records of relay.example"),
            "{line}"
        );
        assert!(line.contains("port 443"), "{line}");
        let http = refused.explain(&names, Some(8080), "https://ca.test/dir");
        assert!(
            http.contains("port 80 is open") && http.contains("8080"),
            "{http}"
        );

        let limited = Failure::from_problem(&problem(
            "rateLimited",
            "too many certificates: retry after 2030-01-01 00:00:00 UTC",
        ));
        assert_eq!(limited.kind, Kind::RateLimited);
        let line = limited.explain(&names, None, "https://ca.test/dir");
        assert!(line.contains("retry after 2030-01-01"), "{line}");
        assert!(line.contains("rate limit"), "{line}");
        assert_eq!(limited.retry_in(1), RATE_LIMITED_RETRY);

        let other = Failure::from_problem(&problem("badCSR", "no"));
        assert_eq!(other.kind, Kind::Other);
    }

    #[test]
    fn the_cas_text_is_made_printable_and_short() {
        let hostile = format!("\u{1b}]0;owned\u{7}\nline two {}", "x".repeat(1000));
        let failure = Failure::from_problem(&problem("dns", &hostile));
        assert!(!failure.detail.contains('\u{1b}'), "{:?}", failure.detail);
        assert!(!failure.detail.contains('\n'), "{:?}", failure.detail);
        assert!(failure.detail.chars().count() < MAX_DETAIL + 40);
        assert!(failure.detail.ends_with('…'));
    }

    #[test]
    fn retries_back_off_from_a_minute_to_an_hour() {
        let failure = Failure::new(Kind::Validation, "x");
        let minutes: Vec<u64> = (1..=9)
            .map(|n| failure.retry_in(n).as_secs() / 60)
            .collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(failure.retry_in(u32::MAX), LONGEST_RETRY);
    }
}
