//! End-to-end: real relay, real client engine, real local server, real sockets.

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

/// Names and values the sender sent, in order, as the local server saw them
/// (header names compare case-insensitively; HTTP/1 parsers lowercase them).
fn names_and_values(headers: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect()
}

#[tokio::test]
async fn exact_method_path_query_headers_and_body_reach_the_local_server() {
    let relay = TestRelay::start().await;
    let mut target = TestTarget::echo().await;
    let base = format!("{}/base", target.url());
    let _client = TestClient::start(&relay.url(), Some("exact"), &base).await;

    let ten_mib: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("binary", (0..=255u8).collect()),
        ("crlf", b"line one\r\nline two\r\n\r\n".to_vec()),
        ("invalid utf-8", vec![b'{', 0xc3, 0x28, 0xff, b'}']),
        ("empty", vec![]),
        ("10 MiB", ten_mib),
    ];
    for (what, body) in bodies {
        // Raw bytes on the wire so we control order, duplicates and case.
        let head = format!(
            "PUT /exact/x/y?q=1&b=%20two HTTP/1.1\r\n\
             Host: {addr}\r\n\
             Content-Type: application/octet-stream\r\n\
             X-Dup: one\r\n\
             X-Dup: Two, Three\r\n\
             Stripe-Signature: t=1,v1=AbC\r\n\
             X-Mixed: MiXeD   Case\r\n\
             Connection: keep-alive, X-Hop\r\n\
             X-Hop: drop me\r\n\
             Keep-Alive: timeout=5\r\n\
             X-Forwarded-For: 203.0.113.9\r\n\
             Content-Length: {len}\r\n\r\n",
            addr = relay.addr,
            len = body.len()
        );
        let sent = raw_request(relay.addr, &head, &body).await;
        assert_eq!(sent.status, 200, "{what}");
        assert_eq!(sent.body.as_ref(), body.as_slice(), "{what}: echoed body");

        let got = target.next_request().await;
        assert_eq!(got.method, "PUT", "{what}");
        assert_eq!(got.target, "/base/x/y?q=1&b=%20two", "{what}");
        assert_eq!(got.body, body, "{what}: body bytes");
        // Host first (RFC 9110 §7.2), from the forward target.
        let expected: Vec<(String, Vec<u8>)> = vec![
            ("host".into(), target.addr.to_string().into_bytes()),
            ("content-type".into(), b"application/octet-stream".to_vec()),
            ("x-dup".into(), b"one".to_vec()),
            ("x-dup".into(), b"Two, Three".to_vec()),
            ("stripe-signature".into(), b"t=1,v1=AbC".to_vec()),
            ("x-mixed".into(), b"MiXeD   Case".to_vec()),
            ("content-length".into(), body.len().to_string().into_bytes()),
            ("x-forwarded-for".into(), b"127.0.0.1".to_vec()),
            ("x-forwarded-proto".into(), b"http".to_vec()),
            (
                "x-forwarded-host".into(),
                relay.addr.to_string().into_bytes(),
            ),
            (
                "forwarded".into(),
                format!("for=127.0.0.1;proto=http;host=\"{}\"", relay.addr).into_bytes(),
            ),
            ("x-real-ip".into(), b"127.0.0.1".to_vec()),
        ];
        assert_eq!(names_and_values(&got.headers), expected, "{what}: headers");
    }
}

#[tokio::test]
async fn the_sender_gets_the_local_status_headers_and_body() {
    let relay = TestRelay::start().await;
    let target = TestTarget::start(|_| async {
        Reply {
            status: 418,
            headers: vec![
                ("X-Local".into(), b"Yes Indeed".to_vec()),
                ("Set-Cookie".into(), b"a=1".to_vec()),
                ("Set-Cookie".into(), b"b=2".to_vec()),
            ],
            body: vec![0, 1, 2, 0xff],
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("answers"), &target.url()).await;
    let sent = post(&format!("{}/hook", client.public_url), b"{}").await;
    assert_eq!(sent.status, 418);
    assert_eq!(sent.body.as_ref(), &[0, 1, 2, 0xff]);
    assert_eq!(sent.header("x-local"), Some(&b"Yes Indeed"[..]));
    let cookies: Vec<_> = sent
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(cookies, vec![b"a=1".to_vec(), b"b=2".to_vec()]);
}

#[tokio::test]
async fn a_slow_local_server_gets_504_after_the_response_timeout() {
    let release = Arc::new(Notify::new());
    let wait = release.clone();
    let config = RelayConfig {
        response_timeout: Duration::from_millis(300),
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config).await;
    let target = TestTarget::start(move |_| {
        let wait = wait.clone();
        async move {
            wait.notified().await;
            Reply::ok("too late")
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("slow"), &target.url()).await;
    let sent = post(&format!("{}/x", client.public_url), b"{}").await;
    release.notify_waiters();
    assert_eq!(sent.status, 504);
    let json = sent.json();
    assert_eq!(json["code"], "response_timeout");
    assert!(json["error"].as_str().unwrap().contains("300ms"), "{json}");
    assert_eq!(sent.header("content-type"), Some(&b"application/json"[..]));
}

#[tokio::test]
async fn a_dead_local_server_gets_502_naming_the_cause() {
    let relay = TestRelay::start().await;
    let dead = dead_port().await;
    let mut client = TestClient::start(&relay.url(), Some("down"), &format!("http://{dead}")).await;
    let sent = post(&format!("{}/x", client.public_url), b"{}").await;
    assert_eq!(sent.status, 502);
    let json = sent.json();
    assert_eq!(json["code"], "local_unreachable");
    let error = json["error"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        error.contains("refused") && error.contains(&dead.to_string()),
        "{error}"
    );

    let event = client
        .wait_for("delivery event", |e| matches!(e, Event::Delivery(_)))
        .await;
    let Event::Delivery(d) = event else {
        unreachable!()
    };
    assert_eq!(d.status, None);
    assert!(d.error.unwrap().starts_with("local_unreachable: "));
}

#[tokio::test]
async fn no_client_on_the_channel_gets_503_and_bad_paths_get_json_errors() {
    let relay = TestRelay::start().await;
    let base = relay.url();
    let sent = post(&format!("{base}/nobody/x"), b"{}").await;
    assert_eq!(sent.status, 503);
    assert_eq!(sent.json()["code"], "no_listener");

    let sent = post(&format!("{base}/Bad_Name/x"), b"{}").await;
    assert_eq!(sent.status, 404);
    assert_eq!(sent.json()["code"], "invalid_channel");
    let sent = send("GET", &format!("{base}/"), &[], b"").await;
    assert_eq!(sent.status, 404);
    assert_eq!(sent.json()["code"], "not_found");
    let sent = send("GET", &format!("{base}/_hookhole/nope"), &[], b"").await;
    assert_eq!(sent.status, 404);

    let health = send("GET", &format!("{base}/_hookhole/health"), &[], b"").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(health.json()["clients"], 0);
}

#[tokio::test]
async fn a_slow_handler_does_not_delay_a_fast_one() {
    let relay = TestRelay::start().await;
    let release = Arc::new(Notify::new());
    let wait = release.clone();
    let target = TestTarget::start(move |req| {
        let wait = wait.clone();
        async move {
            if req.target.ends_with("/slow") {
                // Held until the fast delivery has completed: if deliveries
                // were handled one at a time, the test would time out.
                wait.notified().await;
            }
            Reply::ok(req.target)
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("mixed"), &target.url()).await;
    let slow_url = format!("{}/slow", client.public_url);
    let slow = tokio::spawn(async move { post(&slow_url, b"{}").await });
    // Make sure the slow one is in flight before the fast one is sent.
    let mut target = target;
    assert_eq!(target.next_request().await.target, "/slow");
    let fast = post(&format!("{}/fast", client.public_url), b"{}").await;
    assert_eq!((fast.status, fast.body.as_ref()), (200, &b"/fast"[..]));
    assert!(!slow.is_finished());
    release.notify_waiters();
    let slow = within("the slow delivery", slow).await.unwrap();
    assert_eq!((slow.status, slow.body.as_ref()), (200, &b"/slow"[..]));
}

#[tokio::test]
async fn two_hundred_concurrent_deliveries_all_complete_correctly() {
    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let client = TestClient::start(&relay.url(), Some("load"), &target.url()).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let url = format!("{}/n/{i}", client.public_url);
        tasks.push(tokio::spawn(async move {
            let body = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i * 10));
            let sent = post(&url, body.as_bytes()).await;
            (sent.status, sent.body == body.as_bytes())
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, same) = within("a concurrent delivery", task).await.unwrap();
        assert_eq!(status, 200, "delivery {i}");
        assert!(same, "delivery {i} got another delivery's answer");
    }
}

#[tokio::test]
async fn two_clients_on_a_channel_both_receive_and_the_sender_gets_one_answer() {
    let relay = TestRelay::start().await;
    let mut first_target = TestTarget::start(|_| async { Reply::ok("first") }).await;
    let mut second_target = TestTarget::start(|_| async { Reply::ok("second") }).await;
    let mut first = TestClient::start(&relay.url(), Some("team"), &first_target.url()).await;
    assert_eq!(first.listeners, 1);
    let second = TestClient::start(&relay.url(), Some("team"), &second_target.url()).await;
    assert_eq!(second.listeners, 2);
    first
        .wait_for("listener count 2", |e| {
            matches!(e, Event::Listeners { count: 2, .. })
        })
        .await;

    let sent = post(&format!("{}/x", first.public_url), b"{\"fan\":\"out\"}").await;
    assert_eq!(sent.status, 200);
    assert!(
        sent.body == "first" || sent.body == "second",
        "{:?}",
        sent.body
    );
    assert_eq!(first_target.next_request().await.body, b"{\"fan\":\"out\"}");
    assert_eq!(
        second_target.next_request().await.body,
        b"{\"fan\":\"out\"}"
    );

    second.stop().await.unwrap();
    first
        .wait_for("listener count 1", |e| {
            matches!(e, Event::Listeners { count: 1, .. })
        })
        .await;
}

#[tokio::test]
async fn one_dead_local_server_does_not_hide_a_good_answer() {
    let relay = TestRelay::start().await;
    let dead = dead_port().await;
    let good = TestTarget::start(|_| async { Reply::ok("good") }).await;
    let _down = TestClient::start(&relay.url(), Some("split"), &format!("http://{dead}")).await;
    let up = TestClient::start(&relay.url(), Some("split"), &good.url()).await;
    for _ in 0..5 {
        let sent = post(&format!("{}/x", up.public_url), b"{}").await;
        assert_eq!((sent.status, sent.body.as_ref()), (200, &b"good"[..]));
    }
}

#[tokio::test]
async fn a_relay_assigned_channel_is_remembered_across_runs() {
    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let data = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = engine_config(&relay.url(), None, &target.url());
        c.memory = Some(hookhole::memory::ChannelMemory::new(data.path()));
        c
    };
    let first = TestClient::start_with(config()).await;
    let channel = first.channel.clone();
    assert_eq!(channel.len(), 26, "a random 128-bit name");
    first.stop().await.unwrap();
    let second = TestClient::start_with(config()).await;
    assert_eq!(second.channel, channel);
    assert_eq!(second.public_url, format!("{}/{channel}", relay.url()));
    // And it works: the URL pasted into the provider still reaches us.
    assert_eq!(
        post(&format!("{}/x", second.public_url), b"ok")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn shutdown_finishes_in_flight_deliveries_and_the_client_reconnects() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let relay = TestRelay::on(listener, RelayConfig::default());
    let release = Arc::new(Notify::new());
    let wait = release.clone();
    let mut target = TestTarget::start(move |req| {
        let wait = wait.clone();
        async move {
            if req.target == "/x" {
                wait.notified().await;
            }
            Reply::ok("finished")
        }
    })
    .await;
    let mut client = TestClient::start(&relay.url(), Some("drain"), &target.url()).await;
    let url = format!("{}/x", client.public_url);
    let in_flight = tokio::spawn(async move { post(&url, b"{}").await });
    target.next_request().await;

    // Shut down while the delivery is in flight: the relay stops accepting...
    relay.shutdown.cancel();
    within("the listener to close", async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // ...but the delivery still completes.
    release.notify_waiters();
    let sent = within("the in-flight delivery", in_flight).await.unwrap();
    assert_eq!((sent.status, sent.body.as_ref()), (200, &b"finished"[..]));
    relay.stop().await;

    let event = client
        .wait_for("the client to notice", |e| {
            matches!(e, Event::Connection(_))
        })
        .await;
    let Event::Connection(lost) = event else {
        unreachable!()
    };
    assert_eq!(lost.state, LinkState::Reconnecting);
    assert!(
        lost.reason
            .as_deref()
            .unwrap()
            .contains("relay shutting down"),
        "{lost:?}"
    );
    // With one relay there is nowhere else to go: the backoff applies.
    let first = hookhole::backoff::FIRST / 2;
    assert!(
        lost.retry_in_ms >= Some(first.as_millis() as u64),
        "{lost:?}"
    );

    // The relay comes back on the same address: the client reconnects.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _relay = TestRelay::on(listener, RelayConfig::default());
    client
        .wait_for(
            "reconnection",
            |e| matches!(e, Event::Connection(c) if c.state == LinkState::Connected),
        )
        .await;
    let sent = post(&format!("http://{addr}/drain/again"), b"{}").await;
    assert_eq!(sent.status, 200);
}

#[tokio::test]
async fn oversized_bodies_fail_cleanly_both_ways_and_the_link_survives() {
    let config = RelayConfig {
        max_body: 1024 * 1024,
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config).await;
    let target = TestTarget::start(|req| async move {
        if req.target == "/big-answer" {
            Reply::ok(vec![b'x'; 2 * 1024 * 1024])
        } else {
            Reply::ok("small")
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("limits"), &target.url()).await;

    let sent = post(
        &format!("{}/x", client.public_url),
        &vec![b'a'; 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(sent.status, 413);
    assert_eq!(sent.json()["code"], "body_too_large");

    let sent = post(&format!("{}/big-answer", client.public_url), b"{}").await;
    assert_eq!(sent.status, 502);
    assert_eq!(sent.json()["code"], "response_too_large");

    // Neither cost the link: the next delivery goes through.
    let sent = post(&format!("{}/x", client.public_url), b"{}").await;
    assert_eq!((sent.status, sent.body.as_ref()), (200, &b"small"[..]));
}

#[tokio::test]
async fn the_configured_public_url_is_what_the_client_is_told() {
    let config = RelayConfig {
        public_url: Some("https://hooks.example.com/".into()),
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config).await;
    let client = TestClient::start(&relay.url(), Some("named"), "http://127.0.0.1:9").await;
    assert_eq!(client.public_url, "https://hooks.example.com/named");
}

#[tokio::test]
async fn the_offline_buffer_refuses_clearly_beyond_its_limits_and_reject_mode_answers_503() {
    use hookhole_relay::buffer::Limits;
    use hookhole_relay::config::Offline;
    let data = tempfile::tempdir().unwrap();
    let config = RelayConfig {
        data_dir: Some(data.path().to_path_buf()),
        buffer_limits: Limits {
            count: 2,
            // Two small deliveries with their headers fit, a 4 KiB one does not.
            bytes: 2048,
            age: Duration::from_secs(3600),
            ..Limits::default()
        },
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config.clone()).await;
    let url = format!("{}/away/x", relay.url());
    assert_eq!(post(&url, b"{\"n\":1}").await.status, 202);
    let too_big = post(&url, &vec![b'x'; 4096]).await;
    assert_eq!(too_big.status, 507);
    assert_eq!(too_big.json()["code"], "buffer_bytes_full");
    assert_eq!(post(&url, b"{\"n\":2}").await.status, 202);
    let too_many = post(&url, b"{\"n\":3}").await;
    assert_eq!(too_many.status, 429);
    assert_eq!(too_many.json()["code"], "buffer_full");
    assert_eq!(too_many.header("retry-after"), Some(&b"60"[..]));
    let health = relay.health().await;
    assert_eq!(health["buffered"], 2);

    // A client takes what was kept, and the channel accepts again.
    let mut target = TestTarget::echo().await;
    let _client = TestClient::start(&relay.url(), Some("away"), &target.url()).await;
    assert_eq!(target.next_request().await.body, b"{\"n\":1}");
    assert_eq!(target.next_request().await.body, b"{\"n\":2}");
    assert_eq!(post(&url, b"{\"n\":4}").await.status, 200);

    let reject = TestRelay::start_with(RelayConfig {
        offline: Offline::Reject,
        ..config
    })
    .await;
    let sent = post(&format!("{}/away/x", reject.url()), b"{}").await;
    assert_eq!(
        (sent.status, sent.json()["code"].as_str()),
        (503, Some("no_listener"))
    );
}
