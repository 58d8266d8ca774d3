//! Answer modes end to end: a real relay (with its offline buffer), real
//! clients, real local servers that really sleep (the slowness is the
//! behaviour under test), and the sender's clock.

#![allow(clippy::unwrap_used)] // the shared harness unwraps; a test panics on failure anyway

mod common;

use common::process::{Proc, headless_with, numbered, relay};
use common::*;
use hookhole::events::Event;
use hookhole::history::{History, Keep, Writer};
use hookhole_relay::RelayConfig;
use hookhole_shared::protocol::Answer;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A relay that keeps deliveries in `dir` (answer modes need somewhere to).
async fn relay_keeping(dir: &Path) -> TestRelay {
    TestRelay::start_with(RelayConfig {
        data_dir: Some(dir.to_path_buf()),
        ..RelayConfig::default()
    })
    .await
}

/// A client of `relay` on `channel` asking for `answer`, saving to a
/// history in `data`; returns it and the history to read.
async fn listen(
    relay: &TestRelay,
    channel: &str,
    target: &str,
    answer: Answer,
    data: &Path,
) -> (TestClient, History) {
    let mut config = engine_config(&relay.url(), Some(channel), target);
    config.answer = answer;
    config.writer = Some(Writer::start(data, Keep::default()).unwrap());
    let history = History::open_existing(data).unwrap();
    config.history = Some(Arc::new(History::open_existing(data).unwrap()));
    (TestClient::start_with(config).await, history)
}

/// The client's delivery event for `path`.
async fn delivered(client: &mut TestClient, path: &str) -> Box<hookhole::events::DeliveryEvent> {
    loop {
        if let Event::Delivery(d) = client.next_event().await
            && d.path == path
        {
            return d;
        }
    }
}

/// The status of the local answer the history holds for `id`.
fn saved_status(history: &History, id: &str) -> Option<u16> {
    let stored = history.get(id).unwrap();
    match &stored.last()?.outcome {
        hookhole::delivery::attempt::Outcome::Answered { status, .. } => Some(*status),
        _ => None,
    }
}

/// Deliveries the relay still keeps, from its health report.
async fn kept(relay_url: &str) -> u64 {
    let health = send("GET", &format!("{relay_url}/_hookhole/health"), &[], b"").await;
    health.json()["buffered"].as_u64().unwrap()
}

/// Waits until the relay keeps nothing any more (its copy was freed).
async fn until_nothing_kept(relay_url: &str) {
    within("the relay to free its kept copy", async {
        while kept(relay_url).await != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test]
async fn now_answers_the_sender_at_once_and_the_history_gets_the_late_local_answer() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_keeping(&dir.path().join("relay")).await;
    let target = TestTarget::slow_and_fast().await;
    let data = dir.path().join("client");
    let (mut client, history) = listen(&relay, "now", &target.url(), Answer::NOW, &data).await;
    assert_eq!(client.answer, Answer::NOW);

    let started = Instant::now();
    let sent = post(&format!("{}/now/slow", relay.url()), b"{}").await;
    let waited = started.elapsed();
    assert_eq!(sent.status, 202, "{:?}", sent.json());
    // A correctness bound, not a benchmark: the local server takes 10 s.
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    let id = sent.json()["id"].as_str().unwrap().to_string();
    assert_eq!(sent.json()["accepted"], true);
    // Kept until the client has saved it.
    assert_eq!(kept(&relay.url()).await, 1);

    let event = delivered(&mut client, "/slow").await;
    assert_eq!(event.id, id);
    assert_eq!(event.status, Some(201));
    assert!(event.duration_ms >= SLOW.as_millis() as u64 - 100);
    assert_eq!(saved_status(&history, &id), Some(201));
    until_nothing_kept(&relay.url()).await;

    // Another status when asked for; the local server still gets it.
    let (_client, _) = listen(
        &relay,
        "now-200",
        &target.url(),
        Answer::Now { status: 200 },
        &dir.path().join("client-2"),
    )
    .await;
    let sent = post(&format!("{}/now-200/fast", relay.url()), b"{}").await;
    assert_eq!(sent.status, 200);
    assert_eq!(sent.json()["accepted"], true);
}

#[tokio::test]
async fn within_passes_a_fast_local_answer_and_answers_202_for_a_slow_one() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_keeping(&dir.path().join("relay")).await;
    let target = TestTarget::slow_and_fast().await;
    let within_1s = Answer::Within { wait_ms: 1000 };
    let data = dir.path().join("client");
    let (mut client, history) = listen(&relay, "within", &target.url(), within_1s, &data).await;
    assert_eq!(client.answer, within_1s);

    let fast = post(&format!("{}/within/fast", relay.url()), b"{}").await;
    assert_eq!(fast.status, 200);
    assert_eq!(&fast.body[..], b"fast");
    assert_eq!(kept(&relay.url()).await, 0, "a passed answer keeps nothing");

    let started = Instant::now();
    let slow = post(&format!("{}/within/slow", relay.url()), b"{}").await;
    let waited = started.elapsed();
    assert_eq!(slow.status, 202, "{:?}", slow.json());
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let id = slow.json()["id"].as_str().unwrap().to_string();
    let event = delivered(&mut client, "/slow").await;
    assert_eq!((event.id.as_str(), event.status), (id.as_str(), Some(201)));
    assert_eq!(saved_status(&history, &id), Some(201));
    // The client's answer, sent once it saved the delivery, frees the copy.
    until_nothing_kept(&relay.url()).await;
}

#[tokio::test]
async fn the_strictest_mode_of_a_channels_clients_is_in_force_and_every_client_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_keeping(&dir.path().join("relay")).await;
    let target = TestTarget::slow_and_fast().await;
    let (mut eager, _) = listen(
        &relay,
        "both",
        &target.url(),
        Answer::NOW,
        &dir.path().join("a"),
    )
    .await;
    assert_eq!(eager.answer, Answer::NOW);
    let hooks = format!("{}/both/fast", relay.url());
    assert_eq!(post(&hooks, b"{}").await.status, 202);

    // A client that wants the local answer joins: local is in force, for both.
    let (careful, _) = listen(
        &relay,
        "both",
        &target.url(),
        Answer::Local,
        &dir.path().join("b"),
    )
    .await;
    assert_eq!(careful.answer, Answer::Local);
    eager
        .wait_for(
            "the listeners message with the mode in force",
            |e| matches!(e, Event::Listeners { count: 2, answer } if *answer == Answer::Local),
        )
        .await;
    let answered = post(&hooks, b"{}").await;
    assert_eq!((answered.status, &answered.body[..]), (200, &b"fast"[..]));

    // It leaves: back to now.
    careful.stop().await.unwrap();
    eager
        .wait_for(
            "the mode to go back to now",
            |e| matches!(e, Event::Listeners { count: 1, answer } if *answer == Answer::NOW),
        )
        .await;
    assert_eq!(post(&hooks, b"{}").await.status, 202);
}

#[tokio::test]
async fn a_relay_that_cannot_keep_deliveries_applies_local_and_says_so() {
    let relay = TestRelay::start().await;
    let target = TestTarget::slow_and_fast().await;
    let mut config = engine_config(&relay.url(), Some("nobuffer"), &target.url());
    config.answer = Answer::NOW;
    let client = TestClient::start_with(config).await;
    assert_eq!(client.answer, Answer::Local);
    let sent = post(&format!("{}/nobuffer/fast", relay.url()), b"{}").await;
    assert_eq!((sent.status, &sent.body[..]), (200, &b"fast"[..]));
}

/// The sender was told `202`; the client is killed while the local server
/// is still answering, before it saved anything: the relay's copy reaches
/// the next client. Real processes, a real SIGKILL.
#[tokio::test]
async fn now_with_the_client_killed_after_the_202_delivers_when_a_client_connects_again() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, port) = relay(dir.path(), &dir.path().join("relay-data"), 0).await;
    let relay_url = format!("http://127.0.0.1:{port}");
    let mut target = TestTarget::slow_and_fast().await;
    let extra = ["--answer", "now"];
    let first = headless_with(dir.path(), &relay_url, "kill", &target.url(), &extra).await;

    let started = Instant::now();
    let sent = post(&format!("{relay_url}/kill/slow"), &numbered(1)).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json());
    assert!(started.elapsed() < Duration::from_secs(2));
    // The client is forwarding it (the local server sleeps): kill it now.
    assert_eq!(target.next_request().await.body, numbered(1));
    first.signal("KILL");
    first.exit().await;

    let mut again: Proc =
        headless_with(dir.path(), &relay_url, "kill", &target.url(), &extra).await;
    let event = again.wait_event("delivery").await;
    assert_eq!(event["id"], sent.json()["id"], "{event}");
    assert_eq!(event["path"], "/slow");
    assert_eq!(event["status"], 201, "{event}");
    assert_eq!(target.next_request().await.body, numbered(1));
    until_nothing_kept(&relay_url).await;
    again.signal("INT");
    again.exit().await;
    // Once in the history, however it came.
    let counts = common::process::history_counts(dir.path()).await;
    assert_eq!(counts.get(&1), Some(&1), "{counts:?}");
}

/// The embedded relay (no `--relay`) applies the mode too: it keeps its
/// buffer in the data dir for it, and the `ready` line says the mode.
#[tokio::test]
async fn the_embedded_relay_answers_now_and_says_so_in_ready() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::slow_and_fast().await;
    let mut cmd = common::process::hookhole(dir.path());
    cmd.args(["listen", "--no-tui", "--port", "0", "--forward"])
        .arg(target.url())
        .args(["--answer", "now"]);
    let mut listener = Proc::spawn(cmd);
    let ready = listener.wait_event("ready").await;
    assert_eq!(ready["answer"], "now", "{ready}");
    let url = ready["public_url"].as_str().unwrap().to_string();
    let started = Instant::now();
    let sent = post(&format!("{url}/slow"), b"{}").await;
    assert_eq!(sent.status, 202, "{:?}", sent.json());
    assert!(started.elapsed() < Duration::from_secs(2));
    let event = listener.wait_event("delivery").await;
    assert_eq!(
        (event["path"].as_str(), event["status"].as_u64()),
        (Some("/slow"), Some(201))
    );
    listener.signal("INT");
    listener.exit().await;
}

/// A `within` wait no shorter than the relay's response timeout cannot
/// answer early: the relay applies `local` and says so.
#[tokio::test]
async fn a_within_wait_past_the_response_timeout_is_local() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_keeping(&dir.path().join("relay")).await;
    let target = TestTarget::slow_and_fast().await;
    let (client, _) = listen(
        &relay,
        "long",
        &target.url(),
        Answer::Within { wait_ms: 60_000 },
        &dir.path().join("client"),
    )
    .await;
    assert_eq!(client.answer, Answer::Local);
}
