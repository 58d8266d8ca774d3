//! Answer modes in a cluster on a real `nats-server`: relay processes, real
//! clients, real local servers that really sleep (the slowness is the
//! behaviour under test), and the sender's clock. The node holding a
//! channel's clients applies the channel's mode, wherever the webhook
//! arrived; the census carries each node's mode, so every node applies
//! (and every client is told) the strictest.

#![allow(clippy::unwrap_used)] // the shared harness unwraps; a test panics on failure anyway

mod common;

use common::nats::{ClusterRelay, Nats};
use common::process::{headless_with as client, history_counts, numbered};
use common::*;
use std::time::{Duration, Instant};

/// `now` asked by a client on B: a webhook sent to A is answered `202` at
/// once, the client's history gets the local answer later; the client is
/// killed before it saved anything, and a client on A gets B's kept copy.
#[tokio::test]
async fn now_on_another_node_answers_at_once_and_a_killed_client_loses_nothing() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let mut target = TestTarget::slow_and_fast().await;
    let now = ["--answer", "now"];
    let first = client(dir.path(), &b.url, "now", &target.url(), &now).await;

    let started = Instant::now();
    let sent = post(&format!("{}/now/slow", a.url), &numbered(1)).await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert_eq!(sent.json()["accepted"], true);
    assert!(started.elapsed() < Duration::from_secs(2));
    // B's client is forwarding it (the local server sleeps): kill it now.
    assert_eq!(target.next_request().await.body, numbered(1));
    first.signal("KILL");
    first.exit().await;

    // B keeps the copy; with no client there, it moves to the cluster's
    // stream, and a client on A gets it.
    let mut again = client(dir.path(), &a.url, "now", &target.url(), &now).await;
    let event = again.wait_event("delivery").await;
    assert_eq!(event["id"], sent.json()["id"], "{event}");
    assert_eq!(event["status"], 201, "{event}");
    assert_eq!(target.next_request().await.body, numbered(1));
    again.signal("INT");
    again.exit().await;
    let counts = history_counts(dir.path()).await;
    assert_eq!(counts.get(&1), Some(&1), "{counts:?}");
}

/// `within=500ms` asked by a client on B: through A, a fast local answer
/// passes, a slow one gets `202` after the wait, and the client still
/// records the local answer when it comes.
#[tokio::test]
async fn within_on_another_node_passes_fast_answers_and_answers_202_for_slow_ones() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let target = TestTarget::slow_and_fast().await;
    let within = ["--answer", "within=500ms"];
    let mut listener = client(dir.path(), &b.url, "within", &target.url(), &within).await;

    let fast = post(&format!("{}/within/fast", a.url), b"{}").await;
    assert_eq!((fast.status, &fast.body[..]), (200, &b"fast"[..]));

    let started = Instant::now();
    let slow = post(&format!("{}/within/slow", a.url), b"{}").await;
    let waited = started.elapsed();
    assert_eq!(slow.status, 202, "{:?}", slow.body);
    assert!(
        waited >= Duration::from_millis(500) && waited < SLOW / 2,
        "{waited:?}"
    );
    loop {
        let event = listener.wait_event("delivery").await;
        if event["path"] == "/slow" {
            assert_eq!(event["status"], 201, "{event}");
            assert_eq!(event["sender_heard"]["why"], "answer_within", "{event}");
            break;
        }
    }
    listener.signal("INT");
    listener.exit().await;
}

/// A client on A asks for `now`, one on B for `local`: `local` is in force
/// on both nodes, and both clients are told; when B's client leaves, A's
/// is told `now` again and a webhook sent to B is answered at once.
#[tokio::test]
async fn the_strictest_mode_across_nodes_is_in_force_and_every_client_is_told() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let target = TestTarget::slow_and_fast().await;
    let mut eager = client(
        dir.path(),
        &a.url,
        "both",
        &target.url(),
        &["--answer", "now"],
    )
    .await;
    let careful = client(dir.path(), &b.url, "both", &target.url(), &[]).await;
    within("A's client told local is in force", async {
        loop {
            let told = eager.wait_event("listeners").await;
            if told["count"] == 2 && told["answer"] == "local" {
                break;
            }
        }
    })
    .await;
    // Sent to either node, the sender waits for a local answer.
    for relay in [&a.url, &b.url] {
        let sent = post(&format!("{relay}/both/fast"), b"{}").await;
        assert_eq!((sent.status, &sent.body[..]), (200, &b"fast"[..]));
    }

    careful.signal("INT");
    careful.exit().await;
    within("A's client told now is back in force", async {
        loop {
            let told = eager.wait_event("listeners").await;
            if told["count"] == 1 && told["answer"] == "now" {
                break;
            }
        }
    })
    .await;
    let started = Instant::now();
    let sent = post(&format!("{}/both/slow", b.url), b"{}").await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Clients on both nodes ask for `now`: a webhook sent to A is answered at
/// once, and both clients get it (B keeps its own copy for its client).
#[tokio::test]
async fn now_with_clients_on_two_nodes_answers_at_once_and_reaches_both() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ClusterRelay::pair(dir.path(), &nats).await;
    let mut on_a = TestTarget::slow_and_fast().await;
    let mut on_b = TestTarget::slow_and_fast().await;
    let now = ["--answer", "now"];
    let mut first = client(dir.path(), &a.url, "two", &on_a.url(), &now).await;
    let mut second = client(dir.path(), &b.url, "two", &on_b.url(), &now).await;
    within("A's client told of two listeners", async {
        while first.wait_event("listeners").await["count"] != 2 {}
    })
    .await;

    let started = Instant::now();
    let sent = post(&format!("{}/two/slow", a.url), b"both").await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(on_a.next_request().await.body, b"both");
    assert_eq!(on_b.next_request().await.body, b"both");
    for listener in [&mut first, &mut second] {
        let event = listener.wait_event("delivery").await;
        assert_eq!(event["status"], 201, "{event}");
        assert_eq!(event["id"], sent.json()["id"], "{event}");
        // Each client was told its node answered the sender itself.
        assert_eq!(event["sender_heard"]["why"], "answer_now", "{event}");
    }
    within("both nodes to free their kept copies", async {
        while a.metric("hookhole_buffered").await + b.metric("hookhole_buffered").await != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}
