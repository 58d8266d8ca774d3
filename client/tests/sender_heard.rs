//! What the sender heard, end to end (issue 20): a real relay process
//! keeping deliveries, real `hookhole listen` processes, a real local
//! server that is really slow (being slow is what is tested). When the
//! relay answered the sender itself (a queued delivery, `--answer now`,
//! `--answer within` past its wait), the history, `show` and the JSON
//! lines say so, and lateness, the next step and retries are judged by
//! that answer; a local answer is judged as before.

#![allow(clippy::unwrap_used)] // the shared harness unwraps; a test panics on failure anyway

mod common;

use common::process::{Proc, headless_with, json_lines_of, relay, stdout_of};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const EVENT: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

/// How long the local server takes on `/slow`: past Acme's deadline and
/// past a `within=300ms` wait, well inside the relay's 10 s timeout.
const SLOW: Duration = Duration::from_secs(1);

/// A local server answering `/slow` with `500` after [`SLOW`], anything
/// else with `200` at once.
async fn slow_500() -> TestTarget {
    TestTarget::start(|req| async move {
        if req.target.ends_with("/slow") {
            tokio::time::sleep(SLOW).await;
            Reply {
                status: 500,
                headers: vec![],
                body: b"down".to_vec(),
            }
        } else {
            Reply::ok("fast")
        }
    })
    .await
}

/// A working dir whose `hookhole.toml` knows Acme, and a relay process
/// keeping deliveries; the relay's URL.
async fn acme_and_relay(dir: &Path) -> (Proc, String) {
    // Acme: a 500 ms deadline, retried on any failure.
    std::fs::write(dir.join("hookhole.toml"), acme_preset(500)).unwrap();
    let (relay, port) = relay(dir, &dir.join("relay-data"), 0).await;
    (relay, format!("http://127.0.0.1:{port}"))
}

/// Sends an Acme event to `url`.
async fn acme(url: &str) -> Sent {
    let headers = [
        ("content-type", "application/json"),
        ("x-acme-signature", "00ff"),
    ];
    send("POST", url, &headers, EVENT).await
}

/// `show --json` of delivery `id`, from the listener's working dir.
async fn shown(dir: &Path, id: &str) -> Value {
    serde_json::from_str(&stdout_of(dir, &["show", "--json", id]).await).unwrap()
}

/// The delivery `line` says its sender heard `heard`, in Acme's time (not
/// late), and so do `show --json` and `show` (whose text has `said`).
async fn heard_everywhere(dir: &Path, line: &Value, heard: &Value, said: &str) {
    assert_eq!(&line["sender_heard"], heard, "{line}");
    assert_eq!(line["webhook"]["late"], false, "{line}");
    let id = line["id"].as_str().unwrap();
    assert_eq!(&shown(dir, id).await["sender_heard"], heard);
    let text = stdout_of(dir, &["show", id]).await;
    assert!(text.contains(said), "{text}");
}

/// The ids `history --late` lists.
async fn late_ids(dir: &Path) -> Vec<String> {
    json_lines_of(dir, &["history", "--json", "--late"])
        .await
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect()
}

/// `within=300ms` and a local `500` after 1 s: the sender heard the relay's
/// `202` after 300 ms, in Acme's time, so the delivery is not late, has no
/// next step, and `--retries` plays nothing; the local `500` is still
/// recorded.
#[tokio::test]
async fn within_past_its_wait_records_the_relays_202_and_plays_no_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, relay_url) = acme_and_relay(dir.path()).await;
    let target = slow_500().await;
    let extra = [
        "--answer",
        "within=300ms",
        "--retries",
        "--retry-speed",
        "3600",
    ];
    let mut listener = headless_with(dir.path(), &relay_url, "w", &target.url(), &extra).await;

    let sent = acme(&format!("{relay_url}/w/slow")).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json());
    let id = sent.json()["id"].as_str().unwrap().to_string();
    let line = listener.wait_event("delivery").await;
    assert_eq!((&line["id"], &line["status"]), (&json!(id), &json!(500)));
    let heard = json!({"status": 202, "by": "relay", "why": "answer_within", "wait_ms": 300});
    assert_eq!(line["sender_heard"], heard, "{line}");
    assert_eq!(line["webhook"]["late"], false, "{line}");
    assert!(line["webhook"].get("next").is_none(), "{line}");

    // A retry would be scheduled the moment the first attempt ended, long
    // before a second webhook makes its way through the relay: the next
    // line is that webhook's.
    assert_eq!(
        post(&format!("{relay_url}/w/fast"), b"{}").await.status,
        200
    );
    let next = listener.next_json().await;
    assert_eq!(
        (next["event"].as_str(), next["path"].as_str()),
        (Some("delivery"), Some("/fast")),
        "{next}"
    );
    assert!(next.get("sender_heard").is_none(), "passed through: {next}");

    let show = shown(dir.path(), &id).await;
    assert_eq!(show["sender_heard"], heard);
    assert_eq!(show["webhook"], line["webhook"], "show = the JSON line");
    assert_eq!(show["attempts"].as_array().unwrap().len(), 1, "no retry");
    assert_eq!(show["attempts"][0]["status"], 500, "the local answer");
    let text = stdout_of(dir.path(), &["show", &id]).await;
    assert!(
        text.contains(
            "sender heard: 202 from the relay (answer mode within=300ms: the local answer came after 300ms)"
        ),
        "{text}"
    );
    assert!(late_ids(dir.path()).await.is_empty());
    let listed = json_lines_of(dir.path(), &["history", "--json"]).await;
    assert_eq!(listed[0]["sender_heard"], heard);
}

/// The same slow `500` with the default answer mode: the sender waited for
/// it, so the delivery is late, says what Acme does next, and is listed by
/// `history --late`; nothing says the relay answered.
#[tokio::test]
async fn a_late_local_answer_is_still_late_with_the_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, relay_url) = acme_and_relay(dir.path()).await;
    let target = slow_500().await;
    let mut listener = headless_with(dir.path(), &relay_url, "l", &target.url(), &[]).await;

    let sent = acme(&format!("{relay_url}/l/slow")).await;
    assert_eq!(sent.status, 500, "the local answer");
    let line = listener.wait_event("delivery").await;
    let id = line["id"].as_str().unwrap().to_string();
    assert!(line.get("sender_heard").is_none(), "{line}");
    assert_eq!(line["webhook"]["late"], true, "{line}");
    let next = line["webhook"]["next"].as_str().unwrap();
    assert!(
        next.starts_with("Acme would time out after 500 ms"),
        "{next}"
    );

    assert!(shown(dir.path(), &id).await.get("sender_heard").is_none());
    let text = stdout_of(dir.path(), &["show", &id]).await;
    assert!(!text.contains("sender heard"), "{text}");
    assert!(text.contains("deadline: 500 ms: answered late"), "{text}");
    assert_eq!(late_ids(dir.path()).await, [id]);
}

/// Sent while no client was connected: the relay kept it and answered
/// `202`; the client that connects later records that.
#[tokio::test]
async fn a_queued_delivery_records_the_relays_202() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, relay_url) = acme_and_relay(dir.path()).await;
    let target = slow_500().await;
    let sent = acme(&format!("{relay_url}/q/slow")).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json());
    assert_eq!(sent.json()["queued"], true);

    let mut listener = headless_with(dir.path(), &relay_url, "q", &target.url(), &[]).await;
    let line = listener.wait_event("delivery").await;
    assert_eq!(line["id"], sent.json()["id"]);
    let heard = json!({"status": 202, "by": "relay", "why": "queued"});
    let said = "sender heard: 202 from the relay (queued: no client was connected)";
    heard_everywhere(dir.path(), &line, &heard, said).await;
}

/// `--answer now=204`: the sender got `204` at once, which the relay's
/// notice tells the client; the local answer, a second later, is recorded
/// beside it.
#[tokio::test]
async fn answer_now_records_the_status_the_relay_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, relay_url) = acme_and_relay(dir.path()).await;
    let target = slow_500().await;
    let extra = ["--answer", "now=204"];
    let mut listener = headless_with(dir.path(), &relay_url, "n", &target.url(), &extra).await;

    let sent = acme(&format!("{relay_url}/n/slow")).await;
    assert_eq!(sent.status, 204);
    let line = listener.wait_event("delivery").await;
    assert_eq!(line["status"], 500, "{line}");
    let heard = json!({"status": 204, "by": "relay", "why": "answer_now"});
    let said = "sender heard: 204 from the relay (answer mode now)";
    heard_everywhere(dir.path(), &line, &heard, said).await;
}
