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
    assert_eq!(
        v.candidates,
        ["github", "intercom"],
        "both use X-Hub-Signature"
    );
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
