//! Records' contents: written and read back exactly, and refused (never
//! guessed) when their lengths do not add up.

use super::*;
use crate::delivery::{Kind as AttemptKind, Outcome, SenderHeard};
use hookhole_shared::headers::Header;

fn saved() -> Saved {
    let delivery = Delivery {
        id: "d1".into(),
        seq: 7,
        received_at_ms: 1_800_000_000_000,
        method: "POST".into(),
        path: "/hook".into(),
        query: Some("a=1".into()),
        headers: vec![
            Header::new("content-type", "application/json"),
            Header::new("x-bin", vec![0xff, 0x00, b'"']),
            Header::new("x-empty", ""),
        ],
        body_blake3: String::new(),
        url: "https://relay/ch/hook?a=1".into(),
        queued: false,
        answered: false,
        body: Bytes::from_static(b"\x00{\"a\":1}"),
    };
    let first = Attempt {
        duration_ms: Some(3),
        target: Some("http://127.0.0.1:3000".into()),
        ..Attempt::new(
            AttemptKind::Original,
            1,
            1_800_000_000_001,
            Outcome::Answered {
                status: 201,
                headers: vec![Header::new("x-r", vec![0x80])],
                body: Bytes::from_static(b"created"),
            },
        )
    };
    Saved {
        channel: "ch".into(),
        body_len: delivery.body.len() as u64,
        delivery,
        verdict: crate::history::store::unverified(),
        first: Some(first),
        webhook: Some(crate::webhook::Recorded {
            facts: hookhole_shared::webhook::WebhookFacts {
                provider: "malomo".into(),
                event_type: Some("orders:created".into()),
                event_id: Some("evt\u{1b}[2J".into()),
                attempt: Some(3),
                deadline_ms: Some(10_000),
            },
            arrival: Some(crate::webhook::Arrival {
                duplicate_of: Some("d0".into()),
                seen: 2,
            }),
        }),
        route: Some(crate::route::Label {
            number: 2,
            name: Some("orders".into()),
        }),
        heard: SenderHeard::Relay {
            status: 202,
            why: crate::delivery::RelayAnswered::AnswerWithin {
                wait_ms: Some(1000),
            },
        },
    }
}

/// `out`'s bytes as the log holds them, read back as a record.
fn record(out: &Outgoing<'_>) -> Record {
    let mut bytes = out.head.clone();
    for part in &out.tail {
        bytes.extend_from_slice(part);
    }
    let payload = bytes[crate::history::log::HEADER_LEN..].to_vec();
    Record {
        offset: 0,
        kind: if bytes[1] == 1 {
            Kind::Delivery
        } else {
            Kind::Attempt
        },
        len: payload.len() as u32,
        payload,
    }
}

#[test]
fn deliveries_and_attempts_come_back_exactly() {
    let s = saved();
    let out = delivery(
        &s.channel,
        &s.delivery,
        &s.verdict,
        s.first.as_ref(),
        s.webhook.as_ref(),
        s.route.as_ref(),
        s.heard,
    )
    .unwrap();
    assert_eq!(
        decode(record(&out)).unwrap(),
        Entry::Delivery(Box::new(s.clone()))
    );

    let mut replay = s.first.clone().unwrap();
    replay.number = 2;
    replay.kind = AttemptKind::Resigned;
    replay.sent(&[Header::new("stripe-signature", "t=1,v1=x")], b"resent");
    let out = attempt("d1", &replay).unwrap();
    assert_eq!(
        decode(record(&out)).unwrap(),
        Entry::Attempt {
            delivery_id: "d1".into(),
            attempt: Box::new(replay)
        }
    );
}

/// A delivery saved without webhook facts, a route or the relay's answer
/// (no provider, no route took it, the sender heard the local answer, or
/// by a build before them) has no trace of them in its head, and reads
/// back as such.
#[test]
fn a_record_without_webhook_facts_reads_back_without_them() {
    let mut s = saved();
    s.webhook = None;
    s.route = None;
    s.heard = SenderHeard::Local;
    let out = delivery(
        &s.channel,
        &s.delivery,
        &s.verdict,
        s.first.as_ref(),
        None,
        None,
        SenderHeard::Local,
    )
    .unwrap();
    let head = String::from_utf8_lossy(&out.head);
    assert!(!head.contains("webhook"), "{head}");
    assert!(!head.contains("route"), "{head}");
    // The local answer costs no byte: a record of a build from before
    // `heard` is the same, and reads back as the local answer.
    assert!(!head.contains("heard"), "{head}");
    assert_eq!(decode(record(&out)).unwrap(), Entry::Delivery(Box::new(s)));
}

#[test]
fn the_index_reads_no_headers_but_checks_every_length() {
    let s = saved();
    let out = delivery(
        &s.channel,
        &s.delivery,
        &s.verdict,
        s.first.as_ref(),
        s.webhook.as_ref(),
        s.route.as_ref(),
        s.heard,
    )
    .unwrap();
    // As an indexing scan reads it: the head only.
    let mut head_only = record(&out);
    let head_len = u32::from_le_bytes(out.head[8..12].try_into().unwrap());
    head_only.payload.truncate(head_len as usize);
    let Entry::Delivery(indexed) = decode_head(head_only).unwrap() else {
        panic!("a delivery");
    };
    assert!(indexed.delivery.headers.is_empty() && indexed.delivery.url.is_empty());
    assert!(indexed.delivery.body.is_empty());
    assert_eq!(indexed.body_len, s.delivery.body.len() as u64);
    assert_eq!(indexed.first.unwrap().outcome.status(), Some(201));
    assert_eq!(indexed.webhook, s.webhook, "the facts are in the head");
    // Bodies that do not add up to the record's length are refused there too.
    let mut short = record(&out);
    short.payload.truncate(head_len as usize);
    short.len -= 1;
    assert!(decode_head(short).is_err());
}

#[test]
fn lengths_that_do_not_add_up_are_refused() {
    let s = saved();
    let out = delivery(
        &s.channel,
        &s.delivery,
        &s.verdict,
        s.first.as_ref(),
        s.webhook.as_ref(),
        s.route.as_ref(),
        s.heard,
    )
    .unwrap();
    let whole = record(&out);
    let head_len = u32::from_le_bytes(whole.payload[..4].try_into().unwrap()) as usize;
    let detail_at = 4 + head_len;
    type Spoil = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "a head longer than the record",
            Box::new(|p| p[..4].copy_from_slice(&u32::MAX.to_le_bytes())),
        ),
        (
            "a body cut short",
            Box::new(|p| {
                p.pop();
            }),
        ),
        ("bytes after the bodies", Box::new(|p| p.push(0))),
        (
            "a header count of 4 billion",
            Box::new(move |p| {
                // The URL's length, the URL, then the first header count.
                let url = u32::from_le_bytes(p[detail_at + 4..detail_at + 8].try_into().unwrap());
                let at = detail_at + 8 + url as usize;
                p[at..at + 4].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
            }),
        ),
    ];
    for (what, spoil) in cases {
        let mut payload = whole.payload.clone();
        spoil(&mut payload);
        let spoilt = Record {
            offset: 0,
            kind: Kind::Delivery,
            len: payload.len() as u32,
            payload,
        };
        let error = decode(spoilt).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{what}: {error}");
        assert!(
            error.to_string().starts_with("a history record"),
            "{what}: {error}"
        );
    }
}

/// What the sender heard from the relay is in the head (what the index
/// reads), a few bytes; a reason this build does not know is refused, not
/// read as the local answer.
#[test]
fn the_relays_answer_is_in_the_head_and_an_unknown_reason_is_refused() {
    let s = saved();
    let out = delivery(
        &s.channel,
        &s.delivery,
        &s.verdict,
        s.first.as_ref(),
        s.webhook.as_ref(),
        s.route.as_ref(),
        s.heard,
    )
    .unwrap();
    let head = String::from_utf8_lossy(&out.head).into_owned();
    assert!(
        head.contains(r#""heard":{"status":202,"why":"answer_within","wait_ms":1000}"#),
        "{head}"
    );
    match decode_head(record(&out)).unwrap() {
        Entry::Delivery(indexed) => assert_eq!(indexed.heard, s.heard),
        other => panic!("{other:?}"),
    }
    // The same length, another reason: the head's length still adds up.
    let mut newer = record(&out);
    let at = newer
        .payload
        .windows(13)
        .position(|w| w == b"answer_within")
        .unwrap();
    newer.payload[at..at + 13].copy_from_slice(b"answer_later!");
    let err = decode(newer).unwrap_err();
    assert!(
        err.to_string().contains("unknown reason \"answer_later!\""),
        "{err}"
    );
}
