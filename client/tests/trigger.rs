//! `hookhole trigger` against a real relay and client: every catalogue
//! event arrives with the verdict it was made for: valid as sent, invalid
//! with `--tamper`, expired with `--age`.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Proc, hookhole, run};
use common::*;
use hookhole::events::Event as EngineEvent;
use hookhole::trigger::catalogue;
use hookhole::trigger::{Options, http_client, prepare, send, unix_now};
use hookhole::verification::Verifier;
use hookhole_shared::signature::preset::{Algorithm, KeyDecoding, Preset};
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Registry, Request, Status};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A secret the provider's scheme can use, different for every provider.
fn secret_for(preset: &Preset, event: &catalogue::Event) -> Secret {
    use base64::Engine as _;
    let raw = format!("{}-test-secret-{}", preset.id, preset.id.len());
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
    let value = match &preset.key_decoding {
        _ if preset.algorithm == Algorithm::BasicAuth => format!("{}:p4ss", preset.id),
        KeyDecoding::Utf8 => raw,
        KeyDecoding::Hex => hex::encode(raw),
        KeyDecoding::Base64 => b64,
        KeyDecoding::StripPrefixBase64(prefixes) => format!("{}{b64}", prefixes[0]),
    };
    let mut secret = Secret::new(preset.id.clone(), value);
    for param in &preset.params {
        secret = secret.with_param(param, "dws_01TRIGGER");
    }
    for (k, v) in &event.params {
        secret = secret.with_param(k, v);
    }
    secret
}

#[tokio::test]
async fn every_catalogue_event_arrives_valid_invalid_when_tampered_and_expired_when_old() {
    let registry = Registry::builtin();
    let events = catalogue::catalogue(&registry);
    let signable: Vec<(&catalogue::Event, Option<&Preset>)> = events
        .iter()
        .map(|e| (e, e.signer(&registry)))
        .filter(|(_, p)| p.is_none_or(|p| p.algorithm.is_symmetric()))
        .collect();
    let mut secrets: BTreeMap<String, Secret> = BTreeMap::new();
    for (event, preset) in &signable {
        if let Some(p) = preset {
            secrets
                .entry(p.id.clone())
                .or_insert_with(|| secret_for(p, event));
        }
    }

    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let mut config = engine_config(&relay.url(), Some("trigger"), &target.url());
    config.verifier = Arc::new(Verifier {
        registry: registry.clone(),
        secrets: secrets.values().cloned().collect(),
    });
    let mut client = TestClient::start_with(config).await;
    let http = http_client();
    let url = format!("{}/hooks", client.public_url);

    let mut failures = Vec::new();
    let mut checked = 0;
    for (event, preset) in &signable {
        let secret = preset.map(|p| &secrets[&p.id]);
        let mut cases: Vec<(&str, Options, Status)> = vec![(
            "as sent",
            Options::default(),
            if preset.is_none() {
                Status::Unsigned
            } else {
                Status::Valid
            },
        )];
        if let Some(p) = preset {
            if p.covers_body() {
                let tamper = Options {
                    tamper: true,
                    ..Options::default()
                };
                cases.push(("--tamper", tamper, Status::Invalid));
            }
            if let Some(window) = p.expires_after() {
                let age = Options {
                    age: Duration::from_secs(window as u64 + 60).into(),
                    ..Options::default()
                };
                cases.push(("--age", age, Status::Expired));
            }
        }
        for (how, options, expected) in cases {
            let prepared = prepare(event, &registry, secret, &url, unix_now(), &options).unwrap();
            let answer = send(&http, &prepared).await.unwrap();
            assert_eq!(answer.status, 200, "{} {how}", event.name);
            let delivery = client
                .wait_for("the delivery", |e| matches!(e, EngineEvent::Delivery(_)))
                .await;
            let EngineEvent::Delivery(d) = delivery else {
                unreachable!()
            };
            checked += 1;
            let scheme_ok = expected != Status::Valid
                || d.signature.scheme.as_deref() == Some(event.provider.as_str());
            if d.signature.status != expected || !scheme_ok {
                failures.push(format!(
                    "{} {how}: expected {expected:?} from {}, got {:?} from {:?}: {}",
                    event.name,
                    event.provider,
                    d.signature.status,
                    d.signature.scheme,
                    d.signature.reason
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 300, "only {checked} deliveries checked");
}

/// Every event whose provider's rules name an event id carries one, fresh
/// for each event: a plain trigger is a new event to the inspector, and
/// only `--duplicate` sends one event twice.
#[test]
fn every_event_carries_its_providers_event_id_fresh_each_time() {
    let registry = Registry::builtin();
    let mut checked = 0;
    let mut missing = Vec::new();
    for event in catalogue::catalogue(&registry) {
        if registry
            .event_rules(&event.provider)
            .is_none_or(|r| r.id.is_none())
        {
            continue;
        }
        let preset = event.signer(&registry);
        if preset.is_some_and(|p| !p.algorithm.is_symmetric()) {
            continue;
        }
        let secret = preset.map(|p| secret_for(p, &event));
        let id = || {
            let p = prepare(
                &event,
                &registry,
                secret.as_ref(),
                "http://127.0.0.1:9/",
                unix_now(),
                &Options::default(),
            )
            .unwrap();
            let request = Request {
                method: &p.method,
                url: &p.url,
                headers: &p.headers,
                body: &p.body,
            };
            // Read as the listener reads them.
            registry.webhook_facts(&event.provider, &request)?.event_id
        };
        checked += 1;
        match (id(), id()) {
            (Some(a), Some(b)) if a != b => {}
            ids => missing.push(format!("{}: {ids:?}", event.name)),
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(checked >= 25, "only {checked} events checked");
}

#[tokio::test]
async fn trigger_finds_the_listener_of_its_directory_and_reports_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let target = TestTarget::echo().await;
    let mut listen = hookhole(dir.path());
    listen.args([
        "listen",
        "--forward",
        &target.url(),
        "--port",
        "0",
        "--secret",
        "stripe=whsec_two_terminals",
    ]);
    let mut listener = Proc::spawn(listen);
    listener.wait_event("ready").await;

    let mut trigger = hookhole(dir.path());
    trigger.args([
        "trigger",
        "stripe",
        "--secret",
        "stripe=whsec_two_terminals",
        "--count",
        "3",
        "--rate",
        "50/s",
    ]);
    let (code, stdout, stderr) = run(trigger).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.contains("signed as stripe") && l.contains("-> 200 OK")),
        "{stdout}"
    );
    for _ in 0..3 {
        let d = listener.wait_event("delivery").await;
        assert_eq!(d["signature"]["status"], "valid", "{d}");
    }

    let mut tampered = hookhole(dir.path());
    tampered.args([
        "trigger",
        "stripe",
        "--secret",
        "stripe=whsec_two_terminals",
        "--tamper",
    ]);
    assert_eq!(run(tampered).await.0, Some(0));
    assert_eq!(
        listener.wait_event("delivery").await["signature"]["status"],
        "invalid"
    );

    let mut no_secret = hookhole(dir.path());
    no_secret.args(["trigger", "stripe"]);
    let (code, _, stderr) = run(no_secret).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--secret stripe="), "{stderr}");

    listener.signal("INT");
    listener.exit().await;
    let mut orphan = hookhole(dir.path());
    orphan.args(["trigger", "stripe", "--secret", "stripe=whsec_x"]);
    let (code, _, stderr) = run(orphan).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no running `hookhole listen`"), "{stderr}");
}

/// `hookhole trigger ARGS` run from a fresh directory: exit code, stdout, stderr.
async fn trigger(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.arg("trigger").args(args);
    run(cmd).await
}

#[tokio::test]
async fn a_relay_refusal_exits_one_while_any_answer_of_the_server_even_500_exits_zero() {
    use hookhole_relay::RelayConfig;
    use hookhole_relay::limits::Limits;
    let relay = TestRelay::start_with(RelayConfig {
        max_body: 256,
        limits: Limits {
            // Two at once, then (practically) never again.
            rate: 0.001,
            burst: 2.0,
            ..Limits::default()
        },
        ..RelayConfig::default()
    })
    .await;
    let target = TestTarget::start(|_| async {
        Reply {
            status: 500,
            ..Reply::ok("boom")
        }
    })
    .await;
    let client = TestClient::start(&relay.url(), Some("refusing"), &target.url()).await;
    let url = format!("{}/hooks", client.public_url);

    // The server's own 500s are answers.
    let (code, stdout, stderr) =
        trigger(&["maestra.customer.updated", "--to", &url, "--count", "2"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.matches("-> 500 Internal Server Error").count(),
        2,
        "{stdout}"
    );
    assert!(!stdout.contains("refused"), "{stdout}");

    // The channel is over its rate now: the relay's own 429.
    let (code, stdout, stderr) = trigger(&["maestra.customer.updated", "--to", &url]).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("-> refused by the relay: 429 Too Many Requests"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the relay refused 1 of 1 request"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A body over the relay's --max-body: its 413.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b'x'; 4096]).unwrap();
    let other = format!("{}/elsewhere/hooks", relay.url());
    let big = big.to_str().unwrap();
    let (code, stdout, stderr) = trigger(&[
        "maestra.customer.updated",
        "--to",
        &other,
        "--data-file",
        big,
    ])
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("refused by the relay: 413"), "{stdout}");

    // Nobody listening on the channel: its 503.
    let (code, stdout, stderr) = trigger(&["maestra.customer.updated", "--to", &other]).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("refused by the relay: 503"), "{stdout}");
}

#[tokio::test]
async fn to_takes_the_path_and_a_replaced_signature_header_is_not_called_signed() {
    let mut target = TestTarget::echo().await;
    let secret = "stripe=whsec_path_test";

    let (code, stdout, stderr) = trigger(&[
        "stripe",
        "--secret",
        secret,
        "--to",
        &target.url(),
        "--path",
        "/webhooks/x",
        "--age",
        "600s",
    ])
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(target.next_request().await.target, "/webhooks/x");
    // The age as given, not reworded.
    assert!(stdout.contains("(signed as stripe 600s ago)"), "{stdout}");

    let (code, stdout, stderr) = trigger(&[
        "stripe",
        "--secret",
        secret,
        "--to",
        &target.url(),
        "-H",
        "Stripe-Signature: t=1,v1=00",
    ])
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("signed"), "{stdout}");
    assert!(
        stdout.contains("(stripe-signature from --header)"),
        "{stdout}"
    );
    let sent = target.next_request().await;
    let signatures: Vec<_> = sent
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("stripe-signature"))
        .collect();
    assert_eq!(signatures.len(), 1, "{:?}", sent.headers);
    assert_eq!(signatures[0].1, b"t=1,v1=00");
}

#[tokio::test]
async fn count_zero_is_a_usage_error_on_one_line() {
    let (code, stdout, stderr) = trigger(&[
        "maestra.customer.updated",
        "--to",
        "http://127.0.0.1:9",
        "--count",
        "0",
    ])
    .await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--count 0 sends nothing"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}
