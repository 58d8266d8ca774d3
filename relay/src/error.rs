//! The one place that maps relay errors to HTTP status codes and bodies.
//!
//! Bodies are `{"error": "...", "code": "..."}`. Messages are fixed text or
//! come from our own client; they never echo what the sender sent.

use bytes::Bytes;
use hookhole_shared::protocol::{Failure, FailureCode};
use http::{Response, StatusCode, header};
use http_body_util::Full;
use std::time::Duration;

#[derive(Debug)]
pub enum ApiError {
    /// No channel in the path, or an unknown `/_hookhole/` endpoint.
    NotFound,
    /// The channel name breaks the naming rules.
    InvalidChannel,
    /// Nobody is listening on the channel.
    NoListener,
    /// On a relay with tokens, no token has claimed the channel.
    UnknownChannel,
    BodyTooLarge {
        limit: usize,
    },
    BadBody(String),
    /// No body bytes arrived for this long.
    BodyStalled(Duration),
    /// A whole `--body-timeout` window of the body brought less than this
    /// many bytes per second.
    BodyTooSlow(u64),
    /// The client could not get an answer from its local server.
    Local(Failure),
    /// No answer within the relay's response timeout.
    ResponseTimeout(Duration),
    /// Every listener disconnected before answering.
    ListenersGone,
    /// Not a valid websocket upgrade request.
    BadUpgrade(&'static str),
    MethodNotAllowed,
    /// The offline buffer refused the delivery.
    Buffer(crate::buffer::BufferError),
    /// The channel sends faster than its rate limit; retry after this long.
    RateLimited(Duration),
    /// The channel has as many deliveries waiting for answers as allowed.
    TooManyInFlight,
    /// More header fields, or header bytes, than the relay accepts.
    HeadersTooLarge {
        fields: usize,
        bytes: usize,
    },
    /// The request head did not arrive within the header timeout.
    HeaderTimeout(Duration),
    /// The request target is longer than the relay accepts.
    UriTooLong(usize),
    /// As many webhook connections are open as the relay allows.
    TooManyConnections,
    /// As many client links are open as the relay allows.
    TooManyClients,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound | ApiError::InvalidChannel | ApiError::UnknownChannel => {
                StatusCode::NOT_FOUND
            }
            ApiError::NoListener => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadBody(_) | ApiError::BadUpgrade(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyStalled(_) | ApiError::BodyTooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Local(f) if f.code == FailureCode::LocalTimeout => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ApiError::Local(_) | ApiError::ListenersGone => StatusCode::BAD_GATEWAY,
            ApiError::ResponseTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Buffer(crate::buffer::BufferError::TooMany(_)) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Buffer(
                crate::buffer::BufferError::TooLarge(_)
                | crate::buffer::BufferError::RelayTooMany(_)
                | crate::buffer::BufferError::RelayTooLarge(_),
            ) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Buffer(crate::buffer::BufferError::Storage(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::RateLimited(_) | ApiError::TooManyInFlight => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::HeaderTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::TooManyConnections | ApiError::TooManyClients => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::InvalidChannel => "invalid_channel",
            ApiError::NoListener => "no_listener",
            ApiError::UnknownChannel => "unknown_channel",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::BadBody(_) => "bad_body",
            ApiError::BodyStalled(_) => "body_timeout",
            ApiError::BodyTooSlow(_) => "body_too_slow",
            ApiError::Local(f) => f.code.as_str(),
            ApiError::ResponseTimeout(_) => "response_timeout",
            ApiError::ListenersGone => "listener_disconnected",
            ApiError::BadUpgrade(_) => "bad_upgrade",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Buffer(crate::buffer::BufferError::TooMany(_)) => "buffer_full",
            ApiError::Buffer(crate::buffer::BufferError::TooLarge(_)) => "buffer_bytes_full",
            ApiError::Buffer(crate::buffer::BufferError::RelayTooMany(_)) => "relay_buffer_full",
            ApiError::Buffer(crate::buffer::BufferError::RelayTooLarge(_)) => {
                "relay_buffer_bytes_full"
            }
            ApiError::Buffer(crate::buffer::BufferError::Storage(_)) => "buffer_storage",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::TooManyInFlight => "too_many_in_flight",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::HeaderTimeout(_) => "header_timeout",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::TooManyConnections => "too_many_connections",
            ApiError::TooManyClients => "too_many_clients",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::NotFound => "not found: send webhooks to /{channel}/{path}".to_string(),
            // Never the offending character: error bodies echo no request data.
            ApiError::InvalidChannel => format!(
                "invalid channel name: use 1 to {} characters from a-z, 0-9 and '-'",
                hookhole_shared::channel::MAX_LEN
            ),
            ApiError::NoListener => "no hookhole client is connected to this channel".to_string(),
            ApiError::UnknownChannel => {
                "no hookhole client has ever claimed this channel on this relay".to_string()
            }
            ApiError::BodyTooLarge { limit } => {
                format!("request body exceeds the relay's limit of {limit} bytes")
            }
            ApiError::BadBody(why) => format!("could not read the request body: {why}"),
            ApiError::BodyStalled(wait) => format!(
                "the request body stopped arriving: nothing for {}",
                humantime::format_duration(*wait)
            ),
            ApiError::BodyTooSlow(rate) => format!(
                "the request body arrived slower than the relay's minimum of {rate} bytes per second"
            ),
            ApiError::Local(f) => f.message.clone(),
            ApiError::ResponseTimeout(t) => format!(
                "the local server did not answer within {}",
                humantime::format_duration(*t)
            ),
            ApiError::ListenersGone => {
                "every hookhole client disconnected before answering".to_string()
            }
            ApiError::BadUpgrade(why) => format!("bad websocket upgrade: {why}"),
            ApiError::MethodNotAllowed => "method not allowed".to_string(),
            ApiError::Buffer(crate::buffer::BufferError::Storage(_)) => {
                "the relay could not store the delivery".to_string()
            }
            ApiError::Buffer(e) => format!("no client is connected and {e}"),
            ApiError::RateLimited(_) => {
                "this channel receives webhooks faster than the relay allows".to_string()
            }
            ApiError::TooManyInFlight => {
                "this channel has as many deliveries waiting for answers as the relay allows"
                    .to_string()
            }
            ApiError::HeadersTooLarge { fields, bytes } => format!(
                "request headers exceed the relay's limits ({fields} fields, {bytes} bytes)"
            ),
            ApiError::HeaderTimeout(wait) => format!(
                "the request headers did not arrive within {}",
                humantime::format_duration(*wait)
            ),
            ApiError::UriTooLong(limit) => {
                format!("the request target exceeds the relay's limit of {limit} bytes")
            }
            ApiError::TooManyConnections => {
                "the relay has as many connections as it allows".to_string()
            }
            ApiError::TooManyClients => {
                "the relay has as many client connections as it allows".to_string()
            }
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = json_response(
            self.status(),
            &serde_json::json!({ "error": self.message(), "code": self.code() }),
        );
        let retry_after = match &self {
            // A client coming back drains the buffer: ask for a minute.
            ApiError::Buffer(_) => Some(60),
            ApiError::RateLimited(wait) => Some(wait.as_secs().max(1)),
            ApiError::TooManyInFlight => Some(1),
            ApiError::TooManyConnections | ApiError::TooManyClients => Some(5),
            _ => None,
        };
        let closes = matches!(
            self.status(),
            StatusCode::REQUEST_TIMEOUT
                | StatusCode::URI_TOO_LONG
                | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
                | StatusCode::SERVICE_UNAVAILABLE
        ) && !matches!(self, ApiError::NoListener);
        if closes {
            // The rest of the request is not read, or the relay is full: the
            // connection is not kept for another request.
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        let retried = [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE,
        ];
        if let Some(secs) = retry_after.filter(|_| retried.contains(&self.status())) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }

    /// The answer as raw HTTP/1.1 bytes, for a connection hyper does not
    /// serve (yet): the connection is closed after it.
    pub fn into_http1(self) -> Vec<u8> {
        let response = self.into_response();
        let status = response.status();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .into_bytes();
        for (name, value) in response.headers() {
            if name != header::CONNECTION {
                out.extend_from_slice(name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        let body = response.into_body();
        let body = http_body_util::BodyExt::collect(body);
        // A `Full` body is ready at once and cannot fail.
        let body = futures_util::FutureExt::now_or_never(body)
            .and_then(Result::ok)
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        out.extend_from_slice(
            format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&body);
        out
    }
}

/// A JSON response with the relay's standard headers.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for h in json_headers() {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(h.name.as_bytes()),
            header::HeaderValue::from_bytes(&h.value),
        ) {
            headers.insert(name, value);
        }
    }
    response
}

/// The headers of every JSON answer the relay makes itself.
pub fn json_headers() -> Vec<hookhole_shared::headers::Header> {
    use hookhole_shared::headers::Header;
    vec![
        Header::new("content-type", "application/json"),
        // Browsers must never sniff a relay answer into HTML.
        Header::new("x-content-type-options", "nosniff"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_timeout_is_504_and_refused_is_502() {
        let timeout = ApiError::Local(Failure {
            id: "d".into(),
            code: FailureCode::LocalTimeout,
            message: "slow".into(),
        });
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let refused = ApiError::Local(Failure {
            id: "d".into(),
            code: FailureCode::LocalUnreachable,
            message: "connection refused".into(),
        });
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(refused.code(), "local_unreachable");
        assert_eq!(
            ApiError::NoListener.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
