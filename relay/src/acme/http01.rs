//! The plain HTTP port (`--http-port`, port 80 behind the firewall):
//! answers HTTP-01 challenges (`GET /.well-known/acme-challenge/TOKEN`)
//! while an order runs, and sends everything else to HTTPS with a 308
//! (method and body kept) to the relay's own name, never to the `Host` a
//! request claims (that would make the relay an open redirect).

use super::challenge::Challenges;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";
/// Connections served at once; beyond, new ones are closed unanswered.
/// The port answers a CA a few times per renewal and redirects strays.
const MAX_CONNECTIONS: usize = 1024;
/// Time to send a request head, against connections held open.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until `shutdown`; `https_base` is where everything
/// but a challenge is sent (`https://relay.example.com[:port]`).
pub async fn serve(
    listener: TcpListener,
    challenges: Arc<Challenges>,
    https_base: String,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let https_base: Arc<str> = https_base.trim_end_matches('/').into();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("--http-port: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (challenges, base) = (challenges.clone(), https_base.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = answer(&challenges, &base, &req);
                async move { Ok::<_, Infallible>(answer) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = shutdown.cancelled() => {}
            }
            drop(slot);
        });
    }
}

fn answer<B>(challenges: &Challenges, https_base: &str, req: &Request<B>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if let Some(token) = path.strip_prefix(CHALLENGE_PREFIX) {
        let found = matches!(*req.method(), Method::GET | Method::HEAD)
            .then(|| challenges.http_answer(token))
            .flatten();
        return match found {
            Some(key_authorization) => text(StatusCode::OK, key_authorization),
            None => text(StatusCode::NOT_FOUND, "no such challenge\n".into()),
        };
    }
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = header::HeaderValue::from_str(&format!("{https_base}{target}"))
        .or_else(|_| header::HeaderValue::from_str(&format!("{https_base}/")));
    let mut response = text(StatusCode::PERMANENT_REDIRECT, String::new());
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(method: Method, uri: &str, host: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, host)
            .body(())
            .unwrap()
    }

    #[test]
    fn challenges_are_answered_and_the_rest_goes_to_https_on_the_relays_own_name() {
        let challenges = Challenges::default();
        challenges.add_http("tok-1", "tok-1.thumb");
        let base = "https://relay.example:8443";
        let answered = answer(
            &challenges,
            base,
            &get(Method::GET, "/.well-known/acme-challenge/tok-1", "x"),
        );
        assert_eq!(answered.status(), StatusCode::OK);
        let unknown = answer(
            &challenges,
            base,
            &get(Method::GET, "/.well-known/acme-challenge/nope", "x"),
        );
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let posted = answer(
            &challenges,
            base,
            &get(Method::POST, "/.well-known/acme-challenge/tok-1", "x"),
        );
        assert_eq!(posted.status(), StatusCode::NOT_FOUND);

        let moved = answer(
            &challenges,
            base,
            &get(Method::POST, "/ch/hook?a=1", "evil.example"),
        );
        assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            moved.headers()[header::LOCATION],
            "https://relay.example:8443/ch/hook?a=1"
        );
        let absolute = answer(
            &challenges,
            base,
            &get(Method::GET, "http://evil.example/x", "evil.example"),
        );
        assert_eq!(
            absolute.headers()[header::LOCATION],
            "https://relay.example:8443/x"
        );
        challenges.clear();
        let cleared = answer(
            &challenges,
            base,
            &get(Method::GET, "/.well-known/acme-challenge/tok-1", "x"),
        );
        assert_eq!(cleared.status(), StatusCode::NOT_FOUND);
    }
}
