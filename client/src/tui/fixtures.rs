//! Fixed deliveries for the UI's tests and snapshots: deterministic ids,
//! times and verdicts, one of every signature status.

use crate::delivery::SenderHeard;
use crate::events::{DeliveryEvent, Event, Exchange, LinkState};
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::{Delivery, Failure, FailureCode, Response};
use hookhole_shared::signature::{Status, Verdict};
use std::sync::Arc;

pub const T0: u64 = 1_767_225_600_000;

pub fn verdict(status: Status, scheme: Option<&str>) -> Verdict {
    Verdict {
        scheme: scheme.map(str::to_string),
        status,
        reason: match status {
            Status::Valid => "HMAC-SHA256 matches, timestamp 2 s old".into(),
            Status::Invalid => "no HMAC-SHA256 signature matches the configured secret".into(),
            Status::Expired => {
                "signature matches but the timestamp is 900 s old (tolerance 300 s)".into()
            }
            Status::Unsigned => "no known signature header".into(),
            Status::NoSecret => {
                "signed (X-Hub-Signature-256) but no secret is configured for github".into()
            }
            Status::Malformed => "Stripe-Signature: no v1 entry in the signature header".into(),
        },
        secret: (status == Status::Valid).then(|| "secret 1 of 1, whsec_…5e2".to_string()),
        timestamp_age_s: matches!(status, Status::Valid | Status::Expired).then_some(2),
        candidates: scheme.map(|s| vec![s.to_string()]).unwrap_or_default(),
    }
}

/// A delivery event with its full exchange.
pub fn delivery(
    n: u64,
    path: &str,
    outcome: Result<u16, FailureCode>,
    status: Status,
    body: &[u8],
) -> Event {
    let id = format!("d{n:04}");
    let headers = vec![
        Header::new("content-type", "application/json"),
        Header::new(
            "stripe-signature",
            "t=1767225598,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        ),
        Header::new("x-forwarded-for", "127.0.0.1"),
    ];
    let delivery = Delivery {
        id: id.clone(),
        seq: n,
        received_at_ms: T0 + n * 1000,
        method: "POST".into(),
        path: path.into(),
        query: None,
        headers,
        body_blake3: String::new(),
        url: format!("https://hooks.example.com/dev{path}"),
        queued: false,
        answered: false,
        body: Bytes::copy_from_slice(body),
    };
    let result = match outcome {
        Ok(code) => Ok(Response {
            id: id.clone(),
            status: code,
            headers: vec![Header::new("content-type", "application/json")],
            body: Bytes::from_static(b"{\"received\":true}"),
        }),
        Err(code) => Err(Failure {
            id: id.clone(),
            code,
            message:
                "local server http://127.0.0.1:3000 unreachable: Connection refused (os error 111)"
                    .into(),
        }),
    };
    Event::Delivery(Box::new(DeliveryEvent {
        id,
        seq: n,
        attempt: 1,
        method: "POST".into(),
        path: path.into(),
        query: None,
        status: result.as_ref().ok().map(|r| r.status),
        error: result.as_ref().err().map(|f| f.message.clone()),
        duration_ms: 3 + n,
        body_bytes: body.len(),
        signature: verdict(
            status,
            (status != Status::Unsigned).then(|| scheme_for(status)),
        ),
        webhook: None,
        route: None,
        sender_heard: SenderHeard::Local,
        target: None,
        exchange: Some(Arc::new(Exchange {
            delivery,
            outcome: result,
            heard: SenderHeard::Local,
        })),
    }))
}

/// A Malomo delivery answered in `duration_ms`: the `n`th arrival of event
/// `evt_1` (a duplicate of `d0001` from the second on).
pub fn malomo(n: u64, seen: u32, duration_ms: u64) -> Event {
    let mut event = delivery(n, "/webhooks/malomo", Ok(200), Status::NoSecret, b"{}");
    if let Event::Delivery(d) = &mut event {
        d.duration_ms = duration_ms;
        let recorded = crate::webhook::Recorded {
            facts: hookhole_shared::webhook::WebhookFacts {
                provider: "malomo".into(),
                event_type: Some("orders:created".into()),
                event_id: Some("evt_1".into()),
                attempt: Some(seen),
                deadline_ms: Some(10_000),
            },
            arrival: Some(crate::webhook::Arrival {
                duplicate_of: (seen > 1).then(|| "d0001".to_string()),
                seen,
            }),
        };
        let heard = hookhole_shared::webhook::Outcome {
            status: Some(200),
            duration_ms,
        };
        let registry = hookhole_shared::signature::Registry::builtin();
        d.webhook = Some(crate::webhook::Webhook::of(
            &registry,
            &recorded,
            Some(&heard),
        ));
    }
    event
}

/// A Malomo delivery the local server answered `status` in
/// `duration_ms`, whose sender heard `heard` (the relay's own answer);
/// its webhook object judged by what the sender heard, as the engine does.
pub fn relay_answered(n: u64, status: u16, duration_ms: u64, heard: SenderHeard) -> Event {
    let mut event = malomo(n, 1, duration_ms);
    if let Event::Delivery(d) = &mut event {
        d.status = Some(status);
        d.sender_heard = heard;
        let recorded = d.webhook.as_ref().expect("a Malomo delivery").recorded();
        let registry = hookhole_shared::signature::Registry::builtin();
        let provider = crate::webhook::provider_outcome(heard, &[]);
        d.webhook = Some(crate::webhook::Webhook::of(
            &registry,
            &recorded,
            provider.as_ref(),
        ));
        if let Some(x) = d.exchange.take() {
            let mut x = Arc::unwrap_or_clone(x);
            if let Ok(response) = &mut x.outcome {
                response.status = status;
            }
            x.heard = heard;
            d.exchange = Some(Arc::new(x));
        }
    }
    event
}

fn scheme_for(status: Status) -> &'static str {
    match status {
        Status::NoSecret => "github",
        _ => "stripe",
    }
}

pub fn ready() -> Event {
    Event::Ready {
        public_url: "https://hooks.example.com/dev".into(),
        channel: "dev".into(),
        listeners: 1,
        forward: "http://127.0.0.1:3000".into(),
        relay: "https://hooks.example.com".into(),
        answer: Default::default(),
    }
}

pub fn reconnecting() -> Event {
    Event::Connection(crate::events::ConnectionEvent {
        state: LinkState::Reconnecting,
        reason: Some("the relay went away: relay shutting down".into()),
        retry_in_ms: Some(2000),
        listeners: None,
        relay: None,
        next_relay: None,
        public_url: None,
        answer: None,
    })
}

pub fn refused() -> Event {
    Event::Connection(crate::events::ConnectionEvent {
        state: LinkState::Failed,
        reason: Some("this relay requires a token: pass --token or set HOOKHOLE_TOKEN".into()),
        retry_in_ms: None,
        listeners: None,
        relay: None,
        next_relay: None,
        public_url: None,
        answer: None,
    })
}

/// One delivery of every signature status, and one the local server refused.
pub fn every_badge() -> Vec<Event> {
    let body =
        br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"amount":2000}}}"#;
    vec![
        delivery(1, "/webhooks/stripe", Ok(200), Status::Valid, body),
        delivery(2, "/webhooks/stripe", Ok(400), Status::Invalid, body),
        delivery(3, "/webhooks/stripe", Ok(200), Status::Expired, body),
        delivery(4, "/webhooks/github", Ok(200), Status::NoSecret, body),
        delivery(5, "/health", Ok(204), Status::Unsigned, b""),
        delivery(
            6,
            "/webhooks/stripe",
            Err(FailureCode::LocalUnreachable),
            Status::Malformed,
            body,
        ),
    ]
}

/// What a hostile sender posts: form values that decode to terminal
/// escapes (OSC 52 clipboard, OSC 0 title, clear screen, a fake row), a
/// path with C1 controls, header values and JSON strings with bidi overrides.
pub fn hostile() -> Event {
    let body = b"clip=%1B%5D52%3Bc%3BZWNobyBwd25lZA%3D%3D%07&title=%1B%5D0%3Bpwned%07\
&clear=%1B%5B2J&row=%0D%0A12%3A00%3A09+POST+%2Fpay+200+%E2%9C%93+valid&c1=%C2%9B2J";
    let Event::Delivery(mut event) =
        delivery(7, "/pay\u{9b}31m\u{85}", Ok(200), Status::Unsigned, body)
    else {
        unreachable!("delivery() makes a delivery event")
    };
    let exchange = Arc::make_mut(event.exchange.as_mut().expect("delivery() attaches one"));
    exchange.delivery.headers = vec![
        Header::new("content-type", "application/x-www-form-urlencoded"),
        Header::new("x-note", "invoice\u{202e}fdp.exe\u{2066}"),
    ];
    if let Ok(response) = exchange.outcome.as_mut() {
        response.body = Bytes::from_static("{\"note\":\"\u{202e}dilav \u{2713}\"}".as_bytes());
    }
    Event::Delivery(event)
}
