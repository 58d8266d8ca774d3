//! Detection and combination: which scheme decides, rotation, no_secret.

use super::*;
use crate::headers::Header;

const NOW: i64 = 1_767_225_600;

fn request<'a>(headers: &'a [Header], body: &'a [u8]) -> Request<'a> {
    Request {
        method: "POST",
        url: "https://hooks.example.test/in/abc",
        headers,
        body,
    }
}

fn github_headers(secret: &str, body: &[u8]) -> Vec<Header> {
    let sig = crypto::mac(preset::Algorithm::HmacSha256, secret.as_bytes(), body).unwrap();
    vec![Header::new(
        "x-hub-signature-256",
        format!("sha256={}", hex::encode(sig)),
    )]
}

#[test]
fn unsigned_and_no_secret() {
    let registry = Registry::builtin();
    let v = verify(&registry, &request(&[], b"{}"), &[], NOW);
    assert_eq!((v.status, v.scheme), (Status::Unsigned, None));

    let headers = vec![Header::new("x-hub-signature", "sha1=00")];
    let v = verify(&registry, &request(&headers, b"{}"), &[], NOW);
    assert_eq!(v.status, Status::NoSecret);
    for both in ["github", "intercom"] {
        assert!(
            v.candidates.iter().any(|c| c == both),
            "both use X-Hub-Signature: {:?}",
            v.candidates
        );
    }
    assert!(v.reason.contains("--secret github="), "{}", v.reason);
}

#[test]
fn rotation_reports_which_secret_matched() {
    let registry = Registry::builtin();
    let body = b"{\"a\":1}";
    let headers = github_headers("new-secret-value-2", body);
    let secrets = vec![
        Secret::new("github", "old-secret-value-1"),
        Secret::new("github", "new-secret-value-2"),
    ];
    let v = verify(&registry, &request(&headers, body), &secrets, NOW);
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert_eq!(v.secret.as_deref(), Some("secret 2 of 2, …ue-2"));
    assert!(!v.reason.contains("new-secret"), "{}", v.reason);

    let v = verify(&registry, &request(&headers, b"{\"a\":2}"), &secrets, NOW);
    assert_eq!(v.status, Status::Invalid);
    assert_eq!(v.secret, None);
}

#[test]
fn a_secret_for_another_provider_does_not_verify_this_one() {
    let registry = Registry::builtin();
    let body = b"{}";
    let headers = github_headers("s3cret-s3cret", body);
    let v = verify(
        &registry,
        &request(&headers, body),
        &[Secret::new("stripe", "s3cret-s3cret")],
        NOW,
    );
    assert_eq!(v.status, Status::NoSecret);
    assert_eq!(v.scheme.as_deref(), Some("github"));
}

#[test]
fn generic_needs_its_header_and_then_verifies() {
    let registry = Registry::builtin();
    let body = b"payload";
    let sig =
        hex::encode(crypto::mac(preset::Algorithm::HmacSha256, b"k3y-k3y-k3y", body).unwrap());
    let headers = vec![Header::new("x-signature", sig)];
    let bare = Secret::new("generic", "k3y-k3y-k3y");
    let v = verify(
        &registry,
        &request(&headers, body),
        std::slice::from_ref(&bare),
        NOW,
    );
    assert_eq!(v.status, Status::NoSecret);
    assert!(v.reason.contains("header="), "{}", v.reason);
    let configured = bare.with_param("header", "X-Signature");
    let v = verify(&registry, &request(&headers, body), &[configured], NOW);
    assert_eq!(
        (v.status, v.scheme.as_deref()),
        (Status::Valid, Some("generic")),
        "{v:?}"
    );
}

#[test]
fn verdict_json_shape() {
    let v = Verdict {
        scheme: Some("stripe".into()),
        status: Status::Valid,
        reason: "HMAC-SHA256 matches".into(),
        secret: None,
        timestamp_age_s: Some(30),
        candidates: vec![],
    };
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"scheme":"stripe","status":"valid","reason":"HMAC-SHA256 matches","timestamp_age_s":30}"#
    );
}

#[test]
fn generic_signs_timestamp_id_and_url_when_configured() {
    let registry = Registry::builtin();
    let generic = preset::builtin()
        .iter()
        .find(|p| p.id == "generic")
        .unwrap();
    let template_only = Secret::new("generic", "generic-secret-1")
        .with_param("header", "X-Sig")
        .with_param("template", "{timestamp}.{id}.{url}.{body}");
    assert!(
        generic
            .with_params(&template_only.params)
            .unwrap_err()
            .contains("timestamp_header")
    );
    let secret = template_only
        .with_param("timestamp_header", "X-Timestamp")
        .with_param("id_header", "X-Id")
        .with_param("encoding", "base64");
    let signing = sign::Signing {
        body: b"{}",
        url: "https://hooks.example.test/in/abc",
        headers: &[],
        timestamp: NOW - 5,
        id: "evt_9",
    };
    let headers = sign::sign(generic, &secret, &signing).unwrap().headers;
    let names: Vec<&str> = headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["x-timestamp", "x-id", "x-sig"]);
    let v = verify(
        &registry,
        &request(&headers, b"{}"),
        std::slice::from_ref(&secret),
        NOW,
    );
    assert_eq!(
        (v.status, v.timestamp_age_s),
        (Status::Valid, Some(5)),
        "{v:?}"
    );
    let v = verify(
        &registry,
        &request(&headers, b"{}"),
        std::slice::from_ref(&secret),
        NOW + 3600,
    );
    assert_eq!(v.status, Status::Expired, "{v:?}");
}

/// Known-answer checks the fixture file does not spell out: a truncated
/// signature, a signature for another body, and secret rotation for a
/// single-signature scheme.
#[test]
fn truncated_and_foreign_signatures_do_not_verify() {
    let registry = Registry::builtin();
    let body = b"{\"ok\":true}";
    let mut headers = github_headers("truncate-me-secret", body);
    let full = headers[0].value_lossy().into_owned();
    headers[0] = Header::new("x-hub-signature-256", &full[..full.len() - 2]);
    let secrets = [Secret::new("github", "truncate-me-secret")];
    let v = verify(&registry, &request(&headers, body), &secrets, NOW);
    assert_eq!(v.status, Status::Invalid, "{v:?}");
    headers[0] = Header::new("x-hub-signature-256", &full[..full.len() - 1]);
    let v = verify(&registry, &request(&headers, body), &secrets, NOW);
    assert_eq!(v.status, Status::Malformed, "odd-length hex: {v:?}");
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any value in any scheme's signature header, any body, any secret:
        /// a verdict, never a panic.
        #[test]
        fn verify_never_panics(
            value in "[ -~]{0,120}",
            body in prop::collection::vec(any::<u8>(), 0..200),
            json_ish in prop::sample::select(vec![
                "", "{\"signature\":{\"timestamp\":\"1\",\"token\":\"t\",\"signature\":\"zz\"}}",
                "signature=ab&token=x&timestamp=1", "{\"webhookTimestamp\":1}", "a=%zz&b=+",
            ]),
            secret in "[ -~]{1,40}",
        ) {
            let registry = Registry::builtin();
            let mut body = body;
            body.extend_from_slice(json_ish.as_bytes());
            for preset in registry.presets() {
                let mut headers = vec![
                    Header::new("content-type", "application/x-www-form-urlencoded"),
                    Header::new("webhook-id", "msg_1"),
                    Header::new("webhook-timestamp", value.as_str()),
                    Header::new("x-slack-request-timestamp", value.as_str()),
                ];
                if !preset.header.is_empty() {
                    headers.push(Header::new(preset.header.to_ascii_lowercase(), value.as_str()));
                }
                let secrets = [Secret::new(preset.id.clone(), secret.as_str())
                    .with_param("subscription_id", "dws_1")
                    .with_param("header", "X-Any")];
                let req = Request { method: "POST", url: "https://x.test/a?bodySHA256=00", headers: &headers, body: &body };
                let _ = verify(&registry, &req, &secrets, NOW);
            }
        }
    }
}

/// Detection looks presets up by header name; it must find exactly what
/// asking every preset would, whatever the case of the header's name.
#[test]
fn detection_by_header_finds_what_asking_every_preset_finds() {
    let registry = Registry::builtin();
    for preset in registry.presets() {
        let Some(name) = preset.detection_header().filter(|h| !h.is_empty()) else {
            continue;
        };
        let value = preset.header_contains.clone().unwrap_or_default() + "0";
        for name in [name.to_ascii_lowercase(), name.to_ascii_uppercase()] {
            let headers = [Header::new(name.as_str(), value.as_str())];
            let request = request(&headers, b"{}");
            let mut expected: Vec<&str> = registry
                .presets()
                .iter()
                .filter(|p| !p.only_with_secret && p.is_present(&request))
                .map(|p| p.id.as_str())
                .collect();
            expected.sort();
            expected.dedup();
            let verdict = verify(&registry, &request, &[], NOW);
            let mut found = verdict.candidates.clone();
            found.sort();
            assert_eq!(found, expected, "{name}: {}", verdict.reason);
        }
    }
}
