//! Who may listen, and hostile peers and senders: tokens, channel ownership,
//! bad websocket peers, requests that try to steer the client, error hygiene.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole::engine::EngineError;
use hookhole::events::{Event, LinkState};
use hookhole_relay::RelayConfig;
use std::time::Duration;

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
        refusal(&relay.url(), Some("shop"), None)
            .await
            .contains("requires a token")
    );
    assert!(
        refusal(&relay.url(), Some("shop"), Some("not-a-real-token-000"))
            .await
            .contains("not accepted")
    );

    let target = TestTarget::echo().await;
    let mut owner = engine_config(&relay.url(), Some("shop"), &target.url());
    owner.token = Some(hookhole_shared::protocol::Token(alice.into()));
    let alice_client = TestClient::start_with(owner).await;
    assert!(
        refusal(&relay.url(), Some("shop"), Some(bob))
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
        refusal(&relay.url(), Some("shop"), Some(bob))
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
        refusal(&relay.url(), Some("stripe-dev"), None)
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
async fn another_protocol_version_is_refused_naming_the_side_to_upgrade() {
    let relay = TestRelay::start().await;
    let cases = [
        (
            99,
            "the relay is older: it speaks protocol 2 and this client 99; upgrade the relay \
             (the relay said: this relay speaks protocol 2 and the client 99: upgrade the relay)",
        ),
        (
            1,
            "this client is older: the relay speaks protocol 2 and this client 1; upgrade hookhole \
             (the relay said: this relay speaks protocol 2 and the client 1: upgrade hookhole (the client))",
        ),
    ];
    for (version, expected) in cases {
        let mut config = engine_config(&relay.url(), Some("v"), "http://127.0.0.1:9");
        config.protocol_version = version;
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
        assert_eq!(reason, expected);
        let event = events.recv().await.unwrap();
        assert!(
            matches!(&event, Event::Connection(c) if c.state == LinkState::Failed),
            "{event:?}"
        );
    }
}

#[tokio::test]
async fn a_garbage_speaking_peer_is_closed_and_others_keep_working() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let good = TestClient::start(&relay.url(), Some("shared"), &target.url()).await;

    let mut bad = raw_peer(
        relay.addr,
        Some(r#"{"type":"hello","version":2,"channel":"shared"}"#),
    )
    .await;
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
    async fn hostile(relay: std::net::SocketAddr) -> RawWs {
        let mut ws = raw_peer(
            relay,
            Some(r#"{"type":"hello","version":2,"channel":"calm"}"#),
        )
        .await;
        within("welcome", ws.next()).await.unwrap().unwrap();
        ws
    }

    // The relay allows its body limit plus 2 MiB of header room per message.
    let mut big = hostile(relay.addr).await;
    let _ = big
        .send(Message::Binary(vec![0u8; 3 * 1024 * 1024].into()))
        .await;
    assert_eq!(close_code(&mut big).await, 1009);

    let mut flood = hostile(relay.addr).await;
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
    // The one answer that is not JSON is not sniffed as HTML either.
    let metrics = send(
        "GET",
        &format!("{}/_hookhole/metrics", relay.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("x-content-type-options"),
        Some(&b"nosniff"[..])
    );
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_heartbeat_timeout() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let config = RelayConfig {
        heartbeat_interval: Duration::from_millis(50),
        heartbeat_timeout: Duration::from_millis(200),
        ..RelayConfig::default()
    };
    let relay = TestRelay::start_with(config).await;
    let mut peer = raw_peer(
        relay.addr,
        Some(r#"{"type":"hello","version":2,"channel":"quiet"}"#),
    )
    .await;
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
    within("the relay to forget the peer", async {
        while relay.health().await["clients"] != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// Behind `--trusted-proxy`, the proxy's X-Forwarded-* reach the local server
/// (with the proxy's own address added) and its scheme and host make the
/// URL that URL-signing schemes check; the same headers from anyone else
/// are replaced, as the exact-bytes test shows.
#[tokio::test]
async fn a_trusted_proxy_s_forwarded_headers_are_passed_on() {
    let relay = TestRelay::start_with(RelayConfig {
        trusted_proxies: vec![hookhole_relay::forwarded::parse_proxy("127.0.0.0/8").unwrap()],
        ..RelayConfig::default()
    })
    .await;
    let mut target = TestTarget::echo().await;
    let mut client = TestClient::start(&relay.url(), Some("proxied"), &target.url()).await;
    let sent = send(
        "POST",
        &format!("{}/proxied/in?x=1", relay.url()),
        &[
            ("x-forwarded-for", "203.0.113.9, 198.51.100.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(sent.status, 200);
    let got = target.next_request().await;
    let forwarded: Vec<(String, Vec<u8>)> = got
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| n.starts_with("x-forwarded-"))
        .collect();
    assert_eq!(
        forwarded,
        [
            (
                "x-forwarded-for".to_string(),
                b"203.0.113.9, 198.51.100.2, 127.0.0.1".to_vec()
            ),
            ("x-forwarded-proto".to_string(), b"https".to_vec()),
            (
                "x-forwarded-host".to_string(),
                b"hooks.example.com".to_vec()
            ),
        ]
    );
    let Event::Delivery(event) = client
        .wait_for("the delivery", |e| matches!(e, Event::Delivery(_)))
        .await
    else {
        unreachable!()
    };
    let exchange = event.exchange.expect("the exchange");
    assert_eq!(
        exchange.delivery.url,
        "https://hooks.example.com/proxied/in?x=1"
    );
}

/// The channel URL a client is told follows the same rule: a trusted
/// proxy's scheme and host, anyone else's claims ignored.
#[tokio::test]
async fn a_client_behind_a_trusted_proxy_is_told_the_proxy_s_url() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    async fn welcome_url(relay: &TestRelay) -> String {
        let url = format!("ws://{}/_hookhole/connect", relay.addr);
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "hooks.example.com".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let hello = r#"{"type":"hello","version":2,"channel":"told","agent":"test"}"#;
        ws.send(Message::text(hello)).await.unwrap();
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let welcome: serde_json::Value = serde_json::from_str(&text).unwrap();
                    if welcome["type"] == "welcome" {
                        return welcome["public_url"].as_str().unwrap().to_string();
                    }
                }
                other => panic!("expected a welcome, got {other:?}"),
            }
        }
    }

    let trusting = TestRelay::start_with(RelayConfig {
        trusted_proxies: vec![hookhole_relay::forwarded::parse_proxy("127.0.0.1").unwrap()],
        ..RelayConfig::default()
    })
    .await;
    assert_eq!(
        within("a welcome", welcome_url(&trusting)).await,
        "https://hooks.example.com/told"
    );
    let wary = TestRelay::start().await;
    assert_eq!(
        within("a welcome", welcome_url(&wary)).await,
        format!("http://{}/told", wary.addr)
    );
}
