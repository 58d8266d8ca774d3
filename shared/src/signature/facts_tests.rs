//! Each provider's rules against the shapes it sends: the seed systems'
//! sample payloads (`shared/tests/fixtures/samples`, copied from the shared
//! fixtures) and documented headers.

use super::*;
use crate::headers::Header;
use crate::webhook::{MAX_FACT_LEN, WebhookFacts};

macro_rules! sample {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/samples/", $name))
    };
}

pub(super) fn facts(id: &str, headers: &[(&str, &str)], body: &[u8]) -> WebhookFacts {
    crate::webhook::with_test_request(headers, body, |request| {
        Registry::builtin()
            .webhook_facts(id, request)
            .unwrap_or_else(|| panic!("{id} has event rules"))
    })
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

/// The generic `X-Webhook-Signature` API's documented envelope.
#[test]
fn the_generic_api_reads_its_envelope() {
    let got = facts(
        "generic",
        &[("X-Webhook-Signature", "00")],
        sample!("generic-resource.updated.json"),
    );
    assert_eq!(
        said(&got),
        (Some("resource.updated"), Some("evt_def456"), None)
    );
    assert_eq!(got.deadline_ms, Some(5_000));
}

/// Maestra does not sign: its facts come from the body whatever the
/// method and custom headers, when the listener is told it is Maestra.
#[test]
fn maestra_is_known_by_its_transaction_id() {
    let headers = [
        ("User-Agent", "Maestra-Webhook/1.0"),
        ("X-Custom-Header", "set in the Maestra dashboard"),
    ];
    let got = facts(
        "maestra",
        &headers,
        sample!("maestra-customer.updated.json"),
    );
    assert_eq!(
        said(&got),
        (None, Some("c8f3f7a2-0d6e-4a1b-9c55-1e2f3a4b5c6d"), None)
    );
    let registry = Registry::builtin();
    assert!(registry.knows("maestra"));
    assert_eq!(registry.provider_name("maestra"), Some("Maestra"));
}

#[test]
fn slack_svix_and_standard_webhooks_read_their_documented_shapes() {
    let slack = facts(
        "slack",
        &[("X-Slack-Signature", "v0=00"), ("X-Slack-Retry-Num", "1")],
        br#"{"token":"t","team_id":"T1","type":"event_callback","event":{"type":"app_mention","text":"hi"},"event_id":"Ev08MFMKH6","event_time":1}"#,
    );
    assert_eq!(
        said(&slack),
        (Some("event_callback.app_mention"), Some("Ev08MFMKH6"), None)
    );
    let body = br#"{"type":"invoice.paid","timestamp":"2025-01-01T00:00:00Z","data":{}}"#;
    let svix = facts(
        "svix",
        &[("svix-id", "msg_2Lh9"), ("svix-signature", "v1,AA==")],
        body,
    );
    assert_eq!(said(&svix), (Some("invoice.paid"), Some("msg_2Lh9"), None));
    assert_eq!(svix.deadline_ms, Some(15_000));
    // Svix white-labelled: the webhook-* headers, read with that variant.
    let white = facts(
        "svix",
        &[("webhook-id", "msg_3"), ("webhook-signature", "v1,AA==")],
        body,
    );
    assert_eq!(white.event_id.as_deref(), Some("msg_3"));
    let standard = facts(
        "standard-webhooks",
        &[("webhook-id", "msg_4"), ("webhook-signature", "v1,AA==")],
        body,
    );
    assert_eq!(said(&standard), (Some("invoice.paid"), Some("msg_4"), None));
}

/// Providers that number their attempts in the body.
#[test]
fn attempts_sent_in_the_body_are_read() {
    let intercom = facts(
        "intercom",
        &[],
        br#"{"type":"notification_event","topic":"conversation.user.created","id":"notif_1","delivery_attempts":2,"data":{}}"#,
    );
    assert_eq!(
        said(&intercom),
        (Some("conversation.user.created"), Some("notif_1"), Some(2))
    );
    let coinbase = facts(
        "coinbase-commerce",
        &[],
        br#"{"attempt_number":5,"event":{"id":"24934862","type":"charge:pending","data":{}},"id":"1f1b"}"#,
    );
    assert_eq!(
        said(&coinbase),
        (Some("charge:pending"), Some("24934862"), Some(5))
    );
}

/// What reading the facts costs per delivery: a Stripe event of 2 KiB,
/// type and id from the body (the bench's shape). Run by hand, in release:
/// `cargo test -p hookhole-shared --release --lib measure_facts -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_facts_cost_per_delivery() {
    let mut body = String::from(
        r#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16","created":1767225600,"data":{"object":{"id":"pi_3NG8Du2eZvKYlo2C1","object":"payment_intent","amount":2000,"currency":"usd","metadata":{"note":""#,
    );
    while body.len() < 2048 - 80 {
        body.push('x');
    }
    body.push_str(
        r#""}}},"livemode":false,"pending_webhooks":1,"type":"payment_intent.succeeded"}"#,
    );
    let headers = [Header::new("stripe-signature", "t=1,v1=00")];
    let request = Request {
        method: "POST",
        url: "https://x.test/",
        headers: &headers,
        body: body.as_bytes(),
    };
    let registry = Registry::builtin();
    let rounds = 200_000u32;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(registry.webhook_facts("stripe", std::hint::black_box(&request)));
    }
    let per = started.elapsed() / rounds;
    let facts = registry.webhook_facts("stripe", &request).unwrap();
    assert_eq!(
        facts.event_type.as_deref(),
        Some("payment_intent.succeeded")
    );
    println!(
        "webhook_facts, Stripe {} B body: {per:?} per delivery",
        body.len()
    );
    // For scale: what a whole serde_json::Value of the same body costs.
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let value: serde_json::Value =
            serde_json::from_slice(std::hint::black_box(body.as_bytes())).unwrap();
        std::hint::black_box(value);
    }
    println!(
        "serde_json::Value of the same body: {:?}",
        started.elapsed() / rounds
    );
}
