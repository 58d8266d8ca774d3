//! Senders that try to tie up the relay: stalled and trickling bodies,
//! floods of connections, heads that are too slow or too large. Each is
//! cut with the relay's JSON error while real webhooks and clients still
//! get through.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole_relay::RelayConfig;
use hookhole_relay::body::Pace;
use hookhole_relay::limits::Limits;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A sender that sends its head and the start of its body, then nothing.
async fn stalled_sender(relay: std::net::SocketAddr, path: &str, chunked: bool) -> TcpStream {
    let mut stream = TcpStream::connect(relay).await.unwrap();
    let head = if chunked {
        format!(
            "POST {path} HTTP/1.1\r\nhost: relay\r\ntransfer-encoding: chunked\r\n\r\n10\r\n{{\"partial"
        )
    } else {
        format!("POST {path} HTTP/1.1\r\nhost: relay\r\ncontent-length: 1000\r\n\r\n{{\"partial")
    };
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

fn relay_config(connections: usize, body_timeout: Duration) -> RelayConfig {
    RelayConfig {
        limits: Limits {
            connections,
            body_pace: Pace {
                timeout: body_timeout,
                min_rate: 1024,
            },
            ..Limits::default()
        },
        ..RelayConfig::default()
    }
}

#[tokio::test]
async fn stalled_bodies_at_the_cap_get_408_while_a_client_connects_and_a_real_webhook_gets_through()
{
    let relay = TestRelay::start_with(relay_config(4, Duration::from_secs(3))).await;
    let target = TestTarget::echo().await;
    let flooded = TestClient::start(&relay.url(), Some("flooded"), &target.url()).await;

    let mut stalled = Vec::new();
    for i in 0..4 {
        stalled.push(stalled_sender(relay.addr, "/flooded/x", i % 2 == 0).await);
    }
    // The webhook budget is full: a real webhook is refused for now.
    let refused = within("the webhook budget to fill", async {
        loop {
            let sent = post(&format!("{}/x", flooded.public_url), b"{}").await;
            if sent.status == 503 {
                return sent;
            }
        }
    })
    .await;
    assert_eq!(refused.json()["code"], "too_many_connections");

    // A client still connects: its link counts against its own budget.
    let late = TestClient::start(&relay.url(), Some("late"), &target.url()).await;
    let still = post(&format!("{}/x", late.public_url), b"{}").await;
    assert_eq!(
        still.status, 503,
        "the stalled senders still hold the budget"
    );

    for mut stream in stalled {
        let cut = response_on(&mut stream).await;
        assert_eq!(cut.status, 408);
        assert_eq!(cut.json()["code"], "body_timeout", "{:?}", cut.json());
        assert_eq!(cut.header("connection"), Some(&b"close"[..]));
    }
    let answered = within("a real webhook to get through", async {
        loop {
            let sent = post(&format!("{}/real", late.public_url), b"{\"real\":1}").await;
            if sent.status != 503 {
                return sent;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(answered.status, 200);
    assert_eq!(&answered.body[..], b"{\"real\":1}");
    let metrics = relay.metrics_with("code=\"body_timeout\"} 4").await;
    assert!(
        metrics.contains("hookhole_connections{class=\"client\"} 2"),
        "{metrics}"
    );
}

/// A sender that sends the start of a head and nothing more, and opens a
/// new such connection as soon as the relay closes it, until `stop`.
async fn slow_head_attacker(
    relay: std::net::SocketAddr,
    opened: tokio::sync::mpsc::Sender<()>,
    stop: tokio_util::sync::CancellationToken,
) {
    while !stop.is_cancelled() {
        let Ok(mut stream) = TcpStream::connect(relay).await else {
            continue;
        };
        if stream.write_all(b"POST /x HTTP/1.1\r\n").await.is_err() {
            continue;
        }
        let _ = opened.try_send(());
        let mut buf = [0u8; 1024];
        let held = async {
            while matches!(tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await, Ok(n) if n > 0)
            {
            }
        };
        tokio::select! {
            () = held => {}
            () = stop.cancelled() => return,
        }
    }
}

#[tokio::test]
async fn slow_heads_filling_the_budget_and_reconnecting_lock_out_neither_clients_nor_webhooks() {
    // The head timeout is beyond the test's patience: only evicting the
    // longest-waiting connection can make room.
    let relay = TestRelay::start_with(RelayConfig {
        limits: Limits {
            connections: 5,
            client_connections: 2,
            header_timeout: WAIT * 2,
            ..Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;
    let target = TestTarget::echo().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let (opened, mut first_heads) = tokio::sync::mpsc::channel(64);
    let attackers: Vec<_> = (0..5)
        .map(|_| tokio::spawn(slow_head_attacker(relay.addr, opened.clone(), stop.clone())))
        .collect();
    for _ in 0..5 {
        within("the attackers to fill the budget", first_heads.recv()).await;
    }

    let client = TestClient::start(&relay.url(), Some("held"), &target.url()).await;
    let answered = within("a real webhook to get through", async {
        loop {
            let sent = post(&format!("{}/real", client.public_url), b"{\"real\":1}").await;
            if sent.status == 200 {
                return sent;
            }
        }
    })
    .await;
    assert_eq!(&answered.body[..], b"{\"real\":1}");
    let metrics = relay.metrics_with("code=\"header_evicted\"}").await;
    assert!(
        !metrics.contains("code=\"too_many_connections\""),
        "nobody was refused: {metrics}"
    );
    // The attackers were still at it: the evicted ones came back.
    within("an attacker to reconnect", first_heads.recv()).await;
    stop.cancel();
    for attacker in attackers {
        attacker.await.unwrap();
    }
}

#[tokio::test]
async fn a_chunked_body_trickling_a_byte_at_a_time_is_cut_with_408() {
    let relay = TestRelay::start_with(relay_config(16, Duration::from_secs(1))).await;
    let target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("trickle"), &target.url()).await;
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    let head = "POST /trickle/x HTTP/1.1\r\nhost: relay\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One byte per chunk, five a second: far below 1 KiB/s.
    let trickle = tokio::spawn(async move {
        while writer.write_all(b"1\r\nx\r\n").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = Vec::new();
    within("the 408", async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") || !buf.ends_with(b"}") {
            let mut chunk = [0u8; 1024];
            let n = tokio::io::AsyncReadExt::read(&mut reader, &mut chunk)
                .await
                .unwrap();
            assert!(n > 0, "closed without an answer");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    trickle.abort();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"body_too_slow\""), "{text}");
    assert!(target_is_untouched(target).await);
    drop(client);
}

/// Nothing reached the local server.
async fn target_is_untouched(mut target: TestTarget) -> bool {
    target.requests.try_recv().is_err()
}

#[tokio::test]
async fn many_channels_each_under_their_limit_meet_the_relay_wide_bound_with_507() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start_with(RelayConfig {
        data_dir: Some(dir.path().to_path_buf()),
        buffer_limits: hookhole_relay::buffer::Limits {
            bytes: 64 * 1024,
            total_bytes: 100 * 1024,
            ..hookhole_relay::buffer::Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;
    let body = vec![b'x'; 30 * 1024];
    let mut answers = Vec::new();
    for i in 0..5 {
        answers.push(post(&format!("{}/spread-{i}/x", relay.url()), &body).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [202, 202, 202, 507, 507],
        "each channel is under its own limit"
    );
    assert_eq!(answers[3].json()["code"], "relay_buffer_bytes_full");
    relay
        .metrics_with("code=\"relay_buffer_bytes_full\"} 2")
        .await;
}

#[tokio::test]
async fn on_a_token_relay_an_unclaimed_channel_gets_404_and_a_claimed_one_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let token = "hostile-senders-token-0123456789";
    let mut config = RelayConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..RelayConfig::default()
    };
    config.tokens.add(token).unwrap();
    let relay = TestRelay::start_with(config).await;
    let target = TestTarget::echo().await;
    let mut engine = engine_config(&relay.url(), Some("claimed"), &target.url());
    engine.token = Some(hookhole_shared::protocol::Token(token.into()));
    let client = TestClient::start_with(engine).await;
    client.stop().await.unwrap();

    let unclaimed = post(&format!("{}/nobody/x", relay.url()), b"{}").await;
    assert_eq!(unclaimed.status, 404);
    assert_eq!(unclaimed.json()["code"], "unknown_channel");
    let claimed = post(&format!("{}/claimed/x", relay.url()), b"{}").await;
    assert_eq!(claimed.status, 202, "{:?}", claimed.json());
    assert_eq!(claimed.json()["queued"], true);
}

/// The `Forwarded` and `X-Real-IP` headers the local server sees.
/// The headers that tell a local server where a request came from, other
/// than `X-Forwarded-For/-Proto/-Host` (tested in `security`), in any
/// spelling a framework would read.
fn forwarding_headers(got: &Recorded) -> Vec<(String, Vec<u8>)> {
    got.headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| {
            // Any underscore spelling is a sender's, as the relay writes none.
            n.contains('_')
                || ["forwarded", "x-real-ip"].contains(&n.as_str())
                || hookhole_relay::forwarded::CLAIMS.contains(&n.as_str())
        })
        .collect()
}

#[tokio::test]
async fn forwarded_x_real_ip_and_other_origin_claims_are_replaced_unless_a_trusted_proxy_set_them()
{
    let stranger_said = [
        ("forwarded", "for=6.6.6.6;host=evil.example;proto=https"),
        ("x-real-ip", "6.6.6.6"),
        // WSGI, Rack and PHP read these as HTTP_X_FORWARDED_FOR, HTTP_X_REAL_IP.
        ("X_Forwarded_For", "6.6.6.6"),
        ("X_Real_IP", "6.6.6.6"),
        ("True-Client-IP", "6.6.6.6"),
        ("CF-Connecting-IP", "6.6.6.6"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Prefix", "/admin"),
        ("Client-IP", "6.6.6.6"),
    ];
    let relay = TestRelay::start().await;
    let mut target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("fwd"), &target.url()).await;
    let sent = send(
        "POST",
        &format!("{}/x", client.public_url),
        &stranger_said,
        b"{}",
    )
    .await;
    assert_eq!(sent.status, 200);
    let got = target.next_request().await;
    assert_eq!(
        forwarding_headers(&got),
        [
            (
                "forwarded".to_string(),
                format!("for=127.0.0.1;proto=http;host=\"{}\"", relay.addr).into_bytes()
            ),
            ("x-real-ip".to_string(), b"127.0.0.1".to_vec()),
        ]
    );

    let proxied = TestRelay::start_with(RelayConfig {
        trusted_proxies: vec![hookhole_relay::forwarded::parse_proxy("127.0.0.0/8").unwrap()],
        ..RelayConfig::default()
    })
    .await;
    let behind = TestClient::start(&proxied.url(), Some("fwd"), &target.url()).await;
    let proxy_said = [
        ("forwarded", "for=203.0.113.9;proto=https"),
        ("x-real-ip", "203.0.113.9"),
        ("True-Client-IP", "203.0.113.9"),
        ("X-Forwarded-Port", "443"),
    ];
    let sent = send(
        "POST",
        &format!("{}/x", behind.public_url),
        &proxy_said,
        b"{}",
    )
    .await;
    assert_eq!(sent.status, 200);
    let got = target.next_request().await;
    assert_eq!(
        forwarding_headers(&got),
        [
            ("true-client-ip".to_string(), b"203.0.113.9".to_vec()),
            ("x-forwarded-port".to_string(), b"443".to_vec()),
            (
                "forwarded".to_string(),
                b"for=203.0.113.9;proto=https, for=127.0.0.1".to_vec()
            ),
            ("x-real-ip".to_string(), b"203.0.113.9".to_vec()),
        ]
    );
}

#[tokio::test]
async fn slow_long_and_large_heads_get_json_errors_and_are_counted() {
    let relay = TestRelay::start_with(RelayConfig {
        limits: Limits {
            header_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;

    let mut slow = TcpStream::connect(relay.addr).await.unwrap();
    slow.write_all(b"POST /slow/x HTTP/1.1\r\nhost: relay\r\nx-waiting: ")
        .await
        .unwrap();
    let timed_out = response_on(&mut slow).await;
    assert_eq!(timed_out.status, 408);
    assert_eq!(timed_out.json()["code"], "header_timeout");

    let long_target = format!("/long/{}", "a".repeat(9000));
    let head = format!("GET {long_target} HTTP/1.1\r\nhost: relay\r\n\r\n");
    let long = raw_request(relay.addr, &head, b"").await;
    assert_eq!(long.status, 414);
    assert_eq!(long.json()["code"], "uri_too_long");

    let head = format!(
        "POST /large/x HTTP/1.1\r\nhost: relay\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
        "v".repeat(80 * 1024)
    );
    let large = raw_request(relay.addr, &head, b"").await;
    assert_eq!(large.status, 431);
    assert_eq!(large.json()["code"], "headers_too_large");

    // A long target on a kept-alive connection, past the first head.
    let mut kept = TcpStream::connect(relay.addr).await.unwrap();
    kept.write_all(b"GET /_hookhole/health HTTP/1.1\r\nhost: relay\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(response_on(&mut kept).await.status, 200);
    let head = format!("GET {long_target} HTTP/1.1\r\nhost: relay\r\n\r\n");
    kept.write_all(head.as_bytes()).await.unwrap();
    let later = response_on(&mut kept).await;
    assert_eq!(later.status, 414);
    assert_eq!(later.json()["code"], "uri_too_long");

    // Beyond hyper's own bound (64 KiB) hyper answers a bare 414 itself:
    // documented, and still counted.
    let mut kept = TcpStream::connect(relay.addr).await.unwrap();
    kept.write_all(b"GET /_hookhole/health HTTP/1.1\r\nhost: relay\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(response_on(&mut kept).await.status, 200);
    let head = format!(
        "GET /h/{} HTTP/1.1\r\nhost: relay\r\n\r\n",
        "a".repeat(70_000)
    );
    kept.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(response_on(&mut kept).await.status, 414);

    let metrics = relay.metrics_with("code=\"uri_too_long\"} 3").await;
    assert!(metrics.contains("code=\"header_timeout\"} 1"), "{metrics}");
    assert!(
        metrics.contains("code=\"headers_too_large\"} 1"),
        "{metrics}"
    );
}
