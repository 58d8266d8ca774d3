//! Relays as a cluster on a real `nats-server` (JetStream on): relay
//! processes, real clients, real local servers. Skipped with a message when
//! nats-server is not installed, except in CI.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::nats::{ClusterRelay, Nats};
use common::process::{Proc, headless as client, headless_with as client_with, hookhole};
use common::*;

/// A webhook sent to relay A reaches a client connected to relay B byte for
/// byte, and A's sender gets that client's local answer.
#[tokio::test]
async fn a_webhook_sent_to_one_node_reaches_a_client_on_another() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let mut target = TestTarget::start(|req| async move {
        Reply {
            status: 201,
            headers: vec![("x-local".into(), b"yes".to_vec())],
            body: [b"got:".as_slice(), &req.body].concat(),
        }
    })
    .await;
    let _client = client(dir.path(), &b.url, "orders", &target.url()).await;

    let body = b"{\"id\":\"evt_1\",\"bytes\":\"\x00\xff\"}";
    let sent = send(
        "POST",
        &format!("{}/orders/hooks?x=1", a.url),
        &[("Stripe-Signature", "t=1,v1=abc")],
        body,
    )
    .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    assert_eq!(sent.header("x-local"), Some(b"yes".as_slice()));
    assert_eq!(&sent.body[..], [b"got:".as_slice(), body].concat());
    let seen = target.next_request().await;
    assert_eq!(seen.target, "/hooks?x=1");
    assert_eq!(seen.body, body);
    assert_eq!(
        seen.header("stripe-signature"),
        Some(b"t=1,v1=abc".as_slice())
    );
    assert_eq!(a.metric("hookhole_cluster_cross_node_total").await, 1);
}

/// Across nodes the sender hears what it would from one relay: the local
/// server's failure as 502 (`local_unreachable`), and a local server too slow for
/// the response timeout as 504.
#[tokio::test]
async fn failures_across_nodes_are_answered_as_on_one_relay() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--response-timeout", "1s"];
    let a = ClusterRelay::start(dir.path(), &nats, "a", &flags).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &flags).await;
    let down = dead_port().await;
    let _refused = client(dir.path(), &b.url, "down", &format!("http://{down}")).await;
    let sent = post(&format!("{}/down", a.url), b"x").await;
    assert_eq!(sent.status, 502, "{:?}", sent.body);
    assert_eq!(sent.json()["code"], "local_unreachable");

    let slow = TestTarget::start(|_| async {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        Reply::ok("late")
    })
    .await;
    let _slow = client(dir.path(), &b.url, "slow", &slow.url()).await;
    let sent = post(&format!("{}/slow", a.url), b"x").await;
    assert_eq!(sent.status, 504, "{:?}", sent.body);
    assert_eq!(sent.json()["code"], "response_timeout");
}

/// Clients of one channel on two nodes both get each webhook; the sender
/// gets an answer, and each client is told the channel has two clients.
#[tokio::test]
async fn clients_on_two_nodes_all_receive_each_webhook() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let mut on_a = TestTarget::echo().await;
    let mut on_b = TestTarget::echo().await;
    let mut first = client(dir.path(), &a.url, "shared", &on_a.url()).await;
    let second = client(dir.path(), &b.url, "shared", &on_b.url()).await;
    within("both clients told of two listeners", async {
        while first.wait_event("listeners").await["count"] != 2 {}
    })
    .await;

    let sent = post(&format!("{}/shared/x", a.url), b"fan-out").await;
    assert_eq!(sent.status, 200);
    assert_eq!(&sent.body[..], b"fan-out");
    assert_eq!(on_a.next_request().await.body, b"fan-out");
    assert_eq!(on_b.next_request().await.body, b"fan-out");

    // The second one leaves: the first is told it is alone.
    second.signal("INT");
    second.exit().await;
    within("the first client told it is alone", async {
        while first.wait_event("listeners").await["count"] != 1 {}
    })
    .await;
}

/// With no client anywhere, webhooks are answered 202 once stored; a client
/// connecting to another node gets them all, in order, once.
#[tokio::test]
async fn webhooks_stored_with_no_client_drain_in_order_through_another_node() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    for n in 0..5 {
        let sent = post(&format!("{}/later/n", a.url), format!("{n}").as_bytes()).await;
        assert_eq!(sent.status, 202, "{:?}", sent.body);
        assert_eq!(sent.json()["queued"], true);
    }
    assert_eq!(a.metric("hookhole_cluster_stored_total").await, 5);

    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &b.url, "later", &target.url()).await;
    for n in 0..5 {
        assert_eq!(target.next_request().await.body, format!("{n}").as_bytes());
    }
    for _ in 0..5 {
        listener.wait_event("delivery").await;
    }
    listener.signal("INT");
    listener.exit().await;

    // Acknowledged and gone: a client coming back gets only what is new.
    let _again = client(dir.path(), &a.url, "later", &target.url()).await;
    let sent = post(&format!("{}/later/n", b.url), b"new").await;
    assert_eq!(sent.status, 200);
    assert_eq!(target.next_request().await.body, b"new");
    assert!(target.requests.try_recv().is_err(), "nothing sent twice");
}

/// A channel claimed by one token on one node cannot be claimed by another
/// token on another node.
#[tokio::test]
async fn a_channel_claimed_on_one_node_is_refused_to_another_token_on_another() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = [
        "--token",
        "first-token-0123456789",
        "--token",
        "second-token-0123456789",
    ];
    let a = ClusterRelay::start(dir.path(), &nats, "a", &tokens).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &tokens).await;
    let target = TestTarget::echo().await;
    let _owner = client_with(
        dir.path(),
        &a.url,
        "team",
        &target.url(),
        &["--token", "first-token-0123456789"],
    )
    .await;

    let mut cmd = hookhole(dir.path());
    cmd.args([
        "listen",
        "--no-tui",
        "--relay",
        &b.url,
        "--channel",
        "team",
        "--forward",
    ])
    .arg(target.url())
    .args(["--token", "second-token-0123456789"]);
    let (code, stderr) = Proc::spawn(cmd).exit().await;
    assert_ne!(code, Some(0));
    assert!(stderr.contains("belongs to another token"), "{stderr}");

    // The owner's token still works on the other node.
    let _same = client_with(
        dir.path(),
        &b.url,
        "team",
        &target.url(),
        &["--token", "first-token-0123456789"],
    )
    .await;
}

/// A 25 MiB body crosses nodes byte for byte, through the object store
/// (NATS's messages stay at their 1 MiB default).
#[tokio::test]
async fn a_25_mib_body_crosses_nodes_byte_for_byte() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let mut target =
        TestTarget::start(|req| async move { Reply::ok(format!("{}", req.body.len())) }).await;
    let _client = client(dir.path(), &b.url, "big", &target.url()).await;
    let body: Vec<u8> = (0..25 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let sent = post(&format!("{}/big", a.url), &body).await;
    assert_eq!(
        sent.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&sent.body)
    );
    assert_eq!(&sent.body[..], body.len().to_string().as_bytes());
    assert!(target.next_request().await.body == body, "byte for byte");

    // And stored with no client, then drained.
    drop(_client);
    let stored = post(&format!("{}/big-later", a.url), &body).await;
    assert_eq!(
        stored.status,
        202,
        "{:?}",
        String::from_utf8_lossy(&stored.body)
    );
    let _later = client(dir.path(), &b.url, "big-later", &target.url()).await;
    assert!(
        target.next_request().await.body == body,
        "stored byte for byte"
    );
}

/// The cluster's buffer keeps the relay's limits: per channel by count
/// (429), and in all (507), with the usual JSON bodies; the relay started
/// last sets them.
#[tokio::test]
async fn the_clusters_buffer_keeps_the_buffer_limits() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let limits = ["--buffer-limit", "2", "--buffer-total-limit", "3"];
    let a = ClusterRelay::start(dir.path(), &nats, "a", &limits).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &limits).await;
    for relay in [&a, &b] {
        assert_eq!(post(&format!("{}/one", relay.url), b"x").await.status, 202);
    }
    let full = post(&format!("{}/one", a.url), b"x").await;
    assert_eq!(full.status, 429, "{:?}", full.body);
    assert_eq!(full.json()["code"], "buffer_full");
    assert_eq!(post(&format!("{}/two", b.url), b"x").await.status, 202);
    let total = post(&format!("{}/three", a.url), b"x").await;
    assert_eq!(total.status, 507, "{:?}", total.body);
    assert_eq!(total.json()["code"], "relay_buffer_full");
    // A relay started with other limits sets them for the stream: the
    // last one started holds.
    let raised = ["--buffer-limit", "3", "--buffer-total-limit", "10"];
    let c = ClusterRelay::start(dir.path(), &nats, "c", &raised).await;
    assert_eq!(post(&format!("{}/one", c.url), b"x").await.status, 202);
    assert_eq!(post(&format!("{}/three", a.url), b"x").await.status, 202);
}
