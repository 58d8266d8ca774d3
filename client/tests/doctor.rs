//! `hookhole doctor` against real parts: the real relay (and a TLS one with
//! certificates made here), the real binary, real local servers: a passing
//! setup, each relay failure it names, and the rule that doctor never
//! takes a delivery from the channel it checks (doctor_local.rs: the
//! checks on this machine).

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::doctor::{check, data_dir, doctor, failed};
use common::process::{self, hookhole, run};
use common::*;
use hookhole_relay::RelayConfig;
use hookhole_relay::tls::TlsSource;
use serde_json::Value;
use std::path::Path;

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-012345678901";

/// A relay that knows Alice's and Bob's tokens.
async fn relay_with_tokens() -> TestRelay {
    let mut tokens = hookhole_relay::auth::Tokens::default();
    tokens.add(ALICE).unwrap();
    tokens.add(BOB).unwrap();
    TestRelay::start_with(RelayConfig {
        tokens,
        ..RelayConfig::default()
    })
    .await
}

#[tokio::test]
async fn a_working_setup_passes_every_check_in_text_and_json() {
    let relay = relay_with_tokens().await;
    let mut target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let (relay_url, forward) = (relay.url(), format!("{}/hooks", target.url()));
    let args = [
        "--relay",
        &relay_url,
        "--token",
        ALICE,
        "--channel",
        "shop",
        "--forward",
        &forward,
        "--data-dir",
        &data,
        "--secret",
        "stripe=whsec_test",
        "--secret",
        "github=gh",
    ];
    let (code, checks) = doctor(dir.path(), &args).await;
    assert_eq!(code, Some(0), "{checks:#?}");
    for c in &checks {
        assert_eq!(c["verdict"], "ok", "{c}");
    }
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config", "settings", "relay", "tls", "protocol", "token", "channel", "forward",
            "data_dir", "secret", "secret"
        ]
    );
    assert!(
        check(&checks, "channel")["detail"]
            .as_str()
            .unwrap()
            .contains("shop can be claimed")
    );
    // The forward target was asked for real, on the forward path.
    let asked = target.next_request().await;
    assert_eq!(
        (asked.method.as_str(), asked.target.as_str()),
        ("HEAD", "/hooks")
    );

    let mut cmd = hookhole(dir.path());
    cmd.arg("doctor").args(args);
    let (code, stdout, stderr) = run(cmd).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), checks.len() + 1, "{stdout}");
    for line in &lines[..checks.len()] {
        assert!(line.starts_with("ok    "), "{line}");
    }
    assert_eq!(lines[checks.len()], "11 checks, 11 ok");
    assert!(
        !stdout.contains("whsec_test"),
        "a secret's value is never shown"
    );

    // Without --relay: the embedded relay's port is checked instead.
    let (code, checks) = doctor(dir.path(), &["--port", "0", "--forward", &forward]).await;
    assert_eq!(code, Some(0), "{checks:#?}");
    assert_eq!(check(&checks, "embedded_relay")["verdict"], "ok");
}

#[tokio::test]
async fn a_relay_that_is_not_reachable_fails_and_leaves_its_later_steps_skipped() {
    let dead = dead_port().await;
    let dir = tempfile::tempdir().unwrap();
    let relay_url = format!("http://{dead}");
    let (code, checks) = doctor(dir.path(), &["--relay", &relay_url, "--forward", "9"]).await;
    assert_eq!(code, Some(1));
    failed(
        &checks,
        "relay",
        "cannot connect",
        &format!("port {} through", dead.port()),
    );
    for step in ["tls", "protocol", "token", "channel"] {
        assert_eq!(check(&checks, step)["verdict"], "skip", "{step}");
    }
}

/// A self-signed certificate and key for `names`, valid until `until`.
fn certificate(dir: &Path, names: &[&str], until: time::OffsetDateTime) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    params.not_after = until;
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

async fn tls_relay(cert: &str, key: &str) -> TestRelay {
    TestRelay::start_with(RelayConfig {
        tls: Some(TlsSource::Files {
            cert: cert.into(),
            key: key.into(),
        }),
        ..RelayConfig::default()
    })
    .await
}

#[tokio::test]
async fn tls_that_does_not_verify_fails_naming_the_reason() {
    let target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    let next_year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let (cert, key) = certificate(dir.path(), &["localhost"], next_year);
    let relay = tls_relay(&cert, &key).await;
    let port = relay.addr.port();
    let by_name = format!("https://localhost:{port}");
    let forward = target.url();

    let (code, checks) = doctor(dir.path(), &["--relay", &by_name, "--forward", &forward]).await;
    assert_eq!(code, Some(1));
    failed(&checks, "tls", "unknown issuer", "--ca-cert");
    assert_eq!(check(&checks, "protocol")["verdict"], "skip");

    let trusted = ["--ca-cert", &cert, "--forward", &forward];
    let (code, checks) = doctor(dir.path(), &[&["--relay", &by_name][..], &trusted].concat()).await;
    assert_eq!(code, Some(0), "{checks:#?}");
    assert_eq!(check(&checks, "tls")["verdict"], "ok");

    let by_address = format!("https://127.0.0.1:{port}");
    let (_, checks) = doctor(
        dir.path(),
        &[&["--relay", &by_address][..], &trusted].concat(),
    )
    .await;
    failed(
        &checks,
        "tls",
        "name mismatch",
        "a name the certificate holds",
    );

    let (code, checks) = doctor(
        dir.path(),
        &["--relay", &by_address, "--insecure", "--forward", &forward],
    )
    .await;
    assert_eq!(code, Some(0), "a warning is no failure: {checks:#?}");
    assert_eq!(check(&checks, "tls")["verdict"], "warn");

    let old = tempfile::tempdir().unwrap();
    let last_week = time::OffsetDateTime::now_utc() - time::Duration::days(7);
    let (cert, key) = certificate(old.path(), &["localhost"], last_week);
    let expired = tls_relay(&cert, &key).await;
    let url = format!("https://localhost:{}", expired.addr.port());
    let (_, checks) = doctor(
        dir.path(),
        &["--relay", &url, "--ca-cert", &cert, "--forward", &forward],
    )
    .await;
    failed(&checks, "tls", "expired", "renew");
}

#[tokio::test]
async fn a_relay_of_another_protocol_version_fails_saying_which_side_to_upgrade() {
    // A hostile or old peer, not our relay: it answers health with version 1.
    let old_relay = TestTarget::start(|_| async {
        Reply::ok(br#"{"status":"ok","version":"0.0.1","protocol":1}"#.to_vec())
    })
    .await;
    let target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    let args = ["--relay", &old_relay.url(), "--forward", &target.url()];
    let (code, checks) = doctor(dir.path(), &args).await;
    assert_eq!(code, Some(1));
    failed(
        &checks,
        "protocol",
        "speaks protocol 1, this client 2",
        "upgrade the relay",
    );
}

#[tokio::test]
async fn a_token_the_relay_refuses_fails_and_the_channel_is_not_checked() {
    let relay = relay_with_tokens().await;
    let target = TestTarget::echo().await;
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "--relay",
        &relay.url(),
        "--channel",
        "shop",
        "--forward",
        &target.url(),
    ];
    let (code, checks) = doctor(dir.path(), &base).await;
    assert_eq!(code, Some(1));
    failed(&checks, "token", "requires a token", "pass --token");
    assert_eq!(check(&checks, "channel")["verdict"], "skip");

    let wrong = [&base[..], &["--token", "not-a-real-token-000"]].concat();
    let (code, checks) = doctor(dir.path(), &wrong).await;
    assert_eq!(code, Some(1));
    failed(&checks, "token", "not accepted", "check --token");
}

#[tokio::test]
async fn a_channel_another_token_claimed_fails_and_stays_its_owners() {
    let relay = relay_with_tokens().await;
    let target = TestTarget::echo().await;
    let mut owner = engine_config(&relay.url(), Some("shop"), &target.url());
    owner.token = Some(hookhole_shared::protocol::Token(ALICE.into()));
    let alice = TestClient::start_with(owner).await;
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "--relay",
        &relay.url(),
        "--channel",
        "shop",
        "--forward",
        &target.url(),
    ];

    let (code, checks) = doctor(dir.path(), &[&base[..], &["--token", BOB]].concat()).await;
    assert_eq!(code, Some(1));
    assert_eq!(check(&checks, "token")["verdict"], "ok");
    failed(
        &checks,
        "channel",
        "belongs to another token",
        "choose another --channel",
    );

    let (code, checks) = doctor(dir.path(), &[&base[..], &["--token", ALICE]].concat()).await;
    assert_eq!(code, Some(0), "{checks:#?}");
    let detail = check(&checks, "channel")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("(1 listener on it now)"), "{detail}");
    // A probe claims nothing: Alice checking a free channel leaves it free
    // for Bob.
    let spare = [
        "--relay",
        &relay.url(),
        "--channel",
        "spare",
        "--forward",
        &target.url(),
    ];
    for token in [ALICE, BOB] {
        let (code, checks) = doctor(dir.path(), &[&spare[..], &["--token", token]].concat()).await;
        assert_eq!(code, Some(0), "{token}: {checks:#?}");
    }
    // Bob's probe claimed nothing: Alice's listener is still the only one
    // and still gets the channel's webhooks.
    assert_eq!(
        post(&format!("{}/x", alice.public_url), b"{}").await.status,
        200
    );
}

/// What a relay or a config file says reaches the terminal escaped.
#[tokio::test]
async fn what_a_relay_says_is_escaped_before_it_reaches_the_terminal() {
    let hostile = TestTarget::start(|_| async {
        Reply::ok(br#"{"protocol":2,"version":"\u001b]0;owned\u0007\u001b[2J"}"#.to_vec())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(["doctor", "--relay", &hostile.url(), "--forward", "9"]);
    let (_, stdout, stderr) = run(cmd).await;
    assert!(stdout.contains("relay \\x1b]0;owned"), "{stdout}");
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "{stdout}"
    );
}

/// A relay that keeps webhooks while nobody listens (in `dir`).
async fn buffering_relay(dir: &Path) -> TestRelay {
    TestRelay::start_with(RelayConfig {
        data_dir: Some(dir.to_path_buf()),
        ..RelayConfig::default()
    })
    .await
}

/// The probe, by hand: the relay answers `probed` and never makes the link
/// a listener, so a webhook arriving while it is still open is kept for
/// the real listener, which gets it.
#[tokio::test]
async fn a_webhook_arriving_while_a_probe_is_open_is_kept_for_the_real_listener() {
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let relay = buffering_relay(&dir.path().join("relay")).await;
    let hello = r#"{"type":"hello","version":2,"channel":"shop","agent":"test","probe":true}"#;
    let mut probe = raw_peer(relay.addr, Some(hello)).await;
    let answer = within("the probe's answer", probe.next())
        .await
        .unwrap()
        .unwrap();
    let answer: Value = serde_json::from_str(answer.to_text().unwrap()).unwrap();
    assert_eq!(answer["type"], "probed", "{answer}");
    assert_eq!(
        (answer["channel"].as_str(), answer["listeners"].as_u64()),
        (Some("shop"), Some(0))
    );

    // The probe's link is still open (unread, unclosed) here.
    assert_eq!(relay.health().await["clients"], 0);
    let sent = post(&format!("{}/shop/paid", relay.url()), br#"{"order":1}"#).await;
    assert_eq!(
        sent.status, 202,
        "kept for a listener, not offered to the probe"
    );

    let mut target = TestTarget::echo().await;
    let (_listener, _) = process::listening(
        hookhole(dir.path()),
        &[
            "--relay",
            &relay.url(),
            "--channel",
            "shop",
            "--forward",
            &target.url(),
        ],
    )
    .await;
    let got = target.next_request().await;
    assert_eq!(
        (got.target.as_str(), got.body.as_slice()),
        ("/paid", &br#"{"order":1}"#[..])
    );
    drop(probe);
}

/// The real binary: webhooks sent to the channel all the while doctor
/// checks it are kept (202), none is offered to doctor and lost with it
/// (502), and the real listener gets every one afterwards.
#[tokio::test]
async fn doctor_never_takes_a_webhook_from_the_channel_it_checks() {
    let dir = tempfile::tempdir().unwrap();
    let relay = buffering_relay(&dir.path().join("relay")).await;
    let mut target = TestTarget::echo().await;
    let mut cmd = hookhole(dir.path());
    cmd.args([
        "doctor",
        "--json",
        "--relay",
        &relay.url(),
        "--channel",
        "shop",
    ])
    .args(["--forward", &target.url()]);
    let doctor = tokio::spawn(run(cmd));
    let url = format!("{}/shop/hook", relay.url());
    let mut sent = 0;
    while !doctor.is_finished() || sent == 0 {
        let status = post(&url, format!("{{\"n\":{sent}}}").as_bytes())
            .await
            .status;
        assert_eq!(status, 202, "webhook {sent} was not kept");
        sent += 1;
    }
    let (code, stdout, _) = doctor.await.unwrap();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains(r#""check":"channel","subject""#),
        "{stdout}"
    );
    // doctor's own HEAD of the forward target.
    assert_eq!(target.next_request().await.method, "HEAD");

    let (_listener, _) = process::listening(
        hookhole(dir.path()),
        &[
            "--relay",
            &relay.url(),
            "--channel",
            "shop",
            "--forward",
            &target.url(),
        ],
    )
    .await;
    for n in 0..sent {
        let got = target.next_request().await;
        assert_eq!(
            got.body,
            format!("{{\"n\":{n}}}").into_bytes(),
            "in order, none lost"
        );
    }
}
