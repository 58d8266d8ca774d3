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
use hookhole::trigger::catalogue::{self, UNSIGNED};
use hookhole::trigger::{Options, http_client, prepare, send, unix_now};
use hookhole::verification::Verifier;
use hookhole_shared::signature::preset::{Algorithm, KeyDecoding, Preset};
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Registry, Status};
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
        .map(|e| (e, e.preset(&registry)))
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
            if event.provider == UNSIGNED {
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
                    age: Duration::from_secs(window as u64 + 60),
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
