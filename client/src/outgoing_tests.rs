use super::*;

fn delivery(headers: Vec<Header>, body: &'static [u8]) -> Delivery {
    Delivery {
        id: "abcdefgh23456701".into(),
        seq: 1,
        received_at_ms: 0,
        method: "POST".into(),
        path: "/x".into(),
        query: None,
        headers,
        body_blake3: String::new(),
        url: String::new(),
        queued: false,
        answered: false,
        body: Bytes::from_static(body),
    }
}

fn target() -> Target {
    Target::parse("http://127.0.0.1:3000/base").unwrap()
}

fn wire(request: &Outgoing) -> Vec<(String, String)> {
    request
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn content_length_follows_the_body_in_place() {
    // An edited replay: the stored length no longer matches the body.
    let d = delivery(
        vec![
            Header::new("content-length", "414"),
            Header::new("x-a", "1"),
            Header::new("content-length", "414"),
        ],
        b"short",
    );
    let request = build(&target(), &d).unwrap();
    assert_eq!(
        wire(&request),
        pairs(&[
            ("host", "127.0.0.1:3000"),
            ("content-length", "5"),
            ("x-a", "1")
        ])
    );
    // None given: added last for a body, not at all without one.
    let request = build(&target(), &delivery(vec![Header::new("x-a", "1")], b"abc")).unwrap();
    assert_eq!(
        wire(&request).last().unwrap(),
        &pairs(&[("content-length", "3")])[0]
    );
    let request = build(&target(), &delivery(vec![], b"")).unwrap();
    assert_eq!(wire(&request), pairs(&[("host", "127.0.0.1:3000")]));
}

#[test]
fn host_comes_from_the_target_never_from_the_delivery() {
    let d = delivery(
        vec![Header::new("x-a", "1"), Header::new("host", "evil.example")],
        b"",
    );
    let request = build(&target(), &d).unwrap();
    assert_eq!(
        wire(&request),
        pairs(&[("host", "127.0.0.1:3000"), ("x-a", "1")])
    );
    assert_eq!(request.uri.to_string(), "http://127.0.0.1:3000/base/x");
}

#[test]
fn hop_by_hop_headers_do_not_reach_the_local_server() {
    let d = delivery(
        vec![
            Header::new("transfer-encoding", "chunked"),
            Header::new("connection", "x-secret"),
            Header::new("x-secret", "1"),
            Header::new("upgrade", "websocket"),
            Header::new("x-kept", ""),
        ],
        b"",
    );
    let request = build(&target(), &d).unwrap();
    assert_eq!(
        wire(&request),
        pairs(&[("host", "127.0.0.1:3000"), ("x-kept", "")])
    );
}

#[test]
fn repeated_names_keep_their_values_in_order() {
    let d = delivery(
        vec![
            Header::new("x-dup", "1"),
            Header::new("x-other", "o"),
            Header::new("x-dup", "2"),
        ],
        b"",
    );
    let request = build(&target(), &d).unwrap();
    assert_eq!(
        wire(&request),
        pairs(&[
            ("host", "127.0.0.1:3000"),
            ("x-dup", "1"),
            ("x-dup", "2"),
            ("x-other", "o")
        ])
    );
}

#[test]
fn relay_ids_and_every_token_method_pass() {
    for id in ["abcdefgh23456701", "d1", "01HZX3-uuid_like"] {
        assert_eq!(check_id(id), Ok(()), "{id}");
    }
    for method in ["GET", "PURGE", "M-SEARCH", "x!#$%&'*+.^_`|~"] {
        let d = Delivery {
            method: method.into(),
            ..delivery(vec![], b"")
        };
        assert_eq!(build(&target(), &d).unwrap().method.as_str(), method);
    }
}

#[test]
fn malformed_deliveries_are_refused_naming_what_was_wrong() {
    let cases: Vec<(Delivery, &str)> = vec![
        (
            Delivery {
                id: String::new(),
                ..delivery(vec![], b"")
            },
            r#"the delivery id """#,
        ),
        (
            Delivery {
                id: "../../x".into(),
                ..delivery(vec![], b"")
            },
            r#"the delivery id "../../x""#,
        ),
        (
            Delivery {
                id: "-rf".into(),
                ..delivery(vec![], b"")
            },
            r#"the delivery id "-rf""#,
        ),
        (
            Delivery {
                id: "a".repeat(65),
                ..delivery(vec![], b"")
            },
            "the delivery id",
        ),
        (
            Delivery {
                method: "GET /x HTTP/1.1\r\nHost: evil".into(),
                ..delivery(vec![], b"")
            },
            r#"the method "GET /x HTTP/1.1\r\nHost: evil" is not an HTTP token"#,
        ),
        (
            Delivery {
                method: String::new(),
                ..delivery(vec![], b"")
            },
            r#"the method "" is not"#,
        ),
        (
            Delivery {
                path: "@127.0.0.1:3999/x".into(),
                ..delivery(vec![], b"")
            },
            r#"the path "@127.0.0.1:3999/x" does not start with '/'"#,
        ),
        (
            delivery(vec![Header::new("x a", "1")], b""),
            r#"the header name "x a" is not an HTTP token"#,
        ),
        (
            delivery(vec![Header::new("", "1")], b""),
            r#"the header name "" is not"#,
        ),
        (
            delivery(vec![Header::new("x-a", "1\r\nx-injected: 1")], b""),
            r#"the value of header "x-a" has a byte HTTP cannot carry"#,
        ),
        (
            delivery(vec![Header::new("transfer-encoding:", "x")], b""),
            r#"the header name "transfer-encoding:" is not"#,
        ),
    ];
    for (d, expected) in cases {
        let error = build(&target(), &d).unwrap_err();
        let failure = error.failure(&d.id);
        assert_eq!(failure.code, FailureCode::ProtocolError);
        assert!(
            failure
                .message
                .starts_with(&format!("not forwarded: {expected}")),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains("3000"), "{}", failure.message);
    }
}
