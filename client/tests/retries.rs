//! Provider retries played locally (issue 20, point 3), end to end: a real
//! relay, the real client (`listen --retries --retry-speed 3600`) and a
//! real local server. Retries carry the provider's next attempt number and
//! a fresh signature, stop at a 2xx, are not made where the provider would
//! not retry, and the end of the schedule says what the provider does then.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{self, Proc, hookhole, run};
use common::*;
use hookhole::trigger::{Options, catalogue, prepare, unix_now};
use hookhole::verification::Verifier;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Registry, Status};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

const MALOMO: &[u8] =
    include_bytes!("../../shared/tests/fixtures/samples/malomo-orders.created.json");

/// A local server that answers `fail` for the first `failures` requests,
/// then `200`.
async fn failing(failures: u32, fail: u16) -> TestTarget {
    let seen = Arc::new(AtomicU32::new(0));
    TestTarget::start(move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            Reply {
                status: if n < failures { fail } else { 200 },
                headers: vec![],
                body: b"ok".to_vec(),
            }
        }
    })
    .await
}

/// A relay process and a headless listener on it with `--retries
/// --retry-speed 3600` and `extra`; the webhook URL.
async fn listening(
    dir: &std::path::Path,
    target: &TestTarget,
    extra: &[&str],
) -> (Proc, Proc, String) {
    let (relay, port) = process::relay(dir, &dir.join("relay"), 0).await;
    let relay_url = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--retries", "--retry-speed", "3600"];
    args.extend_from_slice(extra);
    let listener = process::headless_with(dir, &relay_url, "retries", &target.url(), &args).await;
    (relay, listener, format!("{relay_url}/retries/hook"))
}

/// The next `event` line, skipping the others.
async fn next(listener: &mut Proc, event: &str) -> Value {
    listener.wait_event(event).await
}

#[tokio::test]
async fn malomo_is_retried_with_its_next_attempt_numbers_until_a_200() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = failing(2, 500).await;
    let (_relay, mut listener, hook) = listening(dir.path(), &target, &[]).await;
    let headers = [
        ("content-type", "application/json"),
        ("malomo-signature", "c2lnbmVk"),
        ("malomo-topic", "orders:created"),
        ("malomo-webhook-id", "9f1c2a8e-3b7d-4c55-8a51-2f0e6d7c9b10"),
        ("malomo-attempt-number", "1"),
    ];
    let sent = send("POST", &hook, &headers, MALOMO).await;
    assert_eq!(sent.status, 500, "the provider hears the first answer");
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let request = target.next_request().await;
        numbers.push(
            String::from_utf8(request.header("malomo-attempt-number").unwrap().to_vec()).unwrap(),
        );
        assert_eq!(request.body, MALOMO, "the same event");
    }
    assert_eq!(numbers, ["1", "2", "3"]);

    let first = next(&mut listener, "delivery").await;
    let id = first["id"].as_str().unwrap().to_string();
    let scheduled = next(&mut listener, "retry_scheduled").await;
    assert_eq!(scheduled["id"], id.as_str());
    assert_eq!(scheduled["attempt"], 2);
    assert_eq!(scheduled["provider_attempt"], 2);
    // Malomo: 10 attempts within 24 h, doubling: 86400 / 511 s at 3600×.
    assert_eq!(scheduled["in_ms"], 46, "{scheduled}");
    let retry = next(&mut listener, "delivery").await;
    assert_eq!(
        (retry["kind"].as_str(), retry["attempt"].as_u64()),
        (Some("retry"), Some(2)),
        "{retry}"
    );
    assert_eq!(retry["status"], 500);
    assert_eq!(retry["webhook"]["attempt"], 2);
    let last = loop {
        let line = listener.next_json().await;
        if line["event"] == "delivery" && line["attempt"] == 3 {
            break line;
        }
    };
    assert_eq!(last["kind"], "retry");
    assert_eq!(last["status"], 200);
    let ended = next(&mut listener, "retries_ended").await;
    assert_eq!(ended["why"], "answered", "{ended}");
    assert_eq!(ended["provider_attempts"], 3);

    // The history holds the three attempts, two of kind retry.
    let mut show = hookhole(dir.path());
    show.args(["show", "--json", &id]);
    let (code, stdout, stderr) = run(show).await;
    assert_eq!(code, Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    let kinds: Vec<&str> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["original", "retry", "retry"], "{shown}");
    // A 2xx ended them: nothing more arrives.
    assert!(
        target.requests.try_recv().is_err(),
        "no request after the end"
    );
}

#[tokio::test]
async fn a_stripe_retry_is_signed_afresh_and_verifies_at_the_local_server() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "whsec_retries_test_secret_01";
    let mut target = failing(2, 503).await;
    let (_relay, mut listener, hook) = listening(
        dir.path(),
        &target,
        &["--secret", &format!("stripe={secret}")],
    )
    .await;
    let registry = Registry::builtin();
    let events = catalogue::catalogue(&registry);
    let event = catalogue::find(&events, "stripe").unwrap();
    // Signed 100 s ago (within Stripe's 300 s): a retry signed now has
    // another timestamp.
    let signed_at = unix_now() - 100;
    let secret = Secret::new("stripe", secret);
    let prepared = prepare(
        event,
        &registry,
        Some(&secret),
        &hook,
        signed_at,
        &Options::default(),
    )
    .unwrap();
    let headers: Vec<(&str, &str)> = prepared
        .headers
        .iter()
        .map(|h| (h.name.as_str(), std::str::from_utf8(&h.value).unwrap()))
        .collect();
    assert_eq!(
        send("POST", &hook, &headers, &prepared.body).await.status,
        503
    );
    let verifier = Verifier {
        registry: Registry::builtin(),
        secrets: vec![secret],
    };
    let mut stamps = Vec::new();
    for n in 0..3 {
        let request = target.next_request().await;
        let headers: Vec<Header> = request
            .headers
            .iter()
            .map(|(k, v)| Header::new(k.clone(), v.clone()))
            .collect();
        let verdict = verifier.check_parts("POST", &hook, &headers, &request.body, unix_now());
        assert_eq!(
            verdict.status,
            Status::Valid,
            "request {n}: {}",
            verdict.reason
        );
        let signature =
            String::from_utf8(request.header("stripe-signature").unwrap().to_vec()).unwrap();
        stamps.push(signature.split(',').next().unwrap().to_string());
    }
    assert_eq!(stamps[0], format!("t={signed_at}"));
    assert_ne!(stamps[1], stamps[0], "a fresh timestamp: {stamps:?}");
    let retry = next(&mut listener, "delivery").await;
    assert!(
        retry.get("kind").is_none(),
        "the first line is the original: {retry}"
    );
    let retry = next(&mut listener, "delivery").await;
    assert_eq!(retry["kind"], "retry");
    assert_eq!(retry["signature"]["status"], "valid", "{retry}");
    let ended = next(&mut listener, "retries_ended").await;
    assert_eq!(ended["why"], "answered", "{ended}");
    assert!(
        target.requests.try_recv().is_err(),
        "no request after the end"
    );
}

#[tokio::test]
async fn a_server_errors_provider_does_not_retry_a_400() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = failing(10, 400).await;
    let (_relay, mut listener, hook) =
        listening(dir.path(), &target, &["--provider", "maestra"]).await;
    let body = br#"{"transactionId":"t-1"}"#;
    assert_eq!(
        send("POST", &hook, &[("content-type", "application/json")], body)
            .await
            .status,
        400
    );
    target.next_request().await;
    let ended = next(&mut listener, "retries_ended").await;
    assert_eq!(ended["why"], "not_retried", "{ended}");
    assert_eq!(ended["message"], "Maestra does not retry a 400");
    assert!(
        target.requests.try_recv().is_err(),
        "no request after the end"
    );
}

#[tokio::test]
async fn the_end_of_the_schedule_says_what_the_provider_does_then() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = failing(u32::MAX, 500).await;
    let (_relay, mut listener, hook) =
        listening(dir.path(), &target, &["--provider", "generic"]).await;
    let body = br#"{"id":"evt_1","type":"thing.happened"}"#;
    assert_eq!(
        send("POST", &hook, &[("content-type", "application/json")], body)
            .await
            .status,
        500
    );
    // Five attempts: the first and four retries (after 1 min, 5 min, 30
    // min, 2 h: 2.6 s at 3600×).
    for _ in 0..5 {
        target.next_request().await;
    }
    let ended = next(&mut listener, "retries_ended").await;
    assert_eq!(ended["why"], "gave_up", "{ended}");
    assert_eq!(ended["provider_attempts"], 5);
    assert_eq!(ended["then"], "disables the webhook");
    assert_eq!(
        ended["message"],
        "Generic HMAC gives up after attempt 5; then it disables the webhook"
    );
    assert!(
        target.requests.try_recv().is_err(),
        "no request after the end"
    );
}

#[tokio::test]
async fn a_bad_retry_speed_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for speed in ["0", "-1", "fast", "1.5"] {
        let mut cmd = hookhole(dir.path());
        cmd.args([
            "listen",
            "--no-tui",
            "--forward",
            "3000",
            &format!("--retry-speed={speed}"),
        ]);
        let (code, _, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{speed}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{speed}: {stderr}");
        assert!(stderr.contains("--retry-speed"), "{stderr}");
    }
    std::fs::write(
        dir.path().join("hookhole.toml"),
        "[listen]\nforward = 3000\nretry-speed = 0\n",
    )
    .unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.current_dir(dir.path()).args(["listen", "--no-tui"]);
    let (code, _, stderr) = run(cmd).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("retry-speed = 0"), "{stderr}");
}

/// A delivery a route sent to another local server is retried there, and
/// each retry's line names the route, as the first attempt's does.
#[tokio::test]
async fn retries_follow_the_route_the_first_attempt_took() {
    let dir = tempfile::tempdir().unwrap();
    let mut elsewhere = TestTarget::echo().await;
    let mut routed = failing(1, 503).await;
    let route = format!("provider=malomo,forward={}", routed.url());
    let (_relay, mut listener, hook) =
        listening(dir.path(), &elsewhere, &["--route", &route]).await;
    let headers = [
        ("content-type", "application/json"),
        ("malomo-signature", "c2lnbmVk"),
        ("malomo-webhook-id", "wh_route"),
        ("malomo-attempt-number", "1"),
    ];
    assert_eq!(send("POST", &hook, &headers, MALOMO).await.status, 503);
    for expected in ["1", "2"] {
        let request = routed.next_request().await;
        assert_eq!(
            request.header("malomo-attempt-number"),
            Some(expected.as_bytes())
        );
    }
    let first = next(&mut listener, "delivery").await;
    assert_eq!(first["route"], 1, "{first}");
    let retry = next(&mut listener, "delivery").await;
    assert_eq!(
        (
            retry["kind"].as_str(),
            retry["route"].as_u64(),
            retry["status"].as_u64()
        ),
        (Some("retry"), Some(1), Some(200)),
        "{retry}"
    );
    assert_eq!(
        next(&mut listener, "retries_ended").await["why"],
        "answered"
    );
    assert!(
        elsewhere.requests.try_recv().is_err(),
        "nothing went to --forward"
    );
}
