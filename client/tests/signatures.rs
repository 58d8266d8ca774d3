//! Signed webhooks through a real relay and client: each delivery event
//! carries the right verdict, computed against the bytes that arrived.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hookhole::events::{DeliveryEvent, Event};
use hookhole::verification::Verifier;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::preset::{Preset, builtin};
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::sign::{Signing, sign};
use hookhole_shared::signature::{Registry, Status};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn preset(id: &str) -> &'static Preset {
    builtin()
        .iter()
        .find(|p| p.id == id && p.variant.is_none())
        .unwrap()
}

fn signed(id: &str, secret: &Secret, body: &[u8], url: &str, timestamp: i64) -> Vec<Header> {
    let signing = Signing {
        body,
        url,
        headers: &[],
        timestamp,
        id: "msg_e2e",
    };
    sign(preset(id), secret, &signing).unwrap().headers
}

async fn deliver(
    client: &mut TestClient,
    path: &str,
    headers: &[Header],
    body: &[u8],
) -> DeliveryEvent {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|h| (h.name.clone(), h.value_lossy().into_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let sent = send("POST", &format!("{}{path}", client.public_url), &refs, body).await;
    assert_eq!(sent.status, 200);
    match client
        .wait_for("a delivery event", |e| matches!(e, Event::Delivery(_)))
        .await
    {
        Event::Delivery(d) => *d,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn each_delivery_reports_its_signature_status() {
    let relay = TestRelay::start().await;
    let target = TestTarget::echo().await;
    let stripe = Secret::new("stripe", "whsec_e2e_stripe_secret_0001");
    let github = Secret::new("github", "github-e2e-secret");
    let slack = Secret::new("slack", "slack-e2e-signing-secret");
    let maple =
        Secret::new("maple", "mwhsec_e2e_maple_secret").with_param("subscription_id", "dws_01E2E");
    let mut config = engine_config(&relay.url(), Some("signed"), &target.url());
    config.verifier = Arc::new(Verifier {
        registry: Registry::builtin(),
        secrets: vec![stripe.clone(), github.clone(), slack.clone(), maple.clone()],
    });
    let mut client = TestClient::start_with(config).await;
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let url = format!("{}/hooks", client.public_url);

    let d = deliver(
        &mut client,
        "/hooks",
        &signed("stripe", &stripe, body, &url, now()),
        body,
    )
    .await;
    assert_eq!(
        (d.signature.status, d.signature.scheme.as_deref()),
        (Status::Valid, Some("stripe")),
        "{:?}",
        d.signature
    );

    // Maple signs the public URL the provider called: the relay passes it along.
    let d = deliver(
        &mut client,
        "/hooks",
        &signed("maple", &maple, body, &url, now()),
        body,
    )
    .await;
    assert_eq!(d.signature.status, Status::Valid, "{:?}", d.signature);

    let wrong = Secret::new("github", "not-the-configured-secret");
    let d = deliver(
        &mut client,
        "/hooks",
        &signed("github", &wrong, body, &url, now()),
        body,
    )
    .await;
    assert_eq!(
        (d.signature.status, d.signature.scheme.as_deref()),
        (Status::Invalid, Some("github"))
    );

    let d = deliver(
        &mut client,
        "/hooks",
        &signed("slack", &slack, body, &url, now() - 3600),
        body,
    )
    .await;
    assert_eq!(d.signature.status, Status::Expired, "{:?}", d.signature);
    assert!(d.signature.timestamp_age_s.unwrap() >= 3600);

    let shopify = Secret::new("shopify", "shopify-secret-nobody-configured");
    let d = deliver(
        &mut client,
        "/hooks",
        &signed("shopify", &shopify, body, &url, now()),
        body,
    )
    .await;
    assert_eq!(
        (d.signature.status, d.signature.scheme.as_deref()),
        (Status::NoSecret, Some("shopify"))
    );

    let d = deliver(&mut client, "/hooks", &[], body).await;
    assert_eq!(
        (d.signature.status, d.signature.scheme),
        (Status::Unsigned, None)
    );

    // Large bodies are verified on another thread while they are forwarded:
    // the verdict is the same, for a good signature and a bad one.
    let big = format!(r#"{{"id":"evt_big","pad":"{}"}}"#, "x".repeat(200 * 1024));
    let d = deliver(
        &mut client,
        "/hooks",
        &signed("stripe", &stripe, big.as_bytes(), &url, now()),
        big.as_bytes(),
    )
    .await;
    assert_eq!(d.signature.status, Status::Valid, "{:?}", d.signature);
    let d = deliver(
        &mut client,
        "/hooks",
        &signed("stripe", &stripe, body, &url, now()),
        big.as_bytes(),
    )
    .await;
    assert_eq!(d.signature.status, Status::Invalid, "{:?}", d.signature);
}
