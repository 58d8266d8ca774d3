//! `hookhole trigger --set` and `--duplicate` through a real listener (the
//! `hookhole` binary on its embedded relay) to a real local server: what
//! arrived, and whether the listener, holding the secret, found each
//! signature valid.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, listening, run};
use common::*;

/// A listener verifying with `secrets`, forwarding to a fresh echo server.
struct Setup {
    dir: tempfile::TempDir,
    listener: Proc,
    url: String,
    target: TestTarget,
    secrets: Vec<String>,
}

impl Setup {
    async fn start(secrets: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let target = TestTarget::echo().await;
        let mut args = vec!["--forward".to_string(), target.url()];
        for secret in secrets {
            args.extend(["--secret".to_string(), secret.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (listener, url) = listening(hookhole(dir.path()), &args).await;
        Setup {
            dir,
            listener,
            url,
            target,
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Runs `hookhole trigger ARGS --to LISTENER` with the listener's
    /// secrets; asserts it exits 0 and returns its stdout.
    async fn trigger(&self, args: &[&str]) -> String {
        let mut cmd = hookhole(self.dir.path());
        cmd.arg("trigger").args(args).args(["--to", &self.url]);
        for secret in &self.secrets {
            cmd.args(["--secret", secret]);
        }
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        stdout
    }

    /// The next request at the local server, and the listener's verdict on
    /// it (which must be valid).
    async fn next_valid(&mut self) -> Recorded {
        let delivery = self.listener.wait_event("delivery").await;
        assert_eq!(delivery["signature"]["status"], "valid", "{delivery}");
        self.target.next_request().await
    }
}

fn text(value: Option<&[u8]>) -> String {
    String::from_utf8(value.expect("the header arrived").to_vec()).unwrap()
}

#[tokio::test]
async fn set_changes_a_body_field_before_signing_and_the_signature_still_verifies() {
    let mut setup = Setup::start(&[
        "stripe=whsec_set_e2e",
        "generic=set_e2e,header=X-Webhook-Signature",
    ])
    .await;

    let stdout = setup
        .trigger(&[
            "stripe",
            "--set",
            "data.object.amount=4200",
            "--set",
            "data.object.metadata.note=rush order",
        ])
        .await;
    assert!(stdout.contains("(signed as stripe) -> 200 OK"), "{stdout}");
    let sent = setup.next_valid().await;
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["data"]["object"]["amount"], 4200);
    assert_eq!(body["data"]["object"]["metadata"]["note"], "rush order");
    // The rest as the event had it, in its order.
    assert_eq!(body["data"]["object"]["amount_received"], 2000);
    let raw = String::from_utf8(sent.body).unwrap();
    assert!(
        raw.contains(r#""amount":4200,"amount_received":2000,"currency":"usd""#),
        "{raw}"
    );

    // Your own body: edited the same way. The objects along the path are
    // written compactly; other values and the last newline are kept.
    let file = setup.dir.path().join("order.json");
    std::fs::write(
        &file,
        "{\"z\": 1, \"items\": [{\"qty\": 1}, {\"qty\": 5}]}\n",
    )
    .unwrap();
    setup
        .trigger(&[
            "generic",
            "--data-file",
            file.to_str().unwrap(),
            "--set",
            "items.1.qty=2",
        ])
        .await;
    let sent = setup.next_valid().await;
    assert_eq!(
        String::from_utf8(sent.body).unwrap(),
        "{\"z\":1,\"items\":[{\"qty\": 1},{\"qty\":2}]}\n"
    );
}

#[tokio::test]
async fn a_set_that_cannot_apply_is_a_usage_error_on_one_line_and_sends_nothing() {
    let mut setup = Setup::start(&["stripe=whsec_set_refused"]).await;
    let cases = [
        (
            "data.object.amount.cents=1",
            "--set data.object.amount.cents: data.object.amount is a number, not an object",
        ),
        ("=1", "--set =1: the path before '=' is empty"),
        ("data", "--set data: expected PATH=VALUE"),
    ];
    for (flag, expected) in cases {
        let mut cmd = hookhole(setup.dir.path());
        cmd.args([
            "trigger",
            "stripe",
            "--to",
            &setup.url,
            "--secret",
            "stripe=whsec_set_refused",
            "--set",
            flag,
        ]);
        let (code, stdout, stderr) = run(cmd).await;
        assert_eq!(code, Some(2), "{flag}: {stdout}{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{flag}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
    // Nothing reached the server: the next request is the one sent now.
    setup.trigger(&["stripe", "--set", "livemode=true"]).await;
    let sent = setup.next_valid().await;
    assert!(
        String::from_utf8(sent.body)
            .unwrap()
            .contains(r#""livemode":true"#)
    );
}

#[tokio::test]
async fn a_malomo_duplicate_has_the_same_webhook_id_and_the_next_attempt_number() {
    let mut setup = Setup::start(&["malomo=malomo_dup_e2e"]).await;
    let stdout = setup
        .trigger(&["malomo", "--duplicate", "--count", "2"])
        .await;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let mut ids = Vec::new();
    for n in 1..=2 {
        let first = setup.next_valid().await;
        let retry = setup.next_valid().await;
        let id = text(first.header("Malomo-Webhook-Id"));
        assert_eq!(text(retry.header("Malomo-Webhook-Id")), id);
        assert_eq!(text(first.header("Malomo-Attempt-Number")), "1");
        assert_eq!(text(retry.header("Malomo-Attempt-Number")), "2");
        assert_eq!(first.body, retry.body);
        let (sent, again) = (lines[2 * n - 2], lines[2 * n - 1]);
        assert!(
            sent.starts_with(&format!("#{n} malomo.orders:created POST")),
            "{sent}"
        );
        assert!(
            sent.contains(&format!(
                "(signed as malomo; event {id}, attempt 1) -> 200 OK"
            )),
            "{sent}"
        );
        assert!(
            again.starts_with(&format!("#{n} again malomo.orders:created POST")),
            "{again}"
        );
        assert!(
            again.contains(&format!(
                "(signed as malomo; event {id} again, attempt 2) -> 200 OK"
            )),
            "{again}"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "--count sends two events, each twice");
}

#[tokio::test]
async fn a_stripe_duplicate_has_the_same_event_id_and_a_later_signed_timestamp() {
    let mut setup = Setup::start(&["stripe=whsec_dup_e2e"]).await;
    setup.trigger(&["stripe", "--duplicate"]).await;
    let first = setup.next_valid().await;
    let retry = setup.next_valid().await;
    let id =
        |r: &Recorded| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["id"].clone();
    assert!(id(&first).as_str().unwrap().starts_with("evt_"));
    assert_eq!(id(&first), id(&retry));
    assert_eq!(first.body, retry.body);
    let t = |r: &Recorded| -> i64 {
        let signature = text(r.header("Stripe-Signature"));
        signature
            .split(',')
            .find_map(|part| part.strip_prefix("t="))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(t(&retry) > t(&first), "{} then {}", t(&first), t(&retry));
}

#[tokio::test]
async fn a_github_duplicate_has_the_same_delivery_id() {
    let mut setup = Setup::start(&["github=gh_dup_e2e"]).await;
    let stdout = setup.trigger(&["github.push", "--duplicate"]).await;
    let first = setup.next_valid().await;
    let retry = setup.next_valid().await;
    let delivery = text(first.header("X-GitHub-Delivery"));
    assert_eq!(text(retry.header("X-GitHub-Delivery")), delivery);
    assert!(
        stdout.contains(&format!("event {delivery} again)")),
        "{stdout}"
    );
}
