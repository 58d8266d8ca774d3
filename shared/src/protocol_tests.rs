//! Golden JSON for every message: changing one of these strings is a
//! protocol change and needs a version bump and a `docs/protocol.md` edit.

use super::*;

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
        version: 1,
        channel: Some("dev".into()),
        token: Some(Token("s3cret".into())),
        last_acked_seq: Some(7),
        agent: "hookhole/0.1.0".into(),
    });
    let json = text(&hello);
    assert_eq!(
        json,
        r#"{"type":"hello","version":1,"channel":"dev","token":"s3cret","last_acked_seq":7,"agent":"hookhole/0.1.0"}"#
    );
    assert_eq!(ClientMessage::decode_text(&json).unwrap(), hello);
    // Optional fields may be left out by other clients.
    let minimal = ClientMessage::decode_text(r#"{"type":"hello","version":1}"#).unwrap();
    assert!(matches!(minimal, ClientMessage::Hello(h) if h.channel.is_none()));
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
            r#"{"type":"ack","id":"d1","seq":3}"#,
        ),
        (ClientMessage::Heartbeat, r#"{"type":"heartbeat"}"#),
        (
            ClientMessage::Failed(Failure {
                id: "d1".into(),
                code: FailureCode::LocalUnreachable,
                message: "connection refused".into(),
            }),
            r#"{"type":"failed","id":"d1","code":"local_unreachable","message":"connection refused"}"#,
        ),
        (
            ClientMessage::Failed(Failure {
                id: "d1".into(),
                code: FailureCode::ProtocolError,
                message: "not forwarded: the path \"@x\" does not start with '/'".into(),
            }),
            r#"{"type":"failed","id":"d1","code":"protocol_error","message":"not forwarded: the path \"@x\" does not start with '/'"}"#,
        ),
    ];
    for (msg, golden) in cases {
        assert_eq!(text(&msg), golden);
        assert_eq!(ClientMessage::decode_text(golden).unwrap(), msg);
    }
    let relay: Vec<(RelayMessage, &str)> = vec![
        (
            RelayMessage::Welcome(Welcome {
                version: 1,
                channel: "dev".into(),
                public_url: "http://127.0.0.1:8080/dev".into(),
                listeners: 2,
                heartbeat_secs: 15,
                heartbeat_ms: Some(15000),
                max_body: 26214400,
            }),
            r#"{"type":"welcome","version":1,"channel":"dev","public_url":"http://127.0.0.1:8080/dev","listeners":2,"heartbeat_secs":15,"heartbeat_ms":15000,"max_body":26214400}"#,
        ),
        (
            RelayMessage::Listeners { count: 3 },
            r#"{"type":"listeners","count":3}"#,
        ),
        (RelayMessage::Heartbeat, r#"{"type":"heartbeat"}"#),
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
        body_sha256: "00".into(),
        url: "http://127.0.0.1:8080/dev/x/y?q=1".into(),
        queued: false,
        body: Bytes::from_static(body),
    }
}

#[test]
fn delivery_golden_frame() {
    let msg = RelayMessage::Delivery(sample_delivery(b"\x00\xff\r\n"));
    let frame = binary(&msg);
    let header = r#"{"type":"delivery","id":"d1","seq":1,"received_at_ms":1700000000000,"method":"POST","path":"/x/y","query":"q=1","headers":[["content-type","application/json"]],"body_sha256":"00","url":"http://127.0.0.1:8080/dev/x/y?q=1"}"#;
    let mut golden = (header.len() as u32).to_be_bytes().to_vec();
    golden.extend_from_slice(header.as_bytes());
    golden.extend_from_slice(b"\x00\xff\r\n");
    assert_eq!(frame, golden);
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
    let ours = r#"{"type":"delivery","id":"d1","seq":1,"received_at_ms":1700000000000,"method":"POST","path":"/x/y","query":"q=1","headers":[["content-type","application/json"]],"body_sha256":"00","url":"http://127.0.0.1:8080/dev/x/y?q=1"}"#;
    let theirs = r#"{"id":"d1","seq":1,"received_at_ms":1700000000000,"method":"POST","path":"/x/y","query":"q=1","headers":[["content-type","application/json"]],"body_sha256":"00","url":"http://127.0.0.1:8080/dev/x/y?q=1","type":"delivery"}"#;
    let expected = RelayMessage::Delivery(sample_delivery(b"\x00\xff"));
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
fn wrong_message_kind_is_refused() {
    // A delivery sent as text would lose its body: refuse it.
    let err = RelayMessage::decode_text(
        r#"{"type":"delivery","id":"d","seq":1,"received_at_ms":0,"method":"GET","path":"","headers":[],"body_sha256":"","url":""}"#,
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
