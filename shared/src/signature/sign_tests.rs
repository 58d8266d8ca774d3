//! Round trips, generated from the signing side and checked by the verifying
//! side: every preset a secret holder can sign signs random bodies with
//! random secrets and verifies `valid`; any single changed body byte stops it
//! verifying; a timestamp older than the window is `expired`.

use super::*;
use crate::headers::Header;
use crate::signature::preset::builtin;
use crate::signature::schema::{Custom, KeyDecoding, TimestampSource};
use crate::signature::{Registry, Status, verify};
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600;

/// A secret the preset can use: base64-keyed schemes need base64.
fn secret_for(preset: &Preset, raw: &[u8]) -> Secret {
    let value = match &preset.key_decoding {
        KeyDecoding::Utf8 => format!("sec_{}", hex::encode(raw)),
        KeyDecoding::Hex => hex::encode(raw),
        KeyDecoding::Base64 => STANDARD.encode(raw),
        KeyDecoding::StripPrefixBase64(prefixes) => {
            format!("{}{}", prefixes[0], STANDARD.encode(raw))
        }
    };
    let mut secret = Secret::new(preset.id.clone(), value);
    for param in &preset.params {
        secret = secret.with_param(param, "dws_01JTEST");
    }
    if preset.header.is_empty() {
        secret = secret.with_param("header", "X-Test-Signature");
    }
    secret
}

fn signable() -> Vec<Preset> {
    builtin()
        .iter()
        .filter(|p| p.algorithm.is_symmetric() && !p.facts_only)
        .cloned()
        .collect()
}

/// Headers the request carries anyway (Twilio decides by content type).
fn base_headers(preset: &Preset) -> Vec<Header> {
    match preset.custom {
        Some(Custom::Twilio | Custom::Plivo) => vec![Header::new(
            "content-type",
            "application/x-www-form-urlencoded",
        )],
        _ => Vec::new(),
    }
}

/// The body to sign: JSON with the timestamp when the scheme reads it there.
fn body_for(preset: &Preset, payload: &[u8], at: i64) -> Vec<u8> {
    match preset.custom {
        Some(Custom::Twilio | Custom::Plivo) => {
            // No percent escapes: Twilio signs the decoded parameters, so
            // flipping `%2B` to `%2b` changes a byte but not the signature.
            return format!("Body={}&From=15551234567", hex::encode(payload)).into_bytes();
        }
        Some(Custom::Mailgun) => {
            return format!("{{\"event-data\":{{\"id\":\"{}\"}}}}", hex::encode(payload))
                .into_bytes();
        }
        Some(Custom::Adyen) => {
            let item = format!(
                r#"{{"NotificationRequestItem":{{"pspReference":"8815","merchantReference":"{}","amount":{{"value":1130,"currency":"EUR"}},"eventCode":"AUTHORISATION","success":"true"}}}}"#,
                hex::encode(payload)
            );
            return format!(r#"{{"live":"false","notificationItems":[{item}]}}"#).into_bytes();
        }
        _ => {}
    }
    match preset.timestamp.as_ref().map(|t| &t.source) {
        Some(TimestampSource::Body(field)) => format!(
            "{{\"{field}\":{},\"data\":\"{}\"}}",
            at * 1000,
            hex::encode(payload)
        )
        .into_bytes(),
        _ => payload.to_vec(),
    }
}

#[test]
fn rfc3339_formats_what_the_parser_reads() {
    assert_eq!(rfc3339(NOW), "2026-01-01T00:00:00Z");
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    for t in [NOW, 951_782_400, 1_709_164_799, 4_102_444_800] {
        assert_eq!(
            crate::signature::parse::rfc3339(&rfc3339(t)),
            Some(t),
            "{t}"
        );
    }
}

#[test]
fn public_key_and_custom_schemes_are_refused() {
    let discord = builtin().iter().find(|p| p.id == "discord").unwrap();
    let signing = Signing {
        body: b"{}",
        url: "https://x",
        headers: &[],
        timestamp: NOW,
        id: "msg_1",
    };
    assert!(sign(discord, &Secret::new("discord", "00"), &signing).is_err());
    // A sender that does not sign has nothing to sign with.
    let maestra = builtin().iter().find(|p| p.id == "maestra").unwrap();
    let err = sign(maestra, &Secret::new("maestra", "s3cret"), &signing).unwrap_err();
    assert!(err.contains("does not sign"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_symmetric_preset_round_trips_expires_and_detects_changed_bytes(
        payload in prop::collection::vec(any::<u8>(), 1..300),
        raw_secret in prop::collection::vec(any::<u8>(), 16..48),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let registry = Registry::builtin();
        for preset in signable() {
            let secret = secret_for(&preset, &raw_secret);
            let body = body_for(&preset, &payload, NOW);
            let base = base_headers(&preset);
            let signing = Signing { body: &body, url: "https://hooks.example.test/in/abc?x=1", headers: &base, timestamp: NOW - 2, id: "msg_2Test" };
            let signed = sign(&preset, &secret, &signing).unwrap();
            let headers: Vec<Header> = base.iter().cloned().chain(signed.headers).collect();
            let body = signed.body;
            let request = Request { method: "POST", url: signing.url, headers: &headers, body: &body };
            let v = verify(&registry, &request, std::slice::from_ref(&secret), NOW);
            prop_assert_eq!(v.status, Status::Valid, "{} {:?}: {}", preset.id, preset.variant, v.reason);
            prop_assert_eq!(v.scheme.as_deref(), Some(preset.id.as_str()));

            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 1 << bit;
            let request = Request { body: &tampered, ..request };
            let v = verify(&registry, &request, std::slice::from_ref(&secret), NOW);
            if preset.covers_body() {
                prop_assert_ne!(v.status, Status::Valid, "{} {:?} accepted a changed byte", preset.id, preset.variant);
            }

            if let Some(stale) = preset.expires_after().map(|t| t + 60) {
                let old_body = body_for(&preset, &payload, NOW - stale);
                let old = Signing { timestamp: NOW - stale, body: &old_body, ..signing };
                let signed = sign(&preset, &secret, &old).unwrap();
                let headers: Vec<Header> = base.iter().cloned().chain(signed.headers).collect();
                let request = Request { method: "POST", url: old.url, headers: &headers, body: &signed.body };
                let v = verify(&registry, &request, std::slice::from_ref(&secret), NOW);
                prop_assert_eq!(v.status, Status::Expired, "{} {:?}: {}", preset.id, preset.variant, v.reason);
            }
        }
    }
}
