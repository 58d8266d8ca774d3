//! Nothing lost: real relay and client processes, killed, paused and
//! restarted, while webhooks keep coming.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, history_counts, numbered, relay, relay_beating};
use common::*;
use std::path::Path;

/// A headless client on channel `faults` of the relay at `port`.
async fn client(dir: &Path, port: u16, target: &TestTarget) -> Proc {
    let relay = format!("http://127.0.0.1:{port}");
    common::process::headless(dir, &relay, "faults", &target.url()).await
}

#[tokio::test]
async fn a_queued_deliveries_arrive_in_order_once_a_client_connects() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, port) = relay(dir.path(), &dir.path().join("relay"), 0).await;
    for n in 0..50 {
        let sent = post(
            &format!("http://127.0.0.1:{port}/faults/hook"),
            &numbered(n),
        )
        .await;
        assert_eq!(sent.status, 202, "queued while nobody listens");
        assert_eq!(sent.json()["queued"], true);
    }
    let mut target = TestTarget::echo().await;
    let _client = client(dir.path(), port, &target).await;
    for n in 0..50 {
        assert_eq!(target.next_request().await.body, numbered(n), "in order");
    }
    let counts = history_counts(dir.path()).await;
    assert_eq!(counts.len(), 50);
    assert!(counts.values().all(|&c| c == 1), "none twice: {counts:?}");
}

#[tokio::test]
async fn a_buffer_larger_than_a_page_arrives_whole_and_in_order() {
    // 20 deliveries of 300 KiB: the relay sends its 4 MiB pages twice over.
    let body = |n: usize| {
        let mut body = numbered(n);
        body.resize(300 * 1024, b' ');
        body
    };
    let dir = tempfile::tempdir().unwrap();
    let (_relay, port) = relay(dir.path(), &dir.path().join("relay"), 0).await;
    for n in 0..20 {
        let sent = post(&format!("http://127.0.0.1:{port}/faults/hook"), &body(n)).await;
        assert_eq!(sent.status, 202, "queued while nobody listens");
    }
    let mut target = TestTarget::echo().await;
    let _client = client(dir.path(), port, &target).await;
    for n in 0..20 {
        let received = target.next_request().await.body;
        assert!(received == body(n), "delivery {n} whole and in order");
    }
}

#[tokio::test]
async fn b_a_client_killed_mid_burst_loses_nothing_the_relay_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, port) = relay(dir.path(), &dir.path().join("relay"), 0).await;
    let mut target = TestTarget::echo().await;
    let first = client(dir.path(), port, &target).await;
    let url = format!("http://127.0.0.1:{port}/faults/hook");
    let burst = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for n in 0..60 {
            let sent = post(&url, &numbered(n)).await;
            if sent.status == 200 || sent.status == 202 {
                acknowledged.push(n);
            }
        }
        acknowledged
    });
    // Kill the client once the burst is well under way.
    for _ in 0..20 {
        target.next_request().await;
    }
    first.signal("KILL");
    first.exit().await;
    let acknowledged = within("the burst", burst).await.unwrap();
    assert!(
        acknowledged.len() >= 40,
        "most were acknowledged: {acknowledged:?}"
    );

    let _second = client(dir.path(), port, &target).await;
    // Whatever was queued while no client ran arrives now.
    let health_url = format!("http://127.0.0.1:{port}/_hookhole/health");
    within("the buffer to drain", async {
        while send("GET", &health_url, &[], b"").await.json()["buffered"] != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let counts = within("the history to hold everything", async {
        loop {
            let counts = history_counts(dir.path()).await;
            if acknowledged.iter().all(|n| counts.contains_key(n)) {
                return counts;
            }
        }
    })
    .await;
    for n in &acknowledged {
        assert_eq!(counts[n], 1, "delivery {n} saved exactly once: {counts:?}");
    }
}

#[tokio::test]
async fn c_a_relay_killed_with_a_full_buffer_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (first, port) = relay(dir.path(), &data, 0).await;
    for n in 0..20 {
        assert_eq!(
            post(
                &format!("http://127.0.0.1:{port}/faults/hook"),
                &numbered(n)
            )
            .await
            .status,
            202
        );
    }
    first.signal("KILL");
    first.exit().await;
    let (_second, _) = relay(dir.path(), &data, port).await;
    let mut target = TestTarget::echo().await;
    let _client = client(dir.path(), port, &target).await;
    for n in 0..20 {
        assert_eq!(target.next_request().await.body, numbered(n));
    }
    assert_eq!(history_counts(dir.path()).await.len(), 20);
}

#[tokio::test]
async fn d_a_stalled_relay_is_reported_dead_and_the_client_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, port) = relay(dir.path(), &dir.path().join("relay"), 0).await;
    let target = TestTarget::echo().await;
    let mut client = client(dir.path(), port, &target).await;
    relay.signal("STOP");
    let lost = client.wait_event("connection").await;
    assert_eq!(lost["state"], "reconnecting");
    assert!(
        lost["reason"].as_str().unwrap().contains("no heartbeat"),
        "{lost}"
    );
    relay.signal("CONT");
    within("the client to reconnect", async {
        loop {
            let event = client.wait_event("connection").await;
            if event["state"] == "connected" {
                return;
            }
        }
    })
    .await;
    assert_eq!(
        post(&format!("http://127.0.0.1:{port}/faults/again"), b"{}")
            .await
            .status,
        200
    );
}

/// After a network change (another Wi-Fi) the link may be dead without a
/// sound. The client pings the relay at once and, with no answer within
/// 5 s, reconnects: long before the relay's 60 s heartbeats would show the
/// silence. The network change is simulated through the engine's address
/// source; the relay is a real process, paused.
#[tokio::test]
async fn a_network_change_checks_the_link_at_once() {
    use hookhole::events::{Event, LinkState};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let (relay, port) = relay_beating(dir.path(), &dir.path().join("relay"), 0, "60s").await;
    let target = TestTarget::echo().await;

    let moved = Arc::new(AtomicBool::new(false));
    let mut config = engine_config(
        &format!("http://127.0.0.1:{port}"),
        Some("netchange"),
        &target.url(),
    );
    config.addresses = {
        let moved = moved.clone();
        Arc::new(move || {
            let ip = if moved.load(Ordering::SeqCst) {
                "10.0.0.7"
            } else {
                "192.168.1.20"
            };
            Some([ip.parse().unwrap()].into_iter().collect())
        })
    };
    let mut client = TestClient::start_with(config).await;

    relay.signal("STOP");
    moved.store(true, Ordering::SeqCst);
    let lost = client
        .wait_for(
            "the client to give up on the link",
            |e| matches!(e, Event::Connection(c) if c.state == LinkState::Reconnecting),
        )
        .await;
    let Event::Connection(lost) = lost else {
        unreachable!()
    };
    let reason = lost.reason.unwrap_or_default();
    assert!(
        reason.contains("the network changed") && reason.contains("did not answer"),
        "{reason}"
    );

    relay.signal("CONT");
    client
        .wait_for(
            "the client to reconnect",
            |e| matches!(e, Event::Connection(c) if c.state == LinkState::Connected),
        )
        .await;
    assert_eq!(
        post(&format!("http://127.0.0.1:{port}/netchange/after"), b"{}")
            .await
            .status,
        200
    );
}
