//! Relays as a cluster on a real `nats-server` (JetStream on): relay
//! processes, real clients, real local servers. Skipped with a message when
//! nats-server is not installed, except in CI.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::nats::{ClusterRelay, Nats};
use common::process::{Proc, hookhole, numbered};
use common::*;

/// `hookhole listen` headless on `relay` for `channel`, forwarding to
/// `target`; waits until it is ready.
async fn client(dir: &std::path::Path, relay: &str, channel: &str, target: &str) -> Proc {
    client_with(dir, relay, channel, target, &[]).await
}

async fn client_with(
    dir: &std::path::Path,
    relay: &str,
    channel: &str,
    target: &str,
    extra: &[&str],
) -> Proc {
    let mut cmd = hookhole(dir);
    cmd.args([
        "listen",
        "--no-tui",
        "--relay",
        relay,
        "--channel",
        channel,
        "--forward",
        target,
    ])
    .args(extra);
    let mut proc = Proc::spawn(cmd);
    Box::pin(proc.wait_event("ready")).await;
    proc
}

/// A webhook sent to relay A reaches a client connected to relay B byte for
/// byte, and A's sender gets that client's local answer.
#[tokio::test]
async fn a_webhook_sent_to_one_node_reaches_a_client_on_another() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = ClusterRelay::start(dir.path(), &nats, "a", &[]).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &[]).await;
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
    let a = ClusterRelay::start(dir.path(), &nats, "a", &[]).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &[]).await;
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
    let a = ClusterRelay::start(dir.path(), &nats, "a", &[]).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &[]).await;
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
    let a = ClusterRelay::start(dir.path(), &nats, "a", &[]).await;
    let b = ClusterRelay::start(dir.path(), &nats, "b", &[]).await;
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
/// (429), and in all (507), with the usual JSON bodies.
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
}

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
    within("relay A to notice and fail its health check", async {
        loop {
            let health = send("GET", &format!("{}/_hookhole/health", a.url), &[], b"").await;
            if health.status == 503 {
                assert_eq!(health.json()["status"], "nats_unreachable");
                assert_eq!(health.json()["cluster"]["connected"], false);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    // A relay started now serves, and joins once NATS is back.
    let c = Box::pin(ClusterRelay::start_unlinked(dir.path(), &nats, "c")).await;
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

/// Posts `body` to the first of `relays` that takes the connection, the way
/// a load balancer in front of the cluster would; the status the sender
/// was told, or `None` when the request got no answer (its node died).
async fn post_to_any(relays: &[String], channel: &str, body: Vec<u8>) -> Option<u16> {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    for relay in relays {
        let addr = relay.trim_start_matches("http://");
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            continue;
        }
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
        let request = http::Request::post(format!("{relay}/{channel}/hook"))
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .unwrap();
        return match tokio::time::timeout(WAIT, client.request(request)).await {
            Ok(Ok(response)) => Some(response.status().as_u16()),
            _ => None,
        };
    }
    None
}

/// Webhooks numbered from 0, sent by four senders at once to whichever of
/// `up` take connections now, until `stop`; what each sender was told.
fn steady_stream(
    up: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    channel: &'static str,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<std::collections::BTreeMap<usize, Option<u16>>> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (up, stop, next) = (up.clone(), stop.clone(), next.clone());
            tokio::spawn(async move {
                let mut told = std::collections::BTreeMap::new();
                while !stop.is_cancelled() {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let relays = up.lock().unwrap().clone();
                    told.insert(n, post_to_any(&relays, channel, numbered(n)).await);
                }
                told
            })
        })
        .collect();
    tokio::spawn(async move {
        let mut told = std::collections::BTreeMap::new();
        for worker in workers {
            told.extend(worker.await.unwrap());
        }
        told
    })
}

/// What each sender was told, and what the local server and the history
/// saw: every webhook acknowledged with 2xx (or 202) arrived exactly once,
/// and none arrived twice.
async fn nothing_lost_or_doubled(
    dir: &std::path::Path,
    told: &std::collections::BTreeMap<usize, Option<u16>>,
    target: &mut TestTarget,
) {
    let acknowledged: Vec<usize> = told
        .iter()
        .filter(|(_, status)| status.is_some_and(|s| (200..300).contains(&s)))
        .map(|(n, _)| *n)
        .collect();
    assert!(acknowledged.len() > told.len() / 2, "{told:?}");
    let mut seen = std::collections::BTreeMap::<usize, usize>::new();
    let arrived = tokio::time::timeout(WAIT, async {
        while !acknowledged.iter().all(|n| seen.contains_key(n)) {
            let request = target.requests.recv().await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            *seen
                .entry(body["n"].as_u64().unwrap() as usize)
                .or_default() += 1;
        }
    })
    .await;
    if arrived.is_err() {
        let missing: Vec<_> = acknowledged
            .iter()
            .filter(|n| !seen.contains_key(n))
            .collect();
        panic!(
            "acknowledged but never delivered: {missing:?}; the senders were told {told:?}\n{}",
            common::nats::relay_logs(dir)
        );
    }
    // Anything still on its way (a stored copy sent again) arrives now.
    while let Ok(request) = target.requests.try_recv() {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        *seen
            .entry(body["n"].as_u64().unwrap() as usize)
            .or_default() += 1;
    }
    for (n, count) in &seen {
        assert_eq!(
            *count, 1,
            "webhook {n} reached the local server {count} times"
        );
    }
    let history = common::process::history_counts(dir).await;
    for n in &acknowledged {
        assert_eq!(
            history.get(n),
            Some(&1),
            "webhook {n} in the history: {history:?}"
        );
    }
    assert!(history.values().all(|c| *c == 1), "{history:?}");
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
