//! Golden JSON for every message: changing one of these strings is a
//! protocol change and needs a version bump and a `docs/protocol.md` edit.

use super::*;

// The golden strings, each also quoted in `docs/protocol.md` (a test below
// checks the page has every one).
const HELLO: &str = r#"{"type":"hello","version":2,"channel":"dev","token":"s3cret","last_acked_seq":7,"agent":"hookhole/0.1.0"}"#;
const MINIMAL_HELLO: &str = r#"{"type":"hello","version":2}"#;
const WELCOME: &str = r#"{"type":"welcome","version":2,"channel":"dev","public_url":"http://127.0.0.1:8080/dev","listeners":2,"heartbeat_secs":15,"heartbeat_ms":15000,"max_body":26214400}"#;
const FAILED: &str =
    r#"{"type":"failed","id":"d1","code":"local_unreachable","message":"connection refused"}"#;
const FAILED_PROTOCOL: &str = r#"{"type":"failed","id":"d1","code":"protocol_error","message":"not forwarded: the path \"@x\" does not start with '/'"}"#;
const ACK: &str = r#"{"type":"ack","id":"d1","seq":3}"#;
const HEARTBEAT: &str = r#"{"type":"heartbeat"}"#;
const LISTENERS: &str = r#"{"type":"listeners","count":3}"#;
// Answer modes (optional fields added within version 2: a peer that does
// not send them reads as `local`, one that does not know them ignores them).
const HELLO_ANSWER: &str =
    r#"{"type":"hello","version":2,"channel":"dev","agent":"hookhole/0.1.0","answer":"within=5s"}"#;
const WELCOME_ANSWER: &str = r#"{"type":"welcome","version":2,"channel":"dev","public_url":"http://127.0.0.1:8080/dev","listeners":1,"heartbeat_secs":15,"max_body":26214400,"answer":"now"}"#;
const LISTENERS_ANSWER: &str = r#"{"type":"listeners","count":2,"answer":"within=5s"}"#;
// Probes (`hookhole doctor`; optional within version 2: a relay that does
// not know `probe` ignores it and answers `welcome`).
const HELLO_PROBE: &str =
    r#"{"type":"hello","version":2,"channel":"dev","agent":"hookhole/0.1.0","probe":true}"#;
const PROBED: &str = r#"{"type":"probed","version":2,"channel":"dev","public_url":"http://127.0.0.1:8080/dev","listeners":1}"#;
const PROBED_REFUSED: &str = r#"{"type":"probed","version":2,"channel":"dev","public_url":"http://127.0.0.1:8080/dev","refused":"channel dev belongs to another token","listeners":0}"#;
// The relay answered a sender itself (a message added within version 2:
// an older client ignores it as unknown).
const ANSWERED_NOW: &str = r#"{"type":"answered","id":"d1","status":204}"#;
const ANSWERED_WITHIN: &str = r#"{"type":"answered","id":"d1","status":202,"wait_ms":5000}"#;
/// The golden delivery's body, and its digest.
const DELIVERY_BODY: &[u8] = b"\x00\xff\r\n";
const DELIVERY_BLAKE3: &str = "a02efa924dc54059eb145fc53d43a905dce0c6e7e8f03f1149cd80ff48d941c6";
const DELIVERY_HEADER: &str = r#"{"type":"delivery","id":"d1","seq":1,"received_at_ms":1700000000000,"method":"POST","path":"/x/y","query":"q=1","headers":[["content-type","application/json"]],"body_blake3":"a02efa924dc54059eb145fc53d43a905dce0c6e7e8f03f1149cd80ff48d941c6","url":"http://127.0.0.1:8080/dev/x/y?q=1"}"#;

fn text(msg: &impl Message) -> String {
    match msg.encode() {
        Wire::Text(t) => t,
        Wire::Binary(_) => panic!("expected a text message"),
    }
}

fn binary(msg: &impl Message) -> Vec<u8> {
    match msg.encode() {
        Wire::Binary(b) => b,
        Wire::Text(_) => panic!("expected a binary message"),
    }
}

#[test]
fn hello_golden() {
    let hello = ClientMessage::Hello(Hello {
        version: 2,
        channel: Some("dev".into()),
        token: Some(Token("s3cret".into())),
        last_acked_seq: Some(7),
        agent: "hookhole/0.1.0".into(),
        answer: None,
        probe: false,
    });
    let json = text(&hello);
    assert_eq!(json, HELLO);
    assert_eq!(ClientMessage::decode_text(&json).unwrap(), hello);
    // Optional fields may be left out by other clients.
    let minimal = ClientMessage::decode_text(MINIMAL_HELLO).unwrap();
    assert!(matches!(minimal, ClientMessage::Hello(h) if h.channel.is_none()));
}

/// The answer mode rides in an optional field: no version bump. A hello
/// without it (every client before it) asks for `local`; a relay that
/// predates it ignores it, as serde ignores unknown fields.
#[test]
fn the_answer_mode_is_optional_and_ignorable() {
    let asked = ClientMessage::decode_text(HELLO_ANSWER).unwrap();
    assert!(
        matches!(&asked, ClientMessage::Hello(h) if h.answer == Some(Answer::Within { wait_ms: 5000 })),
        "{asked:?}"
    );
    assert_eq!(text(&asked), HELLO_ANSWER);
    let ClientMessage::Hello(old) = ClientMessage::decode_text(HELLO).unwrap() else {
        panic!("a hello")
    };
    assert_eq!(old.answer.unwrap_or_default(), Answer::Local);
    // A newer peer's extra fields and modes are ignored, not refused.
    let newer = r#"{"type":"hello","version":2,"answer":"someday","later":{"x":1}}"#;
    let ClientMessage::Hello(newer) = ClientMessage::decode_text(newer).unwrap() else {
        panic!("a hello")
    };
    assert_eq!(newer.answer, Some(Answer::Local));
    let listeners = RelayMessage::decode_text(LISTENERS).unwrap();
    assert_eq!(
        listeners,
        RelayMessage::Listeners {
            count: 3,
            answer: None
        }
    );
}

/// A probe asks the relay what joining would give without joining; the
/// flag is left out of every other hello, so older relays see nothing new.
#[test]
fn a_probe_is_an_optional_hello_flag_and_its_own_answer() {
    let ClientMessage::Hello(probe) = ClientMessage::decode_text(HELLO_PROBE).unwrap() else {
        panic!("a hello")
    };
    assert!(probe.probe);
    assert_eq!(text(&ClientMessage::Hello(probe.clone())), HELLO_PROBE);
    let plain = Hello {
        probe: false,
        ..probe
    };
    assert!(!text(&ClientMessage::Hello(plain)).contains("probe"));
    let ClientMessage::Hello(old) = ClientMessage::decode_text(HELLO).unwrap() else {
        panic!("a hello")
    };
    assert!(!old.probe, "a hello without the flag joins");
    for golden in [PROBED, PROBED_REFUSED] {
        let decoded = RelayMessage::decode_text(golden).unwrap();
        assert_eq!(decoded.kind(), "probed");
        assert_eq!(text(&decoded), golden);
    }
    let RelayMessage::Probed(refused) = RelayMessage::decode_text(PROBED_REFUSED).unwrap() else {
        panic!("probed")
    };
    assert_eq!(
        refused.refused.as_deref(),
        Some("channel dev belongs to another token")
    );
}

#[test]
fn token_debug_is_redacted() {
    let dbg = format!("{:?}", Token("s3cret".into()));
    assert!(!dbg.contains("s3cret"), "{dbg}");
}

#[test]
fn small_messages_golden() {
    let cases: Vec<(ClientMessage, &str)> = vec![
        (
            ClientMessage::Ack {
                id: "d1".into(),
                seq: 3,
            },
            ACK,
        ),
        (ClientMessage::Heartbeat, HEARTBEAT),
        (
            ClientMessage::Failed(Failure {
                id: "d1".into(),
                code: FailureCode::LocalUnreachable,
                message: "connection refused".into(),
            }),
            FAILED,
        ),
        (
            ClientMessage::Failed(Failure {
                id: "d1".into(),
                code: FailureCode::ProtocolError,
                message: "not forwarded: the path \"@x\" does not start with '/'".into(),
            }),
            FAILED_PROTOCOL,
        ),
    ];
    for (msg, golden) in cases {
        assert_eq!(text(&msg), golden);
        assert_eq!(ClientMessage::decode_text(golden).unwrap(), msg);
    }
    let relay: Vec<(RelayMessage, &str)> = vec![
        (
            RelayMessage::Welcome(Welcome {
                version: 2,
                channel: "dev".into(),
                public_url: "http://127.0.0.1:8080/dev".into(),
                listeners: 2,
                heartbeat_secs: 15,
                heartbeat_ms: Some(15000),
                max_body: 26214400,
                answer: None,
            }),
            WELCOME,
        ),
        (
            RelayMessage::Welcome(Welcome {
                version: 2,
                channel: "dev".into(),
                public_url: "http://127.0.0.1:8080/dev".into(),
                listeners: 1,
                heartbeat_secs: 15,
                heartbeat_ms: None,
                max_body: 26214400,
                answer: Some(Answer::NOW),
            }),
            WELCOME_ANSWER,
        ),
        (
            RelayMessage::Listeners {
                count: 3,
                answer: None,
            },
            LISTENERS,
        ),
        (
            RelayMessage::Listeners {
                count: 2,
                answer: Some(Answer::Within { wait_ms: 5000 }),
            },
            LISTENERS_ANSWER,
        ),
        (
            RelayMessage::Answered {
                id: "d1".into(),
                status: 204,
                wait_ms: None,
            },
            ANSWERED_NOW,
        ),
        (
            RelayMessage::Answered {
                id: "d1".into(),
                status: 202,
                wait_ms: Some(5000),
            },
            ANSWERED_WITHIN,
        ),
        (RelayMessage::Heartbeat, HEARTBEAT),
    ];
    for (msg, golden) in relay {
        assert_eq!(text(&msg), golden);
        assert_eq!(RelayMessage::decode_text(golden).unwrap(), msg);
    }
}

fn sample_delivery(body: &'static [u8]) -> Delivery {
    Delivery {
        id: "d1".into(),
        seq: 1,
        received_at_ms: 1_700_000_000_000,
        method: "POST".into(),
        path: "/x/y".into(),
        query: Some("q=1".into()),
        headers: vec![Header::new("content-type", "application/json")],
        body_blake3: DELIVERY_BLAKE3.into(),
        url: "http://127.0.0.1:8080/dev/x/y?q=1".into(),
        queued: false,
        answered: false,
        body: Bytes::from_static(body),
    }
}

#[test]
fn delivery_golden_frame() {
    assert_eq!(crate::body_digest::of(DELIVERY_BODY), DELIVERY_BLAKE3);
    let msg = RelayMessage::Delivery(sample_delivery(DELIVERY_BODY));
    let frame = binary(&msg);
    let mut golden = (DELIVERY_HEADER.len() as u32).to_be_bytes().to_vec();
    golden.extend_from_slice(DELIVERY_HEADER.as_bytes());
    golden.extend_from_slice(DELIVERY_BODY);
    assert_eq!(frame, golden);
    // The sizes the protocol page's table gives.
    assert_eq!((DELIVERY_HEADER.len(), frame.len()), (283, 291));
    assert_eq!(
        RelayMessage::decode_binary(Bytes::from(frame)).unwrap(),
        msg
    );
}

#[test]
fn response_round_trips_with_binary_body() {
    let msg = ClientMessage::Response(Response {
        id: "d1".into(),
        status: 201,
        headers: vec![Header::new("x-bin", vec![0xff])],
        body: Bytes::from_static(b"\xde\xad"),
    });
    let frame = binary(&msg);
    assert_eq!(
        ClientMessage::decode_binary(Bytes::from(frame)).unwrap(),
        msg
    );
}

#[test]
fn headers_in_any_field_order_decode_alike() {
    // Ours start with the tag (the fast path); another encoder's may not.
    let ours = DELIVERY_HEADER.to_string();
    // The same fields, the tag last.
    let theirs = DELIVERY_HEADER
        .replace(r#""type":"delivery","#, "")
        .replace(r#"x/y?q=1"}"#, r#"x/y?q=1","type":"delivery"}"#);
    let expected = RelayMessage::Delivery(sample_delivery(b"\x00\xff"));
    assert!(!theirs.starts_with(r#"{"type""#) && theirs.ends_with(r#""type":"delivery"}"#));
    for header in [ours, theirs] {
        let frame = frame::encode(header.as_bytes(), b"\x00\xff");
        assert_eq!(
            RelayMessage::decode_binary(Bytes::from(frame)).unwrap(),
            expected,
            "{header}"
        );
    }
    // A broken header on the fast path is still an error, not a panic.
    let frame = frame::encode(br#"{"type":"delivery","id":1}"#, b"");
    assert!(RelayMessage::decode_binary(Bytes::from(frame)).is_err());
    let frame = frame::encode(br#"{"type":"response","id":"d","status":200}"#, b"");
    assert!(ClientMessage::decode_binary(Bytes::from(frame)).is_err());
    let frame = frame::encode(
        br#"{"status":200,"type":"response","id":"d","headers":[]}"#,
        b"ok",
    );
    let ClientMessage::Response(r) = ClientMessage::decode_binary(Bytes::from(frame)).unwrap()
    else {
        panic!("a response");
    };
    assert_eq!((r.status, r.body.as_ref()), (200, &b"ok"[..]));
}

#[test]
fn a_version_1_delivery_header_is_not_a_version_2_delivery() {
    // Why the new digest needed a new version: the field is required.
    let v1 = DELIVERY_HEADER.replace(
        &format!(r#""body_blake3":"{DELIVERY_BLAKE3}""#),
        r#""body_sha256":"00""#,
    );
    assert_ne!(v1, DELIVERY_HEADER);
    let frame = Bytes::from(frame::encode(v1.as_bytes(), DELIVERY_BODY));
    let err = RelayMessage::decode_binary(frame).unwrap_err();
    assert!(err.to_string().contains("body_blake3"), "{err}");
}

#[test]
fn the_protocol_page_quotes_every_golden_string() {
    let page = include_str!("../../docs/protocol.md");
    assert!(
        page.starts_with(&format!("# hookhole wire protocol, version {VERSION}\n")),
        "docs/protocol.md names another version"
    );
    for golden in [
        HELLO,
        MINIMAL_HELLO,
        WELCOME,
        FAILED,
        FAILED_PROTOCOL,
        ACK,
        HEARTBEAT,
        LISTENERS,
        DELIVERY_HEADER,
        HELLO_ANSWER,
        WELCOME_ANSWER,
        LISTENERS_ANSWER,
        HELLO_PROBE,
        PROBED,
        PROBED_REFUSED,
        ANSWERED_NOW,
        ANSWERED_WITHIN,
    ] {
        assert!(
            page.lines().any(|line| line == golden),
            "docs/protocol.md lacks {golden}"
        );
    }
}

#[test]
fn wrong_message_kind_is_refused() {
    // A delivery sent as text would lose its body: refuse it.
    let err = RelayMessage::decode_text(
        r#"{"type":"delivery","id":"d","seq":1,"received_at_ms":0,"method":"GET","path":"","headers":[],"body_blake3":"","url":""}"#,
    )
    .unwrap_err();
    assert!(matches!(err, DecodeError::ExpectedBinary("delivery")));
    let frame = frame::encode(br#"{"type":"heartbeat"}"#, b"");
    let err = ClientMessage::decode_binary(Bytes::from(frame)).unwrap_err();
    assert!(matches!(err, DecodeError::ExpectedText("heartbeat")));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for garbage in ["", "{", "[]", r#"{"kind":"hello"}"#, r#"{"type":"hello"}"#] {
        assert!(ClientMessage::decode_text(garbage).is_err(), "{garbage}");
    }
    for garbage in [&b""[..], b"\x00\x00\x00\x02{}", b"\x00\x00\x00\x05{}"] {
        assert!(
            RelayMessage::decode_binary(Bytes::copy_from_slice(garbage)).is_err(),
            "{garbage:?}"
        );
    }
}

#[test]
fn fatal_close_codes() {
    assert!(close::is_fatal(close::UNSUPPORTED_VERSION));
    assert!(close::is_fatal(close::INVALID_CHANNEL));
    assert!(!close::is_fatal(close::GOING_AWAY));
    assert!(!close::is_fatal(close::HEARTBEAT_TIMEOUT));
}

#[test]
fn failure_code_names_match_serde() {
    for code in [
        FailureCode::LocalUnreachable,
        FailureCode::LocalTimeout,
        FailureCode::LocalError,
        FailureCode::ResponseTooLarge,
        FailureCode::BodyMismatch,
        FailureCode::ProtocolError,
    ] {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
}

#[test]
fn unknown_message_types_from_newer_peers_are_ignorable() {
    assert_eq!(
        ClientMessage::decode_text(r#"{"type":"from_the_future","x":1}"#).unwrap(),
        ClientMessage::Unknown
    );
    assert_eq!(
        RelayMessage::decode_text(r#"{"type":"from_the_future"}"#).unwrap(),
        RelayMessage::Unknown
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any bytes from a hostile peer: an error or a message, never a panic.
        #[test]
        fn decoders(bytes in prop::collection::vec(any::<u8>(), 0..600), text in ".{0,300}") {
            let _ = RelayMessage::decode_binary(Bytes::from(bytes.clone()));
            let _ = ClientMessage::decode_binary(Bytes::from(bytes.clone()));
            let _ = RelayMessage::decode_text(&text);
            let _ = ClientMessage::decode_text(&text);
            let _ = frame::split(&bytes);
        }

        /// Frames with a valid prefix and arbitrary JSON-ish headers.
        #[test]
        fn framed_headers(header in r#"\{"type":"(delivery|response|hello|ack)"[ -~]{0,200}\}"#, body in prop::collection::vec(any::<u8>(), 0..64)) {
            let message = Bytes::from(frame::encode(header.as_bytes(), &body));
            let _ = RelayMessage::decode_binary(message.clone());
            let _ = ClientMessage::decode_binary(message);
        }
    }
}
