//! Each provider's rules against the shapes it sends: the seed systems'
//! sample payloads (`shared/tests/fixtures/samples`, copied from the shared
//! fixtures) and documented headers.

use super::*;
use crate::headers::Header;
use crate::webhook::{Outcome, WebhookFacts, late, next_step};

macro_rules! sample {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/samples/", $name))
    };
}

fn facts(id: &str, headers: &[(&str, &str)], body: &[u8]) -> WebhookFacts {
    let headers: Vec<Header> = headers
        .iter()
        .map(|(name, value)| Header::new(*name, *value))
        .collect();
    let request = Request {
        method: "POST",
        url: "https://hooks.example.test/in/abc",
        headers: &headers,
        body,
    };
    Registry::builtin()
        .webhook_facts(id, &request)
        .unwrap_or_else(|| panic!("{id} has event rules"))
}

fn said(facts: &WebhookFacts) -> (Option<&str>, Option<&str>, Option<u32>) {
    (
        facts.event_type.as_deref(),
        facts.event_id.as_deref(),
        facts.attempt,
    )
}

#[test]
fn maple_reads_the_envelope_type_and_id() {
    let cases: [(&[u8], &str, &str); 3] = [
        (
            sample!("maple-order.notification.json"),
            "order.notification",
            "evt_01JD8Z6Q0N4T7Y2K3M5P9R1S",
        ),
        (
            sample!("maple-order.validation_requested.json"),
            "order.validation_requested",
            "evt_01JD8Z7V0ALIDATION00001",
        ),
        (
            sample!("maple-webhook.test.json"),
            "webhook.test",
            "evt_01JD8Z8TEST000000000001",
        ),
    ];
    for (body, kind, id) in cases {
        let signed = [
            ("maple-webhook-id", id),
            ("maple-webhook-signature", "t=1,v1=00"),
        ];
        let got = facts("maple", &signed, body);
        assert_eq!(said(&got), (Some(kind), Some(id), None));
        assert_eq!(got.deadline_ms, Some(30_000));
        assert_eq!(got.provider, "maple");
    }
}

/// Maple through Convoy has another envelope: its rules are the ones of
/// the preset whose signature header is on the delivery.
#[test]
fn maple_via_convoy_reads_its_own_envelope() {
    let headers = [
        ("X-Maple-Signature", "t=1,v1=00"),
        ("X-Convoy-Idempotency-Key", "idem-42"),
    ];
    let got = facts(
        "maple",
        &headers,
        sample!("maple-convoy-order.created.json"),
    );
    assert_eq!(said(&got), (Some("order.created"), Some("idem-42"), None));
    assert_eq!(got.deadline_ms, Some(30_000));
}

#[test]
fn malomo_reads_topic_webhook_id_and_attempt_from_headers() {
    let headers = [
        ("Malomo-Signature", "00"),
        ("Malomo-Topic", "orders:created"),
        ("Malomo-Webhook-Id", "6b1f0a52-93b3-4a4e-8d2c-0c1f5e7b9a11"),
        ("Malomo-Attempt-Number", "3"),
        ("User-Agent", "Malomo-Webhook-Agent/2.0"),
    ];
    let got = facts("malomo", &headers, sample!("malomo-orders.created.json"));
    assert_eq!(
        said(&got),
        (
            Some("orders:created"),
            Some("6b1f0a52-93b3-4a4e-8d2c-0c1f5e7b9a11"),
            Some(3)
        )
    );
    assert_eq!(got.deadline_ms, Some(10_000));
}

#[test]
fn stripe_reads_type_and_id_from_the_body() {
    let body = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2019-02-19","data":{"object":{"id":"pi_1","object":"payment_intent"}},"type":"payment_intent.succeeded"}"#;
    let got = facts("stripe", &[("Stripe-Signature", "t=1,v1=00")], body);
    assert_eq!(
        said(&got),
        (
            Some("payment_intent.succeeded"),
            Some("evt_1NG8Du2eZvKYlo2CUI79vXWy"),
            None
        )
    );
}

#[test]
fn github_joins_the_event_and_its_action() {
    let headers = [
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-Hub-Signature-256", "sha256=00"),
    ];
    let got = facts("github", &headers, br#"{"action":"opened","number":1}"#);
    assert_eq!(
        said(&got),
        (
            Some("pull_request.opened"),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            None
        )
    );
    // A push has no action: the event alone.
    let push = facts("github", &headers[..2], br#"{"ref":"refs/heads/main"}"#);
    assert_eq!(push.event_type.as_deref(), Some("pull_request"));
}

#[test]
fn shopify_reads_topic_and_event_id_headers() {
    let headers = [
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
        (
            "X-Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("X-Shopify-Hmac-Sha256", "AA=="),
    ];
    let got = facts("shopify", &headers, br#"{"id":820982911946154508}"#);
    assert_eq!(
        said(&got),
        (
            Some("orders/create"),
            Some("98880550-7158-44d4-b7cd-2c97c8a091b5"),
            None
        )
    );
    let events = [
        ("Shopify-Hmac-Sha256", "AA=="),
        ("Shopify-Webhook-Id", "d1"),
    ];
    let got = facts(
        "shopify",
        &events,
        br#"{"topic":"Product","action":"update","handle":"h"}"#,
    );
    assert_eq!(said(&got), (Some("Product.update"), Some("d1"), None));
}

#[test]
fn a_provider_without_rules_or_unknown_has_no_facts() {
    let registry = Registry::builtin();
    let request = Request {
        method: "POST",
        url: "https://x.test/",
        headers: &[],
        body: b"{}",
    };
    assert_eq!(registry.webhook_facts("no-such-provider", &request), None);
    assert_eq!(registry.event_rules("no-such-provider"), None);
    assert_eq!(registry.provider_name("malomo"), Some("Malomo"));
    assert_eq!(registry.provider_name("no-such-provider"), None);
}

/// Whatever a sender puts in a header or a field is kept as sent (the
/// printer escapes it) but never grows past the cap.
#[test]
fn hostile_values_are_capped_kept_or_dropped() {
    let escape = "orders:created\u{1b}]52;c;aGk=\u{7}\r\n\u{202e}";
    let long_id = "x".repeat(10_000);
    let headers = [
        ("Malomo-Topic", escape),
        ("Malomo-Webhook-Id", long_id.as_str()),
        ("Malomo-Attempt-Number", "abc"),
    ];
    let got = facts("malomo", &headers, b"{}");
    // Header values are trimmed (as every header is read), the rest kept.
    assert_eq!(got.event_type.as_deref(), Some(escape.trim()));
    assert_eq!(got.event_id.map(|id| id.len()), Some(MAX_FACT_LEN));
    assert_eq!(got.attempt, None);
    for bad in ["99999999999", "0", "-1", "3.0", "+3", "1e3", " "] {
        let got = facts("malomo", &[("Malomo-Attempt-Number", bad)], b"{}");
        assert_eq!(got.attempt, None, "{bad:?}");
    }

    let in_body = format!(
        r#"{{"id":"evt\u0000\u001b[2J{}","type":"a\u202eb"}}"#,
        "y".repeat(10_000)
    );
    let got = facts("stripe", &[], in_body.as_bytes());
    let id = got.event_id.unwrap();
    assert!(id.starts_with("evt\u{0}\u{1b}[2J") && id.len() == MAX_FACT_LEN);
    assert_eq!(got.event_type.as_deref(), Some("a\u{202e}b"));
}

#[test]
fn huge_or_invalid_bodies_give_no_body_facts_quickly() {
    let mut huge = br#"{"id":"evt_1","type":"t","pad":""#.to_vec();
    huge.resize(10 * 1024 * 1024, b'a');
    huge.extend_from_slice(b"\"}");
    let started = std::time::Instant::now();
    let got = facts("stripe", &[], &huge);
    assert_eq!(said(&got), (None, None, None));
    let invalid = facts("stripe", &[], br#"{"id":"evt_1","type":"t""#);
    assert_eq!(said(&invalid), (None, None, None));
    // Refused by its size, not scanned: far below any scan of 10 MiB.
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

use crate::webhook::MAX_FACT_LEN;

fn step(id: &str, attempt: Option<u32>, status: Option<u16>, duration_ms: u64) -> Option<String> {
    let registry = Registry::builtin();
    let rules = registry.event_rules(id).expect("rules");
    let name = registry.provider_name(id).expect("name");
    next_step(
        name,
        rules,
        attempt,
        &Outcome {
            status,
            duration_ms,
        },
    )
}

#[test]
fn malomo_late_on_its_first_attempt_would_retry() {
    assert_eq!(
        step("malomo", Some(1), Some(200), 11_000).as_deref(),
        Some("Malomo would time out after 10 s and retry: attempt 2 of 10")
    );
    assert_eq!(
        step("malomo", Some(3), Some(500), 20).as_deref(),
        Some("Malomo would retry: attempt 4 of 10")
    );
    assert_eq!(
        step("malomo", Some(10), None, 20).as_deref(),
        Some("Malomo would give up: that was attempt 10 of 10")
    );
    assert_eq!(step("malomo", Some(1), Some(204), 9_999), None);
    let rules = Registry::builtin().event_rules("malomo").cloned().unwrap();
    assert_eq!(late(&rules, 11_000), Some(true));
}

#[test]
fn github_does_not_retry() {
    assert_eq!(
        step("github", None, Some(500), 30).as_deref(),
        Some("GitHub does not retry")
    );
    assert_eq!(
        step("github", None, Some(200), 12_000).as_deref(),
        Some("GitHub would time out after 10 s and not retry")
    );
    assert_eq!(step("github", None, Some(200), 300), None);
}

#[test]
fn stripe_retries_for_days_without_a_documented_count() {
    assert_eq!(
        step("stripe", None, Some(500), 30).as_deref(),
        Some("Stripe would retry (for up to 3 days)")
    );
}
