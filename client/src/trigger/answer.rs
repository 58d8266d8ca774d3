//! What came back from one triggered request, and what it means: an answer
//! from the server behind the URL (whatever its status), or the relay
//! refusing the webhook itself (rate limit, body limit, no listener, ...).

use super::Prepared;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub elapsed: Duration,
}

/// The relay's own error codes (relay/src/error.rs) that mean it refused
/// the webhook before any local server saw it. Left out on purpose: the
/// codes of a delivery that reached the client but got no answer from the
/// local server (`local_unreachable`, `local_timeout`, `response_timeout`,
/// `listener_disconnected`, ...): those are the local server's story, which
/// the listener shows.
const RELAY_REFUSALS: &[&str] = &[
    "not_found",
    "invalid_channel",
    "no_listener",
    "unknown_channel",
    "body_too_large",
    "bad_body",
    "body_timeout",
    "body_too_slow",
    "method_not_allowed",
    "buffer_full",
    "buffer_bytes_full",
    "relay_buffer_full",
    "relay_buffer_bytes_full",
    "buffer_storage",
    "rate_limited",
    "too_many_in_flight",
    "headers_too_large",
    "header_timeout",
    "uri_too_long",
    "too_many_connections",
    "too_many_clients",
];

impl Answer {
    /// The relay's code when the relay itself refused the webhook: an error
    /// status with the relay's JSON error body (`{"code": ..., "error":
    /// ...}`) naming one of its refusals. Any other answer, even a 500, is
    /// the server's.
    pub fn relay_refusal(&self) -> Option<String> {
        if self.status < 400 {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let code = body.get("code")?.as_str()?;
        body.get("error")?.as_str()?;
        RELAY_REFUSALS.contains(&code).then(|| code.to_string())
    }
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub async fn send(client: &HttpClient, prepared: &Prepared) -> Result<Answer, String> {
    let mut builder = http::Request::builder()
        .method(prepared.method.as_str())
        .uri(prepared.url.as_str());
    for h in &prepared.headers {
        builder = builder.header(h.name.as_str(), h.value.as_slice());
    }
    let request = builder
        .body(Full::new(Bytes::from(prepared.body.clone())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
        .await
        .map_err(|_| "no answer within 60 s".to_string())?
        .map_err(|e| {
            let mut cause: &dyn std::error::Error = &e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            format!("cannot reach {}: {cause}", prepared.url)
        })?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        body,
        elapsed: started.elapsed(),
    })
}

/// The answers of a run so far: how it ends.
#[derive(Debug, Default)]
pub struct Tally {
    sent: usize,
    unanswered: usize,
    refused: usize,
}

impl Tally {
    /// Sends `prepared`, prints one line (`sent` says what was sent) and
    /// counts the answer.
    pub async fn exchange(&mut self, client: &HttpClient, sent: &str, prepared: &Prepared) {
        let answer = send(client, prepared).await;
        self.sent += 1;
        match &answer {
            Ok(a) if a.relay_refusal().is_some() => self.refused += 1,
            Ok(_) => {}
            Err(_) => self.unanswered += 1,
        }
        crate::output::line(&report(sent, &answer));
    }

    /// An error when any request got no answer or the relay refused it.
    pub fn outcome(&self) -> anyhow::Result<()> {
        let sent = crate::output::count(self.sent, "request", "requests");
        match (self.unanswered, self.refused) {
            (0, 0) => Ok(()),
            (0, refused) => anyhow::bail!("the relay refused {refused} of {sent}"),
            (unanswered, 0) => anyhow::bail!("{unanswered} of {sent} got no answer"),
            (unanswered, refused) => {
                anyhow::bail!(
                    "{unanswered} of {sent} got no answer and the relay refused {refused}"
                )
            }
        }
    }
}

/// One line: what was sent (`sent`) and what came back.
pub fn report(sent: &str, answer: &Result<Answer, String>) -> String {
    match answer {
        Ok(a) => {
            let reason = http::StatusCode::from_u16(a.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            // The relay's own errors say what went wrong; show that.
            let detail = serde_json::from_slice::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|v| {
                    v.get("error")
                        .and_then(|e| e.as_str())
                        .map(|e| format!(": {e}"))
                })
                .unwrap_or_default();
            let refused = if a.relay_refusal().is_some() {
                "refused by the relay: "
            } else {
                ""
            };
            format!(
                "{sent} -> {refused}{} {reason}{detail} in {} ms",
                a.status,
                a.elapsed.as_millis()
            )
        }
        Err(e) => format!("{sent} -> failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(body.to_string()),
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn the_relays_own_errors_are_refusals_any_server_answer_is_not() {
        let limited = answer(
            429,
            r#"{"error":"this channel receives webhooks faster than the relay allows","code":"rate_limited"}"#,
        );
        assert_eq!(limited.relay_refusal().as_deref(), Some("rate_limited"));
        let too_large = answer(413, r#"{"error":"too big","code":"body_too_large"}"#);
        assert_eq!(too_large.relay_refusal().as_deref(), Some("body_too_large"));
        // The local server's answers, whatever they say.
        assert_eq!(answer(500, "boom").relay_refusal(), None);
        assert_eq!(answer(429, "slow down").relay_refusal(), None);
        assert_eq!(
            answer(200, r#"{"error":"x","code":"rate_limited"}"#).relay_refusal(),
            None
        );
        assert_eq!(
            answer(503, r#"{"code":"rate_limited"}"#).relay_refusal(),
            None
        );
        assert_eq!(
            answer(422, r#"{"error":"bad","code":"invalid"}"#).relay_refusal(),
            None
        );
        // Reached the client, no answer from the local server: not a refusal.
        let unreachable = answer(502, r#"{"error":"refused","code":"local_unreachable"}"#);
        assert_eq!(unreachable.relay_refusal(), None);
        assert!(report("#1", &Ok(limited)).contains("-> refused by the relay: 429 Too Many"));
        assert!(!report("#1", &Ok(unreachable)).contains("refused by the relay"));
    }
}
