//! The history commands against a real listener's database: history,
//! show, replay (fault test e: local server down, then up, then
//! `replay --failed` delivers everything), export (HAR 1.2 shape).

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, listening, run, stopped};
use common::*;
use serde_json::Value;

/// Checks the fields HAR 1.2 requires, and their types.
fn assert_har_1_2(har: &Value) {
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert!(log["creator"]["name"].is_string() && log["creator"]["version"].is_string());
    let entries = log["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    for e in entries {
        assert!(
            e["startedDateTime"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z') && t.contains('T')),
            "{e}"
        );
        assert!(e["time"].is_number());
        let req = &e["request"];
        for key in ["method", "url", "httpVersion"] {
            assert!(req[key].is_string(), "request.{key}");
        }
        for key in ["cookies", "headers", "queryString"] {
            assert!(req[key].is_array(), "request.{key}");
        }
        assert!(req["headersSize"].is_number() && req["bodySize"].is_number());
        for h in req["headers"].as_array().unwrap() {
            assert!(h["name"].is_string() && h["value"].is_string());
        }
        if let Some(post) = req.get("postData") {
            assert!(post["mimeType"].is_string() && post["text"].is_string());
        }
        let res = &e["response"];
        assert!(
            res["status"].is_number()
                && res["statusText"].is_string()
                && res["httpVersion"].is_string()
        );
        assert!(
            res["cookies"].is_array()
                && res["headers"].is_array()
                && res["redirectURL"].is_string()
        );
        assert!(res["content"]["size"].is_number() && res["content"]["mimeType"].is_string());
        assert!(res["headersSize"].is_number() && res["bodySize"].is_number());
        assert!(e["cache"].is_object());
        for key in ["send", "wait", "receive"] {
            assert!(e["timings"][key].is_number(), "timings.{key}");
        }
    }
}

#[tokio::test]
async fn deliveries_survive_in_the_history_and_failed_ones_replay_once_the_server_is_up() {
    let dir = tempfile::tempdir().unwrap();
    // The local server is down at first: its port is bound later.
    let port = dead_port().await.port();
    std::fs::write(
        dir.path().join("hookhole.toml"),
        format!("[listen]\nforward = \"http://127.0.0.1:{port}\"\nport = 0\n"),
    )
    .unwrap();
    let mut listen = hookhole(dir.path());
    listen.args(["listen", "--no-tui"]);
    let mut listener = Proc::spawn(listen);
    let url = listener.wait_event("ready").await["public_url"]
        .as_str()
        .unwrap()
        .to_string();

    for n in 0..3 {
        let sent = send(
            "POST",
            &format!("{url}/orders/{n}"),
            &[("content-type", "application/json")],
            format!("{{\"n\":{n}}}").as_bytes(),
        )
        .await;
        assert_eq!(sent.status, 502, "the local server is down");
        assert_eq!(listener.wait_event("delivery").await["status"], Value::Null);
    }
    listener.signal("INT");
    listener.exit().await;

    // The history outlives the listener.
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["history", "--json"]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r["error"] == "local_unreachable"),
        "{stdout}"
    );
    let first = rows[0]["id"].as_str().unwrap();

    let (code, stdout, _) = run({
        let mut c = hookhole(dir.path());
        c.args(["show", &first[..6], "--json"]);
        c
    })
    .await;
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["path"], "/orders/0");
    assert_eq!(shown["body"]["text"], "{\"n\":0}");
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 1);

    // The server comes up; every failed delivery goes through.
    let listener_socket = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let mut target = TestTarget::on(listener_socket, |req| async move { Reply::ok(req.body) });
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["replay", "--failed"]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(String::from_utf8(target.next_request().await.body).unwrap());
    }
    bodies.sort();
    assert_eq!(bodies, ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]);
    let (_, stdout, _) = run({
        let mut c = hookhole(dir.path());
        c.args(["history", "--failed", "--json"]);
        c
    })
    .await;
    assert!(
        stdout.trim().is_empty(),
        "nothing failed any more: {stdout}"
    );

    let (code, stdout, _) = run({
        let mut c = hookhole(dir.path());
        c.args(["export", "--format", "har"]);
        c
    })
    .await;
    assert_eq!(code, Some(0));
    let har: Value = serde_json::from_str(&stdout).unwrap();
    assert_har_1_2(&har);
    assert_eq!(
        har["log"]["entries"].as_array().unwrap().len(),
        6,
        "3 deliveries x 2 attempts"
    );

    let out = dir.path().join("hooks.sh");
    let (code, _, _) = run({
        let mut c = hookhole(dir.path());
        c.args(["export", "--format", "curl", "--out", out.to_str().unwrap()]);
        c
    })
    .await;
    assert_eq!(code, Some(0));
    let curl = std::fs::read_to_string(out).unwrap();
    assert_eq!(curl.matches("-X 'POST'").count(), 3, "{curl}");
    assert!(curl.contains("--request-target '/orders/1'"), "{curl}");
    assert!(
        curl.contains(&format!("'http://127.0.0.1:{port}/'")),
        "to the configured forward target: {curl}"
    );

    let (code, _, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["show", "zzzz"]);
        c
    })
    .await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no delivery with an id starting with"),
        "{stderr}"
    );
}

/// `--keep 3` holds while the listener runs, not only when it starts: the
/// fourth and fifth deliveries push out the first two.
#[tokio::test]
async fn a_running_listener_keeps_only_the_newest_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::start(|req| async move { Reply::ok(req.body) }).await;
    let (mut listener, url) = listening(
        hookhole(dir.path()),
        &["--keep", "3", "--forward", &target.url()],
    )
    .await;
    for n in 0..5 {
        let sent = post(&format!("{url}/n/{n}"), b"{}").await;
        assert_eq!(sent.status, 200);
        listener.wait_event("delivery").await;
    }
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["history", "--json"]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let paths: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["path"].to_string())
        .collect();
    assert_eq!(paths, ["\"/n/2\"", "\"/n/3\"", "\"/n/4\""], "{stdout}");
    listener.signal("INT");
    listener.exit().await;
}

/// The bytes in the history's log segments.
fn logged_bytes(data: &std::path::Path) -> u64 {
    std::fs::read_dir(data.join("history-log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

/// A body over 64 KiB is kept in the history's log with its delivery:
/// through a real relay and listener it is still shown, answered and
/// replayed byte for byte.
#[tokio::test]
async fn large_bodies_are_kept_in_the_log_and_replay_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TestTarget::start(|req| async move { Reply::ok(req.body) }).await;
    let data = dir.path().join("data-dir");
    let hookhole = |dir: &std::path::Path| {
        let mut c = hookhole(dir);
        c.env("HOOKHOLE_DATA_DIR", &data);
        c
    };
    let (listener, url) = listening(hookhole(dir.path()), &["--forward", &target.url()]).await;
    let body = format!("{{\"pad\":\"{}\"}}", "0123456789".repeat(30_000));
    let sent = post(&format!("{url}/big"), body.as_bytes()).await;
    assert_eq!(sent.status, 200);
    assert_eq!(sent.body, body.as_bytes(), "the echo came back whole");
    assert_eq!(target.next_request().await.body, body.as_bytes());
    let id = stopped(listener).await;

    // The request and the echoed response: in the log, in no file of
    // their own (and not in the index's rows).
    assert!(!data.join("bodies").exists());
    let logged = logged_bytes(&data);
    assert!(logged > 2 * body.len() as u64, "{logged}");
    assert!(
        std::fs::metadata(data.join("history.sqlite"))
            .unwrap()
            .len()
            < body.len() as u64
    );
    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["show", &id, "--json"]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["body"]["text"], body.as_str());

    let (code, stdout, stderr) = run({
        let mut c = hookhole(dir.path());
        c.args(["replay", &id, "--forward", &target.url()]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(target.next_request().await.body, body.as_bytes());
    assert!(
        logged_bytes(&data) > logged + body.len() as u64,
        "the replay's echoed answer is logged with its attempt"
    );
}
