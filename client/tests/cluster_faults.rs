//! Relays as a cluster when parts fail: NATS away and back, the client's
//! node killed mid-stream, a rolling restart of every node. Real
//! `nats-server`, relay processes, clients and local servers; what every
//! sender was told is checked against what the local server and the
//! history saw. Skipped with a message without nats-server, except in CI.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::nats::{ClusterRelay, Nats, nothing_lost_or_doubled, steady_stream};
use common::process::headless as client;
use common::*;

/// NATS goes away while webhooks arrive: each relay keeps serving its own
/// clients, keeps webhooks for clients elsewhere in its outbox, reports the
/// outage, and moves the outbox to the stream once NATS is back; the
/// client gets each webhook once.
#[tokio::test]
async fn webhooks_wait_in_the_outbox_while_nats_is_away() {
    let Some(mut nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let quick = ["--nats-outage-limit", "100ms"];
    let a = ClusterRelay::start(dir.path(), &nats, "a", &quick).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &[]).await;
    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &b.url, "away", &target.url()).await;

    nats.kill().await;
    let report = a
        .until_health("relay A to fail its health check", |status, _| {
            status == 503
        })
        .await;
    assert_eq!(report["status"], "nats_unreachable");
    assert_eq!(report["cluster"]["connected"], false);
    // A relay started now serves, and joins once NATS is back.
    let c = Box::pin(ClusterRelay::start_unlinked(dir.path(), &nats.url(), "c")).await;
    assert_eq!(c.health().await["cluster"]["connected"], false);
    // B's own client is still served by B.
    let local = post(&format!("{}/away/direct", b.url), b"direct").await;
    assert_eq!(local.status, 200);
    assert_eq!(target.next_request().await.body, b"direct");
    // A keeps what it cannot pass on.
    for n in 0..3 {
        let sent = post(
            &format!("{}/away/kept", a.url),
            format!("kept-{n}").as_bytes(),
        )
        .await;
        assert_eq!(sent.status, 202, "{:?}", sent.body);
    }
    assert_eq!(a.metric("hookhole_cluster_outbox").await, 3);

    nats.restart().await;
    for n in 0..3 {
        assert_eq!(
            target.next_request().await.body,
            format!("kept-{n}").as_bytes()
        );
    }
    // Four deliveries in the history, each once.
    let mut ids = std::collections::BTreeSet::new();
    while ids.len() < 4 {
        let id = listener.wait_event("delivery").await["id"].clone();
        assert!(ids.insert(id.to_string()), "recorded twice: {id}");
    }
    a.until_linked().await;
    c.until_linked().await;
    assert_eq!(a.metric("hookhole_cluster_moved_total").await, 3);
    assert_eq!(a.metric("hookhole_cluster_outbox").await, 0);
    assert_eq!(a.health().await["status"], "ok");
}

/// SIGKILL of the relay a client is connected to, while webhooks flow
/// through the other: the client moves to the survivor; what was sent
/// meanwhile is stored and delivered; nothing acknowledged is lost and
/// nothing is recorded twice.
#[tokio::test]
async fn the_clients_node_killed_mid_stream_loses_nothing_acknowledged() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--response-timeout", "2s"];
    let a = ClusterRelay::start(dir.path(), &nats, "a", &flags).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &flags).await;
    let mut target = TestTarget::echo().await;
    let relays = format!("{},{}", b.url, a.url);
    let mut listener = client(dir.path(), &relays, "steady", &target.url()).await;

    let up = std::sync::Arc::new(std::sync::Mutex::new(vec![a.url.clone()]));
    let stop = tokio_util::sync::CancellationToken::new();
    let sender = steady_stream(up, "steady", stop.clone());
    // Killed while webhooks are in flight through it.
    for _ in 0..10 {
        listener.wait_event("delivery").await;
    }
    let mut b = b;
    b.proc.child.kill().await.unwrap();
    within("the client on the survivor", async {
        loop {
            let line = listener.wait_event("connection").await;
            if line["state"] == "connected" {
                assert_eq!(line["relay"], a.url.as_str());
                return;
            }
        }
    })
    .await;
    // Delivered through the survivor now.
    for _ in 0..10 {
        listener.wait_event("delivery").await;
    }
    stop.cancel();
    let told = sender.await.unwrap();
    // Every sender got an answer: those in flight through the dead node a
    // 504 after the response timeout, not a hang.
    assert!(told.values().all(Option::is_some), "{told:?}");
    nothing_lost_or_doubled(dir.path(), &told, &mut target).await;
}

/// Every node restarted in turn (SIGTERM: drain, clients told "going
/// away") while a steady stream flows through whichever nodes are up:
/// nothing acknowledged is lost, nothing recorded twice.
#[tokio::test]
async fn a_rolling_restart_of_every_node_loses_nothing() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for node in ["a", "b"] {
        nodes.push(ClusterRelay::start(dir.path(), &nats, node, &[]).await);
    }
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut target = TestTarget::echo().await;
    let mut listener = client(dir.path(), &urls.join(","), "rolling", &target.url()).await;

    // The stream: senders that use whichever nodes are up now.
    let up = std::sync::Arc::new(std::sync::Mutex::new(urls.clone()));
    let stop = tokio_util::sync::CancellationToken::new();
    let sender = steady_stream(up.clone(), "rolling", stop.clone());
    for (index, url) in urls.iter().enumerate() {
        let url = url.clone();
        // Taken out of the balancer first, as an operator would.
        up.lock().unwrap().retain(|u| *u != url);
        let node = nodes.remove(index);
        node.proc.signal("TERM");
        let (code, stderr) = node.proc.exit().await;
        assert_eq!(code, Some(0), "{stderr}");
        let listen = url.trim_start_matches("http://").to_string();
        let back = Box::pin(ClusterRelay::start_on(
            dir.path(),
            &nats.url(),
            &node.node,
            &listen,
            &[],
        ))
        .await;
        nodes.insert(index, back);
        up.lock().unwrap().push(url);
        // The client found a node each time.
        within("the client connected again", async {
            loop {
                let line = listener.wait_event("connection").await;
                if line["state"] == "connected" {
                    return;
                }
            }
        })
        .await;
    }
    stop.cancel();
    let told = sender.await.unwrap();
    assert!(told.len() > 10, "a steady stream: {}", told.len());
    nothing_lost_or_doubled(dir.path(), &told, &mut target).await;
}

/// A relay with tokens, cut off from NATS, keeps a webhook for a channel
/// another node's client claimed (it cannot ask who owns it) and moves it
/// when NATS is back.
#[tokio::test]
async fn a_relay_with_tokens_keeps_webhooks_for_claimed_channels_while_nats_is_away() {
    let Some(mut nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token = ["--token", "team-token-0123456789"];
    let a = ClusterRelay::start(dir.path(), &nats, "a", &token).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &token).await;
    let mut target = TestTarget::echo().await;
    let _client =
        common::process::headless_with(dir.path(), &b.url, "claimed", &target.url(), &token).await;
    // Unclaimed channels are refused as on one relay.
    assert_eq!(post(&format!("{}/nobody", a.url), b"x").await.status, 404);

    nats.kill().await;
    a.until_health("relay A to notice", |_, report| {
        report["cluster"]["connected"] == false
    })
    .await;
    let sent = post(&format!("{}/claimed/x", a.url), b"kept").await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    nats.restart().await;
    assert_eq!(target.next_request().await.body, b"kept");
}

/// A NATS server without JetStream: the relay starts, and its health check
/// says the cluster's buffer is unavailable.
#[tokio::test]
async fn a_nats_without_jetstream_fails_the_health_check() {
    let Some(nats) = Nats::start_with(false, &[]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = Box::pin(ClusterRelay::start_unlinked(dir.path(), &nats.url(), "a")).await;
    let report = a
        .until_health("the health check to fail", |status, _| status == 503)
        .await;
    assert_eq!(report["status"], "jetstream_unavailable");
    assert!(!report["cluster"]["jetstream_error"].is_null());
}

/// A NATS server that needs a user and password: taken from the URL, and
/// never shown in the relay's log.
#[tokio::test]
async fn nats_credentials_come_from_the_url_and_stay_out_of_the_log() {
    let Some(nats) = Nats::start_with(true, &["--user", "hh", "--pass", "s3cret-pass"]).await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url_as("hh", "s3cret-pass");
    let a = Box::pin(ClusterRelay::start_on(
        dir.path(),
        &url,
        "a",
        "127.0.0.1:0",
        &[],
    ))
    .await;
    assert_eq!(post(&format!("{}/creds", a.url), b"x").await.status, 202);
    let log = std::fs::read_to_string(dir.path().join("relay-a.log")).unwrap();
    assert!(log.contains("joined the relay cluster"), "{log}");
    assert!(!log.contains("s3cret-pass"), "{log}");
}
