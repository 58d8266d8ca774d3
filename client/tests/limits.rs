//! The relay's limits: each refusal is a clear error, counted in the
//! metrics, and the relay keeps serving well-behaved senders and clients.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole::events::{Event, LinkState};
use hookhole_relay::RelayConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[tokio::test]
async fn per_channel_limits_refuse_with_json_and_retry_after_and_are_counted() {
    use hookhole_relay::limits::Limits;
    let relay = TestRelay::start_with(RelayConfig {
        limits: Limits {
            rate: 1.0,
            burst: 3.0,
            in_flight: 1000,
            clients: 1,
            ..Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;
    let target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("limited"), &target.url()).await;
    for _ in 0..3 {
        assert_eq!(
            post(&format!("{}/x", client.public_url), b"{}")
                .await
                .status,
            200
        );
    }
    let limited = post(&format!("{}/x", client.public_url), b"{}").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["code"], "rate_limited");
    assert!(limited.header("retry-after").is_some());
    // Other channels are not affected by one channel's rate.
    let other = post(&format!("{}/elsewhere/x", relay.url()), b"{}").await;
    assert_eq!(other.json()["code"], "no_listener");

    // One client is the limit here: a second is refused, and told why.
    let mut second = engine_config(&relay.url(), Some("limited"), &target.url());
    second.handshake_timeout = Duration::from_secs(5);
    let (tx, mut events) = tokio::sync::mpsc::channel(16);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let engine = tokio::spawn(hookhole::engine::run(second, tx, shutdown.clone()));
    let event = within("the refusal", events.recv()).await.unwrap();
    let Event::Connection(c) = event else {
        panic!("expected a connection event, got {event:?}")
    };
    assert_eq!(
        c.state,
        LinkState::Reconnecting,
        "a full channel is worth retrying later"
    );
    assert!(c.reason.unwrap().contains("already has 1 clients"));
    shutdown.cancel();
    let _ = engine.await;

    let text = relay
        .metrics_with("hookhole_rejections_total{code=\"rate_limited\"} 1")
        .await;
    assert!(
        text.contains("hookhole_rejections_total{code=\"no_listener\"} 1"),
        "{text}"
    );
    assert!(text.contains("hookhole_deliveries_total 3"), "{text}");
    assert!(text.contains("hookhole_clients 1"), "{text}");
}

#[tokio::test]
async fn too_many_headers_get_a_json_431_and_the_relay_keeps_serving() {
    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("heads"), &target.url()).await;
    let many: Vec<(String, String)> = (0..120)
        .map(|i| (format!("x-h{i}"), "v".to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let sent = send("POST", &format!("{}/x", client.public_url), &refs, b"{}").await;
    assert_eq!(sent.status, 431);
    assert_eq!(sent.json()["code"], "headers_too_large");
    let ok = post(&format!("{}/x", client.public_url), b"{}").await;
    assert_eq!(ok.status, 200);
    relay.metrics_with("code=\"headers_too_large\"} 1").await;
}

#[tokio::test]
async fn connections_beyond_the_cap_get_a_json_503_and_metrics_show_bytes_and_latency() {
    use hookhole_relay::limits::Limits;
    let relay = TestRelay::start_with(RelayConfig {
        limits: Limits {
            connections: 2,
            ..Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;
    let target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("capped"), &target.url()).await;
    assert_eq!(
        post(&format!("{}/x", client.public_url), b"12345")
            .await
            .status,
        200
    );
    // Two webhooks whose bodies have not arrived fill the webhook budget
    // (the client's link counts apart).
    let mut held = Vec::new();
    for _ in 0..2 {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
        let head = "POST /capped/x HTTP/1.1\r\nhost: relay\r\ncontent-length: 100\r\n\r\n{";
        stream.write_all(head.as_bytes()).await.unwrap();
        held.push(stream);
    }
    let refused = within("the refusal", async {
        loop {
            let sent = post(&format!("{}/x", client.public_url), b"{}").await;
            if sent.status == 503 {
                return sent;
            }
        }
    })
    .await;
    assert_eq!(refused.json()["code"], "too_many_connections");
    drop(held);
    within("room again", async {
        while post(&format!("{}/x", client.public_url), b"{}")
            .await
            .status
            != 200
        {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let metrics = relay.metrics_with("code=\"too_many_connections\"}").await;
    assert!(metrics.contains("hookhole_bytes_total "), "{metrics}");
    assert!(
        metrics.contains("hookhole_delivery_seconds_bucket{le=\"+Inf\"} "),
        "{metrics}"
    );
    assert!(
        !metrics.contains("hookhole_delivery_seconds_count 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn in_flight_limits_and_silent_handshakes_are_refused_and_others_keep_working() {
    use hookhole_relay::limits::Limits;

    let relay = TestRelay::start_with(RelayConfig {
        limits: Limits {
            in_flight: 1,
            ..Limits::default()
        },
        handshake_timeout: Duration::from_millis(200),
        ..RelayConfig::default()
    })
    .await;
    let release = Arc::new(Notify::new());
    let wait = release.clone();
    let mut target = TestTarget::start(move |req| {
        let wait = wait.clone();
        async move {
            if req.target == "/slow" {
                wait.notified().await;
            }
            Reply::ok("done")
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("busy"), &target.url()).await;
    let url = format!("{}/slow", client.public_url);
    let slow = tokio::spawn(async move { post(&url, b"{}").await });
    target.next_request().await;
    let refused = post(&format!("{}/fast", client.public_url), b"{}").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "too_many_in_flight");
    assert_eq!(refused.header("retry-after"), Some(&b"1"[..]));
    release.notify_waiters();
    assert_eq!(within("the slow one", slow).await.unwrap().status, 200);
    assert_eq!(
        post(&format!("{}/fast", client.public_url), b"{}")
            .await
            .status,
        200
    );

    // A peer that never says hello is closed (4008: a stall, retryable).
    let mut silent = raw_peer(relay.addr, None).await;
    assert_eq!(
        close_code(&mut silent).await,
        hookhole_shared::protocol::close::HEARTBEAT_TIMEOUT
    );
    assert_eq!(
        post(&format!("{}/after", client.public_url), b"{}")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_sender_that_never_finishes_its_headers_is_cut_off_and_others_are_served() {
    use hookhole_relay::limits::Limits;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = TestRelay::start_with(RelayConfig {
        limits: Limits {
            header_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;
    let target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("loris"), &target.url()).await;
    let mut slow = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    slow.write_all(b"POST /loris/x HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
        .await
        .unwrap();
    assert_eq!(
        post(&format!("{}/x", client.public_url), b"{}")
            .await
            .status,
        200,
        "a slow sender does not hold up the others"
    );
    // The relay hangs up: the read ends (with hyper's 408 or nothing).
    let mut rest = Vec::new();
    let read = within("the relay to hang up", slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok() || rest.is_empty(), "{read:?}");
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    relay.metrics_with("code=\"header_timeout\"} 1").await;
}
