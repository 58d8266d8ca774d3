//! Webhook facts end to end (issue 19): a real relay, the real client, a
//! real local server. A retry of an event is marked a duplicate of its
//! first delivery in the JSON lines, `history --json` and `show --json`;
//! a provider's attempt number is shown; an answer after the provider's
//! deadline is late, with what the provider would do next; `history
//! --event/--duplicates/--late` pick the right deliveries.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{self, hookhole, json_lines_of, run, stdout_of};
use common::*;
use hookhole::history::{Keep, Writer};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Maple's `order.notification` as its documentation shows it.
const MAPLE: &[u8] =
    include_bytes!("../../shared/tests/fixtures/samples/maple-order.notification.json");
const MAPLE_EVENT_ID: &str = "evt_01JD8Z6Q0N4T7Y2K3M5P9R1S";
const MAESTRA: &[u8] =
    include_bytes!("../../shared/tests/fixtures/samples/maestra-customer.updated.json");
const MALOMO: &[u8] =
    include_bytes!("../../shared/tests/fixtures/samples/malomo-orders.created.json");

/// Maple's headers, signed with a secret the listener does not have: the
/// verdict is `no_secret`, and names Maple.
fn maple_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/json"),
        ("maple-webhook-id", "wh_01"),
        ("maple-webhook-signature", "t=1765432100,v1=00ff"),
    ]
}

fn malomo_headers(attempt: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/json"),
        ("user-agent", "Malomo-Webhook-Agent/2.0"),
        ("malomo-signature", "c2lnbmVk"),
        ("malomo-topic", "orders:created"),
        ("malomo-webhook-id", "9f1c2a8e-3b7d-4c55-8a51-2f0e6d7c9b10"),
        ("malomo-attempt-number", attempt),
    ]
}

/// The ids `history --json` lists with `extra` flags.
async fn listed(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["history", "--json"];
    args.extend_from_slice(extra);
    stdout_of(dir, &args)
        .await
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap();
            row["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_maple_event_sent_twice_is_a_duplicate_of_the_first_delivery_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TestTarget::echo().await;
    let (relay, port) = process::relay(dir.path(), &dir.path().join("relay"), 0).await;
    let relay_url = format!("http://127.0.0.1:{port}");
    let mut listener = process::headless(dir.path(), &relay_url, "facts", &target.url()).await;
    let hooks = format!("{relay_url}/facts/webhooks");

    // The same event twice, as Maple's retry sends it.
    for _ in 0..2 {
        let sent = send("POST", &format!("{hooks}/maple"), &maple_headers(), MAPLE).await;
        assert_eq!(sent.status, 200);
        target.next_request().await;
    }
    let first = listener.wait_event("delivery").await;
    let second = listener.wait_event("delivery").await;
    let first_id = first["id"].as_str().unwrap().to_string();
    let second_id = second["id"].as_str().unwrap().to_string();
    let webhook = &first["webhook"];
    assert_eq!(webhook["provider"], "maple", "{first}");
    assert_eq!(webhook["type"], "order.notification");
    assert_eq!(webhook["id"], MAPLE_EVENT_ID);
    assert_eq!(webhook["seen"], 1);
    assert_eq!(webhook["deadline_ms"], 30_000);
    assert_eq!(webhook["late"], false);
    assert!(webhook.get("duplicate_of").is_none(), "{first}");
    assert!(webhook.get("next").is_none(), "a 200 in time: {first}");
    assert_eq!(
        second["webhook"]["duplicate_of"],
        first_id.as_str(),
        "{second}"
    );
    assert_eq!(second["webhook"]["seen"], 2);

    // Malomo numbers its attempts.
    let sent = send(
        "POST",
        &format!("{hooks}/malomo"),
        &malomo_headers("3"),
        MALOMO,
    )
    .await;
    assert_eq!(sent.status, 200);
    let malomo = listener.wait_event("delivery").await;
    assert_eq!(malomo["webhook"]["provider"], "malomo", "{malomo}");
    assert_eq!(malomo["webhook"]["attempt"], 3);
    assert_eq!(malomo["webhook"]["type"], "orders:created");
    let malomo_id = malomo["id"].as_str().unwrap().to_string();

    // A sender no provider claims: no webhook object at all.
    assert_eq!(post(&format!("{hooks}/plain"), b"{}").await.status, 200);
    let plain = listener.wait_event("delivery").await;
    assert!(plain.get("webhook").is_none(), "{plain}");
    listener.signal("INT");
    listener.exit().await;
    drop(relay);

    // The same object in `history --json` and `show --json`.
    let rows: Vec<Value> = json_lines_of(dir.path(), &["history", "--json"]).await;
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["id"], second_id.as_str());
    assert_eq!(
        rows[1]["webhook"], second["webhook"],
        "history = the JSON line"
    );
    assert_eq!(rows[2]["webhook"]["attempt"], 3);
    assert!(rows[3].get("webhook").is_none());
    let shown: Value =
        serde_json::from_str(&stdout_of(dir.path(), &["show", &second_id, "--json"]).await)
            .unwrap();
    assert_eq!(shown["webhook"], second["webhook"], "show = the JSON line");

    // The filters, alone and together.
    assert_eq!(
        listed(dir.path(), &["--duplicates"]).await,
        [second_id.as_str()]
    );
    assert_eq!(
        listed(dir.path(), &["--event", "order.*"]).await,
        [first_id.as_str(), second_id.as_str()]
    );
    assert_eq!(
        listed(dir.path(), &["--event", "ORDERS:*"]).await,
        [malomo_id.as_str()]
    );
    assert!(
        listed(dir.path(), &["--event", "orders:*", "--duplicates"])
            .await
            .is_empty()
    );
    assert!(
        listed(dir.path(), &["--late"]).await.is_empty(),
        "all in time"
    );
    assert_eq!(
        listed(dir.path(), &["--event", "order.*", "--limit", "1"]).await,
        [second_id.as_str()],
        "the most recent of those picked"
    );

    // For people: the event column and the mark, and show's facts.
    let table = stdout_of(dir.path(), &["history"]).await;
    let row = table.lines().find(|l| l.starts_with(&second_id)).unwrap();
    assert!(
        row.contains("order.notification") && row.contains("dup×2"),
        "{table}"
    );
    let text = stdout_of(dir.path(), &["show", &second_id]).await;
    assert!(
        text.contains(&format!("duplicate: of {first_id} (seen 2 times)")),
        "{text}"
    );
    assert!(text.contains("provider: Maple (maple)"), "{text}");
}

/// A sender that signs nothing (Maestra) is taken as `--provider`'s; an
/// unknown id stops the start.
#[tokio::test]
async fn listen_provider_names_the_provider_of_unsigned_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let (mut listener, url) = process::listening(
        hookhole(dir.path()),
        &["--forward", &target.url(), "--provider", "maestra"],
    )
    .await;
    let sent = post(&format!("{url}/maestra"), MAESTRA).await;
    assert_eq!(sent.status, 200);
    let delivery = listener.wait_event("delivery").await;
    assert_eq!(delivery["signature"]["status"], "unsigned");
    assert_eq!(delivery["webhook"]["provider"], "maestra", "{delivery}");
    assert_eq!(
        delivery["webhook"]["id"],
        "c8f3f7a2-0d6e-4a1b-9c55-1e2f3a4b5c6d"
    );
    // A signed delivery still names its own provider.
    let signed = send("POST", &format!("{url}/maple"), &maple_headers(), MAPLE).await;
    assert_eq!(signed.status, 200);
    let delivery = listener.wait_event("delivery").await;
    assert_eq!(delivery["webhook"]["provider"], "maple", "{delivery}");
    listener.signal("INT");
    listener.exit().await;

    for (args, env) in [(vec!["--provider", "mapel"], None), (vec![], Some("mapel"))] {
        let mut cmd = hookhole(dir.path());
        cmd.args(["listen", "--no-tui", "--forward", "3000"])
            .args(&args);
        if let Some(id) = env {
            cmd.env("HOOKHOLE_PROVIDER", id);
        }
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--provider: unknown provider \"mapel\" (did you mean \"maple\"?)"),
            "{stderr}"
        );
    }
}

/// A local server slower than Malomo's 10 s deadline: the delivery is late
/// and says what Malomo would do. (The one test that waits 11 s for real:
/// the deadline is the provider's, and the local server really sleeps.)
#[tokio::test]
async fn an_answer_after_malomos_deadline_is_late_with_malomos_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/hookhole");
    let relay = TestRelay::start().await;
    let target = TestTarget::start(|req| async move {
        if req.header("malomo-topic").is_some() {
            tokio::time::sleep(Duration::from_secs(11)).await;
        }
        Reply::ok("done")
    })
    .await;
    let mut config = engine_config(&relay.url(), Some("late"), &target.url());
    config.writer = Some(Writer::start(&data, Keep::default()).unwrap());
    config.history = Some(Arc::new(
        hookhole::history::History::open_existing(&data).unwrap(),
    ));
    let mut client = TestClient::start_with(config).await;
    let hooks = format!("{}/late", relay.url());

    let quick = post(&format!("{hooks}/quick"), b"{}").await;
    assert_eq!(quick.status, 200);
    // The relay gives up on the sender after its own 10 s; the client waits
    // for the local server and records what it did.
    send(
        "POST",
        &format!("{hooks}/malomo"),
        &malomo_headers("1"),
        MALOMO,
    )
    .await;
    let mut late = None;
    while late.is_none() {
        if let hookhole::events::Event::Delivery(d) = client.next_event().await
            && d.path == "/malomo"
        {
            late = Some(d);
        }
    }
    let late = late.unwrap();
    assert!(late.duration_ms > 10_000, "{}", late.duration_ms);
    let line: Value =
        serde_json::from_str(&hookhole::events::Event::Delivery(late.clone()).to_json_line())
            .unwrap();
    let webhook = &line["webhook"];
    assert_eq!(webhook["late"], true, "{line}");
    assert_eq!(webhook["deadline_ms"], 10_000);
    assert_eq!(
        webhook["next"], "Malomo would time out after 10 s and retry: attempt 2 of 10",
        "{line}"
    );
    let late_id = late.id.clone();
    client.stop().await.unwrap();

    let data_arg = data.to_str().unwrap();
    assert_eq!(
        listed(dir.path(), &["--late", "--data-dir", data_arg]).await,
        [late_id.as_str()]
    );
    let shown: Value = serde_json::from_str(
        &stdout_of(
            dir.path(),
            &["show", &late_id, "--json", "--data-dir", data_arg],
        )
        .await,
    )
    .unwrap();
    assert_eq!(shown["webhook"], *webhook, "show = the JSON line");
    let text = stdout_of(dir.path(), &["show", &late_id, "--data-dir", data_arg]).await;
    assert!(
        text.contains("next: Malomo would time out after 10 s and retry: attempt 2 of 10"),
        "{text}"
    );
}
