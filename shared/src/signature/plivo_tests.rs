//! Vectors computed with plivo-python 4.x (`construct_post_url`,
//! `construct_get_url`, `get_signature_v3`, `validate_signature`).

use super::*;
use crate::headers::Header;
use crate::signature::Status::{Invalid, Malformed, Unsigned, Valid};

const TOKEN: &str = "MAMDA5ZDJIMDM1NZVMZD";
const NONCE: &str = "05429567804466091622";

fn check(method: &str, url: &str, form: Option<&str>, headers: &[(&str, &str)]) -> Attempt {
    let mut all: Vec<Header> = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
    if form.is_some() {
        all.push(Header::new(
            "Content-Type",
            "application/x-www-form-urlencoded",
        ));
    }
    let request = Request {
        method,
        url,
        headers: &all,
        body: form.unwrap_or_default().as_bytes(),
    };
    verify(&request, &Secret::new("plivo", TOKEN))
}

fn v3(method: &str, url: &str, form: Option<&str>, signature: &str) -> Attempt {
    check(method, url, form, &[(V3, signature), (V3_NONCE, NONCE)])
}

#[test]
fn sdk_vectors_verify() {
    let cases = [
        (
            "POST",
            "https://hooks.example.test/plivo/sms",
            Some(
                "From=14155550100&To=14155550199&Text=Hello%2C+world&MessageUUID=3a6b1f2e-1111-4c2a-9a61-0b7e1c0a0001",
            ),
            "5miaVyoA1a0hcqICAd+uAay4sMkr/4PALQDhAK3khH8=",
        ),
        (
            "POST",
            "https://hooks.example.test/plivo/sms?b=2&a=1",
            Some("From=14155550100&Text=hi"),
            "omrn524UhhOxcd7h1gyTAwkxfZocd8D3u2q5Dh/fNH0=",
        ),
        (
            "GET",
            "https://hooks.example.test/plivo/answer?CallUUID=abc&From=14155550100&Direction=inbound",
            None,
            "BFP+zmdWGAGCywXmqZwMFXYmg+D4t3PWsi1Ai+WzDoY=",
        ),
        (
            "POST",
            "https://hooks.example.test/plivo/sms",
            Some("Tag=z&From=1&Tag=a"),
            "yAQpWFwAU1kdadpMvN1lng26wGMXTqqL/M/dNdF2VZ4=",
        ),
        (
            "POST",
            "https://hooks.example.test/plivo/empty",
            Some(""),
            "Hj7n3WhVcHVg670JDT6DQMtJiwK4URJ+CV+IHqo53x8=",
        ),
        (
            "POST",
            "https://hooks.example.test/plivo/empty?x=1",
            Some(""),
            "ltR7j0nqA5zXMqhkmKdNg1VqQTZxPrWZFxRso6Qhy/8=",
        ),
    ];
    for (method, url, form, signature) in cases {
        let attempt = v3(method, url, form, signature);
        assert_eq!(attempt.status, Valid, "{method} {url}: {}", attempt.reason);
    }
}

#[test]
fn changes_to_covered_parts_are_caught() {
    let url = "https://hooks.example.test/plivo/sms?b=2&a=1";
    let signature = "omrn524UhhOxcd7h1gyTAwkxfZocd8D3u2q5Dh/fNH0=";
    let changed_param = v3("POST", url, Some("From=14155550100&Text=ho"), signature);
    assert_eq!(changed_param.status, Invalid, "{}", changed_param.reason);
    assert!(
        changed_param.reason.contains("URL exactly"),
        "{}",
        changed_param.reason
    );
    let changed_query = "https://hooks.example.test/plivo/sms?b=3&a=1";
    assert_eq!(
        v3(
            "POST",
            changed_query,
            Some("From=14155550100&Text=hi"),
            signature
        )
        .status,
        Invalid
    );
    // Parameter order in the body or query does not matter: they are sorted.
    let reordered = v3(
        "POST",
        "https://hooks.example.test/plivo/sms?a=1&b=2",
        Some("Text=hi&From=14155550100"),
        signature,
    );
    assert_eq!(reordered.status, Valid, "{}", reordered.reason);
}

#[test]
fn any_of_several_signatures_may_match() {
    let other = BASE64.encode([7u8; 32]);
    let header = format!("{other}, 5miaVyoA1a0hcqICAd+uAay4sMkr/4PALQDhAK3khH8=");
    let form = "From=14155550100&To=14155550199&Text=Hello%2C+world&MessageUUID=3a6b1f2e-1111-4c2a-9a61-0b7e1c0a0001";
    let attempt = v3(
        "POST",
        "https://hooks.example.test/plivo/sms",
        Some(form),
        &header,
    );
    assert_eq!(attempt.status, Valid, "{}", attempt.reason);
}

#[test]
fn legacy_v2_signs_the_url_without_query_and_the_nonce() {
    // validate_signature(url, NONCE, signature, TOKEN) is true.
    let url = "https://hooks.example.test/plivo/answer?CallUUID=abc";
    let signature = "XhWWWY/N450TrYSwGBo9gfVQIeNj3pyz0FDKc7II0gA=";
    let attempt = check(
        "POST",
        url,
        Some("A=1"),
        &[(V2, signature), (V2_NONCE, NONCE)],
    );
    assert_eq!(attempt.status, Valid, "{}", attempt.reason);
    assert!(attempt.reason.contains("V2"), "{}", attempt.reason);
}

#[test]
fn without_a_token_either_version_asks_for_one() {
    let registry = crate::signature::Registry::builtin();
    for header in [V3, V2] {
        let headers = [
            Header::new(header, "c2ln"),
            Header::new(format!("{header}-Nonce"), NONCE),
        ];
        let request = Request {
            method: "POST",
            url: "https://hooks.example.test/plivo/sms",
            headers: &headers,
            body: b"",
        };
        let verdict = crate::signature::verify(&registry, &request, &[], 0);
        assert_eq!(
            verdict.status,
            crate::signature::Status::NoSecret,
            "{header}"
        );
        assert!(verdict.reason.contains("-V2"), "{}", verdict.reason);
        assert_eq!(verdict.candidates, ["plivo"]);
    }
}

#[test]
fn missing_and_broken_headers_say_why() {
    let url = "https://hooks.example.test/plivo/sms";
    assert_eq!(check("POST", url, Some("A=1"), &[]).status, Unsigned);
    let no_nonce = check(
        "POST",
        url,
        Some("A=1"),
        &[(V3, "5miaVyoA1a0hcqICAd+uAay4sMkr/4PALQDhAK3khH8=")],
    );
    assert_eq!(no_nonce.status, Malformed);
    assert!(no_nonce.reason.contains("Nonce"), "{}", no_nonce.reason);
    assert_eq!(
        v3("POST", url, Some("A=1"), "not base64!").status,
        Malformed
    );
    assert_eq!(
        v3(
            "POST",
            url,
            Some("A=%zz"),
            "5miaVyoA1a0hcqICAd+uAay4sMkr/4PALQDhAK3khH8="
        )
        .status,
        Malformed
    );
}

#[test]
fn signing_round_trips() {
    let headers = [Header::new(
        "content-type",
        "application/x-www-form-urlencoded",
    )];
    let request = Request {
        method: "POST",
        url: "https://hooks.example.test/plivo/sms?b=2&a=1",
        headers: &headers,
        body: b"From=14155550100&Text=hi",
    };
    let signed = sign(&request, &Secret::new("plivo", TOKEN), NONCE).unwrap();
    assert_eq!(
        signed,
        [
            (
                V3,
                "omrn524UhhOxcd7h1gyTAwkxfZocd8D3u2q5Dh/fNH0=".to_string()
            ),
            (V3_NONCE, NONCE.to_string())
        ]
    );
}
