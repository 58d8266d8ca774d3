//! End-to-end: real relay, real client engine, real local server, real sockets.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole::engine::EngineError;
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
        let expected: Vec<(String, Vec<u8>)> = vec![
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
            ("host".into(), target.addr.to_string().into_bytes()),
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
            matches!(e, Event::Listeners { count: 2 })
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
            matches!(e, Event::Listeners { count: 1 })
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
        c.memory = Some((
            hookhole::memory::ChannelMemory::new(data.path()),
            relay.url(),
        ));
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
async fn another_protocol_version_is_refused_with_a_clear_reason() {
    let relay = TestRelay::start().await;
    let mut config = engine_config(&relay.url(), Some("v"), "http://127.0.0.1:9");
    config.protocol_version = 99;
    let (tx, mut events) = tokio::sync::mpsc::channel(16);
    let result = within(
        "the engine to give up",
        hookhole::engine::run(config, tx, tokio_util::sync::CancellationToken::new()),
    )
    .await;
    let Err(EngineError::Refused { code, reason }) = result else {
        panic!("expected a refusal, got {result:?}");
    };
    assert_eq!(code, hookhole_shared::protocol::close::UNSUPPORTED_VERSION);
    assert!(
        reason.contains("unsupported protocol version 99"),
        "{reason}"
    );
    assert!(reason.contains("version 1"), "{reason}");
    let event = events.recv().await.unwrap();
    assert!(
        matches!(&event, Event::Connection(c) if c.state == LinkState::Failed),
        "{event:?}"
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
async fn a_garbage_speaking_peer_is_closed_and_others_keep_working() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let good = TestClient::start(&relay.url(), Some("shared"), &target.url()).await;

    let url = format!("ws://{}/_hookhole/connect", relay.addr);
    let (mut bad, _) = within(
        "a raw websocket",
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap();
    bad.send(Message::text(
        r#"{"type":"hello","version":1,"channel":"shared"}"#,
    ))
    .await
    .unwrap();
    // Welcome first, then garbage from us.
    let welcome = within("welcome", bad.next()).await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("\"welcome\""));
    bad.send(Message::Binary(vec![0xff, 0xff, 0xff, 0xff, 1].into()))
        .await
        .unwrap();
    let closed = within("the relay to close the bad peer", async {
        loop {
            match bad.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame with a code");
    assert_eq!(
        u16::from(closed.code),
        hookhole_shared::protocol::close::PROTOCOL_ERROR
    );
    assert!(closed.reason.contains("malformed"), "{}", closed.reason);

    let sent = post(&format!("{}/x", good.public_url), b"still here").await;
    assert_eq!((sent.status, sent.body.as_ref()), (200, &b"still here"[..]));
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
async fn a_silent_peer_is_closed_after_the_heartbeat_timeout() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let config = RelayConfig {
        heartbeat_interval: Duration::from_millis(50),
        heartbeat_timeout: Duration::from_millis(200),
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config).await;
    let url = format!("ws://{}/_hookhole/connect", relay.addr);
    let (mut peer, _) = within(
        "a raw websocket",
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap();
    peer.send(Message::text(
        r#"{"type":"hello","version":1,"channel":"quiet"}"#,
    ))
    .await
    .unwrap();
    // Read (so pings get answered at the websocket layer) but never send a
    // protocol message: the relay must give up on us.
    let mut heartbeats = 0;
    let frame = within("the relay to drop a silent peer", async {
        loop {
            match peer.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Text(t))) if t.as_str().contains("heartbeat") => heartbeats += 1,
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame with a code");
    assert_eq!(
        u16::from(frame.code),
        hookhole_shared::protocol::close::HEARTBEAT_TIMEOUT
    );
    assert!(heartbeats >= 2, "the relay sent {heartbeats} heartbeats");
    // The relay forgets the peer right after closing it.
    let health_url = format!("{}/_hookhole/health", relay.url());
    within("the relay to forget the peer", async {
        while send("GET", &health_url, &[], b"").await.json()["clients"] != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
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
            bytes: 1024,
            age: Duration::from_secs(3600),
        },
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config.clone()).await;
    let url = format!("{}/away/x", relay.url());
    assert_eq!(post(&url, b"{\"n\":1}").await.status, 202);
    let too_big = post(&url, &vec![b'x'; 2048]).await;
    assert_eq!(too_big.status, 507);
    assert_eq!(too_big.json()["code"], "buffer_bytes_full");
    assert_eq!(post(&url, b"{\"n\":2}").await.status, 202);
    let too_many = post(&url, b"{\"n\":3}").await;
    assert_eq!(too_many.status, 429);
    assert_eq!(too_many.json()["code"], "buffer_full");
    assert_eq!(too_many.header("retry-after"), Some(&b"60"[..]));
    let health = send(
        "GET",
        &format!("{}/_hookhole/health", relay.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(health.json()["buffered"], 2);

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

async fn refusal(relay: &TestRelay, channel: Option<&str>, token: Option<&str>) -> String {
    let mut config = engine_config(&relay.url(), channel, "http://127.0.0.1:9");
    config.token = token.map(|t| hookhole_shared::protocol::Token(t.to_string()));
    let (tx, _events) = tokio::sync::mpsc::channel(16);
    let result = within(
        "the engine to be refused",
        hookhole::engine::run(config, tx, tokio_util::sync::CancellationToken::new()),
    )
    .await;
    match result {
        Err(EngineError::Refused { code, reason }) => {
            assert_eq!(code, hookhole_shared::protocol::close::UNAUTHORIZED);
            reason
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn tokens_are_required_and_a_channel_belongs_to_the_token_that_claimed_it() {
    let data = tempfile::tempdir().unwrap();
    let (alice, bob) = ("alice-token-0123456789", "bob-token-012345678901");
    let mut tokens = hookhole_relay::auth::Tokens::default();
    tokens.add(alice).unwrap();
    tokens
        .add(&format!("sha256:{}", hookhole_relay::auth::owner_id(bob)))
        .unwrap();
    let config = RelayConfig {
        tokens,
        data_dir: Some(data.path().to_path_buf()),
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config.clone()).await;
    assert!(
        refusal(&relay, Some("shop"), None)
            .await
            .contains("requires a token")
    );
    assert!(
        refusal(&relay, Some("shop"), Some("not-a-real-token-000"))
            .await
            .contains("not accepted")
    );

    let target = TestTarget::echo().await;
    let mut owner = engine_config(&relay.url(), Some("shop"), &target.url());
    owner.token = Some(hookhole_shared::protocol::Token(alice.into()));
    let alice_client = TestClient::start_with(owner).await;
    assert!(
        refusal(&relay, Some("shop"), Some(bob))
            .await
            .contains("belongs to another token")
    );
    let mut elsewhere = engine_config(&relay.url(), Some("bobs"), &target.url());
    elsewhere.token = Some(hookhole_shared::protocol::Token(bob.into()));
    TestClient::start_with(elsewhere).await;
    assert_eq!(
        post(&format!("{}/x", alice_client.public_url), b"{}")
            .await
            .status,
        200
    );

    // Ownership outlives the relay.
    relay.stop().await;
    let relay = TestRelay::start_with(config).await;
    assert!(
        refusal(&relay, Some("shop"), Some(bob))
            .await
            .contains("belongs to another token")
    );
}

#[tokio::test]
async fn an_anonymous_public_relay_hands_out_random_channel_names_only() {
    let relay = TestRelay::start_with(RelayConfig {
        anonymous_random_only: true,
        ..RelayConfig::default()
    })
    .await;
    assert!(
        refusal(&relay, Some("stripe-dev"), None)
            .await
            .contains("random channel names only")
    );
    let target = TestTarget::echo().await;
    let first = TestClient::start(&relay.url(), None, &target.url()).await;
    assert_eq!(first.channel.len(), 26);
    // Holding the assigned name is the permission: the client may come back to it.
    let again = TestClient::start(&relay.url(), Some(&first.channel), &target.url()).await;
    assert_eq!(again.channel, first.channel);
}

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
async fn oversized_messages_and_ping_floods_get_a_close_code_and_others_keep_working() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let relay = TestRelay::start_with(RelayConfig {
        max_body: 1024,
        ..RelayConfig::default()
    })
    .await;
    let target = TestTarget::echo().await;
    let good = TestClient::start(&relay.url(), Some("calm"), &target.url()).await;
    let url = format!("ws://{}/_hookhole/connect", relay.addr);

    async fn hostile(
        url: &str,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
    {
        let (mut ws, _) = within("a raw websocket", tokio_tungstenite::connect_async(url))
            .await
            .unwrap();
        ws.send(Message::text(
            r#"{"type":"hello","version":1,"channel":"calm"}"#,
        ))
        .await
        .unwrap();
        within("welcome", ws.next()).await.unwrap().unwrap();
        ws
    }
    async fn close_code(
        ws: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> u16 {
        within("a close frame", async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                    Some(Ok(_)) => continue,
                    other => panic!("expected a close frame, got {other:?}"),
                }
            }
        })
        .await
    }

    // The relay allows its body limit plus 2 MiB of header room per message.
    let mut big = hostile(&url).await;
    let _ = big
        .send(Message::Binary(vec![0u8; 3 * 1024 * 1024].into()))
        .await;
    assert_eq!(close_code(&mut big).await, 1009);

    let mut flood = hostile(&url).await;
    for _ in 0..200 {
        if flood.send(Message::Ping(vec![1].into())).await.is_err() {
            break;
        }
    }
    assert_eq!(
        close_code(&mut flood).await,
        hookhole_shared::protocol::close::PROTOCOL_ERROR
    );

    let sent = post(&format!("{}/x", good.public_url), b"{}").await;
    assert_eq!((sent.status, sent.body.as_ref()), (200, &b"{}"[..]));
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
    // The client's link and one idle connection fill the relay.
    let held = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
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
    use futures_util::StreamExt;
    use hookhole_relay::limits::Limits;
    use tokio_tungstenite::tungstenite::Message;

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
    let ws_url = format!("ws://{}/_hookhole/connect", relay.addr);
    let (mut silent, _) = within(
        "a raw websocket",
        tokio_tungstenite::connect_async(ws_url.as_str()),
    )
    .await
    .unwrap();
    let code = within("the close", async {
        loop {
            match silent.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(code, hookhole_shared::protocol::close::HEARTBEAT_TIMEOUT);
    assert_eq!(
        post(&format!("{}/after", client.public_url), b"{}")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn redirects_from_the_local_server_are_returned_never_followed() {
    let relay = TestRelay::start().await;
    let mut target = TestTarget::start(|_| async {
        Reply {
            status: 302,
            headers: vec![("Location".into(), b"http://127.0.0.2:9/elsewhere".to_vec())],
            body: Vec::new(),
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("redirect"), &target.url()).await;
    let sent = post(&format!("{}/x", client.public_url), b"{}").await;
    assert_eq!(sent.status, 302, "the sender sees the redirect");
    assert_eq!(
        sent.header("location"),
        Some(&b"http://127.0.0.2:9/elsewhere"[..])
    );
    target.next_request().await;
    assert!(
        target.requests.try_recv().is_err(),
        "exactly one request reached the local server"
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

#[tokio::test]
async fn nothing_in_a_delivery_steers_the_client_away_from_its_target() {
    let relay = TestRelay::start().await;
    let mut target = TestTarget::echo().await;
    let _client = TestClient::start(&relay.url(), Some("steer"), &target.url()).await;
    // Each target names another host (127.0.0.2:9 has nothing listening).
    let hostile = [
        ("http://127.0.0.2:9/steer/abs", "/abs"),
        ("/steer//127.0.0.2:9/x", "//127.0.0.2:9/x"),
        ("/steer/@127.0.0.2:9/x", "/@127.0.0.2:9/x"),
        ("/steer/../../x", "/../../x"),
    ];
    for (request_target, expected) in hostile {
        let head = format!(
            "POST {request_target} HTTP/1.1\r\n\
             Host: 127.0.0.2:9\r\n\
             X-Forwarded-Host: attacker.example\r\n\
             Content-Length: 2\r\n\r\n"
        );
        let sent = raw_request(relay.addr, &head, b"{}").await;
        assert_eq!(sent.status, 200, "{request_target}");
        let got = target.next_request().await;
        assert_eq!(got.target, expected, "{request_target}");
        assert_eq!(
            got.header("host"),
            Some(target.addr.to_string().as_bytes()),
            "{request_target}"
        );
        // The relay's own X-Forwarded-Host (the Host the sender used) is
        // the only one: the outside value is gone.
        let forwarded_hosts: Vec<_> = got
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-host"))
            .map(|(_, v)| v.as_slice())
            .collect();
        assert_eq!(forwarded_hosts, [&b"127.0.0.2:9"[..]], "{request_target}");
    }
}

#[tokio::test]
async fn relay_errors_are_json_for_browsers_too_and_echo_nothing_from_the_request() {
    let relay = TestRelay::start().await;
    let marker = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for path in [
        format!("/{marker}/x"),
        format!("/nobody/{marker}?q={marker}"),
        format!("/_hookhole/{marker}"),
    ] {
        let sent = send(
            "GET",
            &format!("{}{path}", relay.url()),
            &[("accept", "text/html,application/xhtml+xml")],
            b"",
        )
        .await;
        assert!(sent.status >= 400, "{path}: {}", sent.status);
        assert_eq!(
            sent.header("content-type"),
            Some(&b"application/json"[..]),
            "{path}"
        );
        assert_eq!(
            sent.header("x-content-type-options"),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        let body = String::from_utf8_lossy(&sent.body).to_lowercase();
        assert!(
            !body.contains("script") && !body.contains("%3c") && !body.contains('<'),
            "{path}: {body}"
        );
        assert!(sent.json()["code"].is_string(), "{path}");
    }
}
