//! Forwarding a delivery to the local server, byte for byte.

use crate::target::Target;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::{Delivery, Failure, FailureCode, Response};
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Default limit on a local response body sent back through the relay.
pub const DEFAULT_MAX_RESPONSE: usize = 25 * 1024 * 1024;

#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Full<Bytes>>,
    target: Target,
    timeout: Duration,
    max_response: usize,
}

impl Forwarder {
    pub fn new(target: Target, timeout: Duration, max_response: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        // A pooled keep-alive client: no proxy from the environment, no
        // redirect following (hyper does neither), http:// only.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Forwarder {
            client,
            target,
            timeout,
            max_response,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends a delivery to the local server and returns its answer; bodies
    /// above `limit` (or the forwarder's own limit) fail as too large.
    pub async fn forward(&self, delivery: &Delivery, limit: usize) -> Result<Response, Failure> {
        let limit = limit.min(self.max_response);
        let fail = |code, message: String| Failure {
            id: delivery.id.clone(),
            code,
            message,
        };
        let url = self
            .target
            .url_for(&delivery.path, delivery.query.as_deref());
        let request = build_request(&url, delivery).map_err(|e| {
            fail(
                FailureCode::LocalError,
                format!("cannot build the request to {url}: {e}"),
            )
        })?;

        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    fail(
                        FailureCode::LocalUnreachable,
                        format!(
                            "local server {} unreachable: {}",
                            self.target,
                            root_cause(&e)
                        ),
                    )
                } else {
                    fail(
                        FailureCode::LocalError,
                        format!("local server {} failed: {}", self.target, root_cause(&e)),
                    )
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = match Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e)
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some() =>
                {
                    return Err(fail(
                        FailureCode::ResponseTooLarge,
                        format!("local response body exceeds the {limit}-byte limit"),
                    ));
                }
                Err(e) => {
                    return Err(fail(
                        FailureCode::LocalError,
                        format!("reading the local response body failed: {e}"),
                    ));
                }
            };
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
                .collect();
            Ok(Response {
                id: delivery.id.clone(),
                status: parts.status.as_u16(),
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(fail(
                FailureCode::LocalTimeout,
                format!(
                    "local server {} did not answer within {}",
                    self.target,
                    humantime::format_duration(self.timeout)
                ),
            )),
        }
    }
}

fn build_request(url: &str, delivery: &Delivery) -> Result<Request<Full<Bytes>>, String> {
    let method = Method::from_bytes(delivery.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut builder = Request::builder().method(method).uri(url);
    let headers = builder
        .headers_mut()
        .ok_or_else(|| "invalid URL".to_string())?;
    for Header { name, value } in &delivery.headers {
        // `Host` is set from the target by the HTTP client; the relay already
        // dropped the sender's.
        if name.eq_ignore_ascii_case("host") {
            continue;
        }
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name:?}: {e}"))?;
        // The length is always the body's, in the header's own position: the
        // same value for a delivery as it arrived, and right for an edited
        // replay whose body changed size.
        let value = if name == http::header::CONTENT_LENGTH {
            HeaderValue::from(delivery.body.len())
        } else {
            HeaderValue::from_bytes(value).map_err(|e| format!("header {name}: {e}"))?
        };
        headers.append(name, value);
    }
    builder
        .body(Full::new(delivery.body.clone()))
        .map_err(|e| e.to_string())
}

/// The innermost error's text ("Connection refused (os error 111)"), which
/// says more to a user than hyper's outer "client error (Connect)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(headers: Vec<Header>, body: &'static [u8]) -> Delivery {
        Delivery {
            id: "d".into(),
            seq: 1,
            received_at_ms: 0,
            method: "POST".into(),
            path: "/x".into(),
            query: None,
            headers,
            body_sha256: String::new(),
            url: String::new(),
            queued: false,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn content_length_follows_the_body_in_place() {
        // An edited replay: the stored length no longer matches the body.
        let d = delivery(
            vec![
                Header::new("content-length", "414"),
                Header::new("x-a", "1"),
            ],
            b"short",
        );
        let request = build_request("http://127.0.0.1:1/x", &d).unwrap();
        let names: Vec<_> = request.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["content-length", "x-a"], "order kept");
        assert_eq!(request.headers()["content-length"], "5");
    }

    #[test]
    fn host_from_the_delivery_is_never_used() {
        let d = delivery(vec![Header::new("host", "evil.example")], b"");
        let request = build_request("http://127.0.0.1:1/x", &d).unwrap();
        assert!(
            request.headers().get("host").is_none(),
            "the client sets Host from the target"
        );
        assert_eq!(request.uri().authority().unwrap().as_str(), "127.0.0.1:1");
    }
}
