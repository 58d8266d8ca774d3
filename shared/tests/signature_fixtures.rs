//! Every case of `fixtures/signatures.json` (our signature test vectors,
//! official ones included) through the public `verify` API.
//!
//! The fixture's `expected` is coarser than our statuses: `missing` is our
//! `unsigned` or `malformed`, `invalid` is `invalid` or `malformed`.

#![allow(clippy::unwrap_used)]

use hookhole_shared::headers::Header;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Registry, Request, Status, verify};
use serde_json::Value;

/// Our provider name for a fixture scheme id.
fn provider(scheme: &str) -> &str {
    match scheme {
        "github_sha1" => "github",
        "standard_webhooks" | "standard_webhooks_v1a" => "standard-webhooks",
        "convoy_simple" | "convoy_advanced" => "convoy",
        "generic_hmac_sha256_hex" => "generic",
        other => other,
    }
}

fn secret_for(case: &Value) -> Secret {
    let scheme = case["scheme"].as_str().unwrap();
    let value = case["secret"]
        .as_str()
        .or_else(|| case["public_key"].as_str())
        .unwrap();
    let mut secret = Secret::new(provider(scheme), value);
    if let Some(params) = case["params"].as_object() {
        for (key, v) in params {
            let v = v.as_str().unwrap();
            secret = match key.as_str() {
                "header_name" => secret.with_param("header", v),
                "hash" => secret.with_param("hash", &v.to_ascii_lowercase()),
                _ => secret.with_param(key, v),
            };
        }
    }
    secret
}

fn accepted(expected: &str) -> &'static [Status] {
    match expected {
        "valid" => &[Status::Valid],
        "expired" => &[Status::Expired],
        "invalid" => &[Status::Invalid, Status::Malformed],
        "missing" => &[Status::Unsigned, Status::Malformed],
        other => panic!("unknown expectation {other}"),
    }
}

#[test]
fn every_fixture_case_verifies_as_expected() {
    let fixtures: Value = serde_json::from_str(include_str!("fixtures/signatures.json")).unwrap();
    let registry = Registry::builtin();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() >= 170, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let headers: Vec<Header> = case["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| Header::new(k.to_ascii_lowercase(), v.as_str().unwrap()))
            .collect();
        let body = case["body"].as_str().unwrap().as_bytes();
        let request = Request {
            method: case["method"].as_str().unwrap_or("POST"),
            url: case["url"].as_str().unwrap_or(""),
            headers: &headers,
            body,
        };
        let secret = secret_for(case);
        let now = case["now"].as_i64().unwrap();
        let verdict = verify(&registry, &request, &[secret], now);
        let expected = case["expected"].as_str().unwrap();
        let scheme_ok = !matches!(
            verdict.status,
            Status::Valid | Status::Expired | Status::Invalid
        ) || verdict.scheme.as_deref()
            == Some(provider(case["scheme"].as_str().unwrap()));
        if !accepted(expected).contains(&verdict.status) || !scheme_ok {
            failures.push(format!(
                "{id}: expected {expected}, got {:?} ({:?}): {}",
                verdict.status, verdict.scheme, verdict.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
