//! Sending a request to the local server, byte for byte, as
//! [`crate::outgoing`] built it from a delivery or a replay's parts.

use crate::outgoing::Outgoing;
use crate::target::Target;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::{Failure, FailureCode, Response};
use http::Request;
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

    /// This forwarder (its connection pool, timeout and limit) sending to
    /// `target` instead: a route's.
    pub fn to(&self, target: &Target) -> Forwarder {
        Forwarder {
            target: target.clone(),
            ..self.clone()
        }
    }

    /// Sends a request built by [`crate::outgoing::build`] (or
    /// [`crate::outgoing::build_parts`]) for this forwarder's target and returns
    /// the answer; bodies above `limit` (or the forwarder's own limit) fail
    /// as too large. `id` names the delivery in the answer.
    pub async fn send(
        &self,
        id: &str,
        request: Outgoing,
        limit: usize,
    ) -> Result<Response, Failure> {
        let limit = limit.min(self.max_response);
        let fail = |code, message: String| Failure {
            id: id.to_string(),
            code,
            message,
        };
        let request = into_request(request);
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
                id: id.to_string(),
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

fn into_request(outgoing: Outgoing) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(outgoing.body));
    *request.method_mut() = outgoing.method;
    *request.uri_mut() = outgoing.uri;
    *request.headers_mut() = outgoing.headers;
    request
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
