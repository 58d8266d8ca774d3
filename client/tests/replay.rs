//! `hookhole replay` with the real binary: where it sends without
//! `--forward`, and what `--resign` records (issue 16).

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, listening, run, stopped};
use common::*;
use serde_json::Value;
use std::path::Path;

/// Runs a history command on data dir `data` and returns its exit code,
/// stdout and stderr.
async fn command(dir: &Path, data: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = hookhole(dir);
    c.args(args).arg("--data-dir").arg(data);
    run(c).await
}

/// `hookhole listen` headless on the embedded relay, with no hookhole.toml,
/// saving to `data`; returns it and its public URL once ready.
async fn listening_with(dir: &Path, data: &Path, args: &[&str]) -> (Proc, String) {
    let data = data.to_str().unwrap();
    let args: Vec<&str> = args.iter().copied().chain(["--data-dir", data]).collect();
    listening(hookhole(dir), &args).await
}

/// The ids `history --failed` lists.
async fn failed_ids(dir: &Path, data: &Path) -> Vec<String> {
    let (code, stdout, stderr) = command(dir, data, &["history", "--failed", "--json"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A listener started with `--forward PORT` and no hookhole.toml; the
/// local server is down, the delivery fails, the listener stops, the
/// server comes up: `replay --failed` with no `--forward` sends it where
/// it went the first time, and says so.
#[tokio::test]
async fn replay_without_forward_sends_where_the_delivery_went_before() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let port = dead_port().await.port().to_string();
    let (listener, url) = listening_with(dir.path(), &data, &["--forward", &port]).await;
    let sent = post(&format!("{url}/orders"), b"{\"n\":1}").await;
    assert_eq!(sent.status, 502, "the local server is down");
    let id = stopped(listener).await;
    assert!(!dir.path().join("hookhole.toml").exists());
    assert_eq!(failed_ids(dir.path(), &data).await, [id.as_str()]);

    let socket = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap()))
        .await
        .unwrap();
    let mut target = TestTarget::on(socket, |req| async move { Reply::ok(req.body) });
    let (code, stdout, stderr) = command(dir.path(), &data, &["replay", "--failed"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "replaying to http://127.0.0.1:{port} (where its last attempt went)"
        )),
        "says where: {stderr}"
    );
    assert!(
        stdout.contains(&format!("#2 {id} POST /orders (replay) -> 200")),
        "{stdout}"
    );
    assert_eq!(target.next_request().await.body, b"{\"n\":1}");
    assert!(failed_ids(dir.path(), &data).await.is_empty());
}

/// `replay --resign` without the scheme's secret sends and records nothing
/// and names the flag that would work; with it, the attempt stores the
/// verdict of what it sent.
#[tokio::test]
async fn a_resigned_cli_replay_stores_its_verdict_and_one_without_a_secret_records_nothing() {
    use hmac::{Hmac, Mac};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let mut target = TestTarget::echo().await;
    let mut listen = hookhole(dir.path());
    listen.args([
        "listen",
        "--no-tui",
        "--port",
        "0",
        "--forward",
        &target.url(),
    ]);
    listen.args(["--secret", "github=first-secret"]);
    listen.arg("--data-dir").arg(&data);
    let mut listener = Proc::spawn(listen);
    let url = listener.wait_event("ready").await["public_url"]
        .as_str()
        .unwrap()
        .to_string();
    let body = br#"{"zen":"Design for failure."}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"first-secret").unwrap();
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let sent = send(
        "POST",
        &format!("{url}/gh"),
        &[("x-hub-signature-256", &signature)],
        body,
    )
    .await;
    assert_eq!(sent.status, 200);
    target.next_request().await;
    let id = stopped(listener).await;

    let (code, stdout, stderr) = command(dir.path(), &data, &["replay", &id, "--resign"]).await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("--secret github="),
        "names the flag: {stderr}"
    );
    let (_, shown, _) = command(dir.path(), &data, &["show", &id, "--json"]).await;
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        shown["attempts"].as_array().unwrap().len(),
        1,
        "nothing recorded"
    );
    assert!(
        failed_ids(dir.path(), &data).await.is_empty(),
        "state unchanged"
    );

    let (code, stdout, stderr) = command(
        dir.path(),
        &data,
        &[
            "replay",
            &id,
            "--resign",
            "--secret",
            "github=second-secret",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let resent = target.next_request().await;
    assert_eq!(resent.body, body);
    let (_, shown, _) = command(dir.path(), &data, &["show", &id, "--json"]).await;
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let attempt = &shown["attempts"][1];
    assert_eq!(attempt["kind"], "resigned");
    assert_eq!(attempt["signature"]["scheme"], "github", "{attempt}");
    assert_eq!(attempt["signature"]["status"], "valid", "{attempt}");
    let sent_headers = attempt["request_headers"].to_string();
    assert!(
        sent_headers.contains("x-hub-signature-256"),
        "{sent_headers}"
    );
    assert!(
        !sent_headers.contains(&signature),
        "the new signature was recorded"
    );
}
