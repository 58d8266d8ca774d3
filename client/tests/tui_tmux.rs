//! The terminal UI in a real terminal (tmux): a delivery appears with its
//! signature word, `r` replays it to the local server, `q` exits and leaves
//! the terminal as it was.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::tmux::{Tmux, dir_forwarding_to, public_url, tmux_available};
use common::*;
use hookhole::trigger::catalogue;
use hookhole::trigger::{Options, Prepared, http_client, prepare, send, unix_now};
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::secret::Secret;

/// Sends `url` a Stripe test event signed with `secret`; the listener
/// answers `200`.
async fn stripe_event(url: &str, secret: &str) -> Prepared {
    let registry = Registry::builtin();
    let events = catalogue::catalogue(&registry);
    let event = catalogue::find(&events, "stripe").unwrap();
    let prepared = prepare(
        event,
        &registry,
        Some(&Secret::new("stripe", secret)),
        url,
        unix_now(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(send(&http_client(), &prepared).await.unwrap().status, 200);
    prepared
}

#[tokio::test]
async fn a_delivery_shows_its_signature_r_replays_and_q_restores_the_terminal() {
    if !tmux_available() {
        return;
    }
    let mut target = TestTarget::echo().await;
    let secret = "whsec_tmux_test_secret_0001";
    let dir = dir_forwarding_to(&target.url(), &format!("secret = [\"stripe={secret}\"]\n"));
    let data = dir.path().join("data");
    let tmux = Tmux::new("replay");
    tmux.start_listener(dir.path(), &data, (120, 30), &["NO_COLOR=1".into()]);

    let prepared = stripe_event(&public_url(&data).await, secret).await;
    target.next_request().await;
    let screen = tmux.wait_for("✓ valid").await;
    assert!(
        screen.contains("POST") && screen.contains("200"),
        "{screen}"
    );

    tmux.run(&["send-keys", "-t", "ui", "r"]);
    let replayed = target.next_request().await;
    assert_eq!(replayed.body, prepared.body, "r sends the same bytes again");
    tmux.run(&["send-keys", "-t", "ui", "2"]);
    tmux.wait_for("Attempt 2 (replay)").await;

    tmux.run(&["send-keys", "-t", "ui", "q"]);
    let screen = tmux.wait_for("EXITED=0").await;
    assert!(
        !screen.contains("Deliveries"),
        "the UI is gone from the terminal:\n{screen}"
    );
}

/// `R` on a delivery whose scheme has no secret here: the status line names
/// the `--secret` that would work, nothing is sent or recorded, and the
/// delivery is not counted failed (issue 16).
#[tokio::test]
async fn r_without_a_secret_says_which_and_leaves_the_history_alone() {
    if !tmux_available() {
        return;
    }
    let mut target = TestTarget::echo().await;
    let dir = dir_forwarding_to(&target.url(), "");
    let data = dir.path().join("data");
    let tmux = Tmux::new("resign");
    tmux.start_listener(dir.path(), &data, (120, 30), &["NO_COLOR=1".into()]);
    stripe_event(&public_url(&data).await, "whsec_only_the_sender_knows").await;
    target.next_request().await;
    tmux.wait_for("no_secret").await;

    tmux.run(&["send-keys", "-t", "ui", "R"]);
    tmux.wait_for("pass --secret stripe=").await;
    tmux.run(&["send-keys", "-t", "ui", "q"]);
    tmux.wait_for("EXITED=0").await;

    let (code, stdout, stderr) = common::process::run({
        let mut c = common::process::hookhole(dir.path());
        c.args(["history", "--json"]);
        c
    })
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let row: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(row["attempts"], 1, "nothing recorded: {row}");
    assert_eq!(row["failed"], false, "{row}");
}

/// A Maple event sent twice (issue 19): the list shows its event type and
/// `dup×2` on the second row, and the detail pane names the first delivery.
#[tokio::test]
async fn a_repeated_event_is_marked_dup_in_the_list_and_the_detail_pane() {
    if !tmux_available() {
        return;
    }
    let mut target = TestTarget::echo().await;
    let dir = dir_forwarding_to(&target.url(), "");
    let data = dir.path().join("data");
    let tmux = Tmux::new("dup");
    tmux.start_listener(dir.path(), &data, (120, 30), &["NO_COLOR=1".into()]);
    let url = format!("{}/maple", public_url(&data).await);
    let body = include_bytes!("../../shared/tests/fixtures/samples/maple-order.notification.json");
    let headers = [
        ("content-type", "application/json"),
        ("maple-webhook-id", "wh_01"),
        ("maple-webhook-signature", "t=1765432100,v1=00ff"),
    ];
    for _ in 0..2 {
        assert_eq!(common::send("POST", &url, &headers, body).await.status, 200);
        target.next_request().await;
    }
    let screen = tmux.wait_for("dup×2").await;
    assert!(screen.contains("order.notification"), "{screen}");
    tmux.run(&["send-keys", "-t", "ui", "G"]);
    tmux.wait_for("(seen 2 times)").await;
    tmux.run(&["send-keys", "-t", "ui", "q"]);
    tmux.wait_for("EXITED=0").await;
}

/// A sender of the user's own (a `[[preset]]` with a 100 ms deadline)
/// answered after 400 ms: the list marks the delivery late and the detail
/// pane says what the sender would do next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_after_the_senders_deadline_is_marked_late_with_its_next_step() {
    if !tmux_available() {
        return;
    }
    // The local server is slow on purpose: being slow is what is tested.
    let mut target = TestTarget::start(|req| async move {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        Reply::ok(req.body)
    })
    .await;
    let preset = acme_preset(100);
    let dir = dir_forwarding_to(&target.url(), &preset);
    let data = dir.path().join("data");
    let tmux = Tmux::new("late");
    tmux.start_listener(dir.path(), &data, (120, 30), &["NO_COLOR=1".into()]);
    let url = format!("{}/acme", public_url(&data).await);
    let headers = [
        ("content-type", "application/json"),
        ("x-acme-signature", "00ff"),
    ];
    let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    assert_eq!(common::send("POST", &url, &headers, body).await.status, 200);
    target.next_request().await;
    let screen = tmux.wait_for("late").await;
    assert!(screen.contains("invoice.paid"), "{screen}");
    tmux.run(&["send-keys", "-t", "ui", "G"]);
    let detail = tmux.wait_for("Acme would time out").await;
    assert!(detail.contains("up to 3 attempts"), "{detail}");
    tmux.run(&["send-keys", "-t", "ui", "q"]);
    tmux.wait_for("EXITED=0").await;
}

/// `p` plays the provider's retries of the selected delivery (no
/// `--retries` needed): the detail pane counts down to the next one, and
/// `x` cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_plays_the_providers_retries_with_a_countdown_and_x_cancels_them() {
    if !tmux_available() {
        return;
    }
    let mut target = TestTarget::start(|_| async {
        Reply {
            status: 500,
            headers: vec![],
            body: b"down".to_vec(),
        }
    })
    .await;
    // At 60x Malomo's first wait (10 attempts in 24 h, doubling) is about
    // 3 s: long enough to see the countdown and cancel it.
    let dir = dir_forwarding_to(&target.url(), "retry-speed = 60\n");
    let data = dir.path().join("data");
    let tmux = Tmux::new("retries");
    tmux.start_listener(dir.path(), &data, (120, 40), &["NO_COLOR=1".into()]);
    let url = format!("{}/malomo", public_url(&data).await);
    let headers = [
        ("content-type", "application/json"),
        ("malomo-signature", "c2lnbmVk"),
        ("malomo-topic", "orders:created"),
        ("malomo-webhook-id", "wh_tui"),
        ("malomo-attempt-number", "1"),
    ];
    let body = include_bytes!("../../shared/tests/fixtures/samples/malomo-orders.created.json");
    assert_eq!(common::send("POST", &url, &headers, body).await.status, 500);
    target.next_request().await;
    tmux.wait_for("orders:created").await;
    tmux.run(&["send-keys", "-t", "ui", "G"]);
    tmux.run(&["send-keys", "-t", "ui", "p"]);
    tmux.wait_for("next retry (attempt 2) in").await;
    tmux.run(&["send-keys", "-t", "ui", "x"]);
    tmux.wait_for("retries cancelled before attempt 2").await;
    assert!(
        target.requests.try_recv().is_err(),
        "a cancelled retry is never sent"
    );
    tmux.run(&["send-keys", "-t", "ui", "q"]);
    tmux.wait_for("EXITED=0").await;
}
