use super::parse::{Given, build, from_flag, from_table};
use super::*;
use hookhole_shared::signature::Registry;

fn routes(flags: &[&str]) -> Result<Routes, String> {
    let given: Vec<Given> = flags
        .iter()
        .map(|f| from_flag(f))
        .collect::<Result<_, _>>()?;
    build(&given, "--route", &Registry::builtin())
}

fn delivery(method: &str, path: &str, headers: &[(&str, &str)]) -> Delivery {
    Delivery {
        id: "d1".into(),
        seq: 1,
        received_at_ms: 0,
        method: method.into(),
        path: path.into(),
        query: None,
        headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
        body_blake3: String::new(),
        url: String::new(),
        queued: false,
        answered: false,
        body: Bytes::new(),
    }
}

fn facts(provider: &str, event_type: Option<&str>) -> WebhookFacts {
    WebhookFacts {
        provider: provider.into(),
        event_type: event_type.map(Into::into),
        event_id: None,
        attempt: None,
        deadline_ms: None,
    }
}

/// The number of the route that takes the delivery.
fn picked(r: &Routes, d: &Delivery, f: Option<&WebhookFacts>) -> Option<u32> {
    r.pick(d, f).map(|route| route.label.number)
}

#[test]
fn the_first_route_whose_matchers_all_match_takes_the_delivery() {
    let r = routes(&[
        "event=order.*,forward=4000",
        "path=/github/*,header.X-GitHub-Event=ping,respond=200,respond.body=pong",
        "method=put,forward=5000",
        "provider=stripe,forward=6000",
    ])
    .unwrap();
    assert!(r.needs_facts());
    let post = delivery("POST", "/x", &[]);
    let order = facts("maple", Some("order.created"));
    assert_eq!(picked(&r, &post, Some(&order)), Some(1));
    assert_eq!(
        picked(&r, &post, Some(&facts("maple", Some("orders")))),
        None
    );
    assert_eq!(picked(&r, &post, None), None);
    let ping = delivery("POST", "/github/app", &[("x-github-event", "PING")]);
    assert_eq!(picked(&r, &ping, None), Some(2));
    let push = delivery("POST", "/github/app", &[("x-github-event", "push")]);
    assert_eq!(picked(&r, &push, None), None);
    let elsewhere = delivery("POST", "/gitlab", &[("x-github-event", "ping")]);
    assert_eq!(picked(&r, &elsewhere, None), None);
    assert_eq!(picked(&r, &delivery("PUT", "/", &[]), None), Some(3));
    let stripe = facts("Stripe", None);
    assert_eq!(picked(&r, &post, Some(&stripe)), Some(4));
    // Both the event route and the method route match: the first wins.
    assert_eq!(
        picked(&r, &delivery("PUT", "/", &[]), Some(&order)),
        Some(1)
    );
}

#[test]
fn a_path_glob_sees_slash_for_an_empty_path_and_a_header_any_of_its_values() {
    let r = routes(&["path=/,forward=4000", "header.X-Tag=b*,forward=5000"]).unwrap();
    assert!(!r.needs_facts());
    assert_eq!(picked(&r, &delivery("POST", "", &[]), None), Some(1));
    let tagged = delivery("POST", "/x", &[("x-tag", "a"), ("X-Tag", "bee")]);
    assert_eq!(picked(&r, &tagged, None), Some(2));
    let not_utf8 = Delivery {
        headers: vec![Header::new("x-tag", b"b\xff".to_vec())],
        ..delivery("POST", "/x", &[])
    };
    assert_eq!(picked(&r, &not_utf8, None), None);
}

#[test]
fn actions_are_a_target_or_an_answer() {
    let r = routes(&[
        "name=orders,event=order.*,forward=http://127.0.0.1:4000/orders/",
        "path=/p,respond.status=202,respond.header.Content-Type=text/plain,respond.body=ok",
    ])
    .unwrap();
    let all: Vec<_> = r.iter().collect();
    assert_eq!(
        all[0].action,
        Action::Forward(Target::parse("127.0.0.1:4000/orders").unwrap())
    );
    assert_eq!(all[0].label.name.as_deref(), Some("orders"));
    let Action::Respond(answer) = &all[1].action else {
        panic!("{:?}", all[1].action)
    };
    let response = answer.response("d9");
    assert_eq!((response.id.as_str(), response.status), ("d9", 202));
    assert_eq!(
        response.headers,
        [Header::new("content-type", "text/plain")]
    );
    assert_eq!(&response.body[..], b"ok");
}

#[test]
fn the_file_and_the_flag_say_the_same_thing() {
    let table: toml::Table = toml::from_str(
        r#"
        path = "/github/*"
        header = { "X-GitHub-Event" = "ping" }
        respond = { status = 200, headers = { "X-A" = "b" }, body = "pong" }
        "#,
    )
    .unwrap();
    let from_file = build(
        &[from_table(&table).unwrap()],
        "route",
        &Registry::builtin(),
    );
    let from_flag = routes(&[
        "path=/github/*,header.X-GitHub-Event=ping,respond=200,respond.header.X-A=b,respond.body=pong",
    ]);
    let file: Vec<_> = from_file.unwrap().routes;
    assert_eq!(file, from_flag.unwrap().routes);
    let port: toml::Table = toml::from_str("forward = 4000\nmethod = \"POST\"").unwrap();
    let r = build(&[from_table(&port).unwrap()], "route", &Registry::builtin()).unwrap();
    assert_eq!(
        r.routes[0].action,
        Action::Forward(Target::parse("4000").unwrap())
    );
    let bad: toml::Table = toml::from_str("forward = true").unwrap();
    assert_eq!(
        from_table(&bad).unwrap_err(),
        "forward: expected a string, not a boolean"
    );
}

#[test]
fn bad_routes_are_refused_with_the_route_named() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["event=a"],
            "--route 1: no action: give forward=URL or respond=STATUS",
        ),
        (
            &["event=a,forward=4000,respond=200"],
            "--route 1: two actions: give forward or respond, not both",
        ),
        (
            &["forward=4000", "name=late,event=a,forward=5000"],
            "--route 2 (\"late\") can never match: --route 1 before it takes every delivery it would",
        ),
        (
            &["event=a,forward=4000", "event=a,forward=5000"],
            "--route 2 can never match: --route 1 before it takes every delivery it would",
        ),
        (
            &["forward=http://127.0.0.1:99999"],
            "--route 1: forward http://127.0.0.1:99999: invalid port \"99999\": expected 1 to 65535",
        ),
        (
            &["forward=https://x:1"],
            "--route 1: forward https://x:1: https local",
        ),
        (
            &["respond=600"],
            "--route 1: status \"600\": expected 100 to 599",
        ),
        (
            &["respond=99"],
            "--route 1: status \"99\": expected 100 to 599",
        ),
        (
            &["method=PO ST,forward=1"],
            "--route 1: method \"PO ST\" can never match",
        ),
        (
            &["path=github/*,forward=1"],
            "--route 1: path \"github/*\" can never match",
        ),
        (
            &["event=,forward=1"],
            "--route 1: event \"\": give an event type or a glob",
        ),
        (
            &["provider=strpe,forward=1"],
            "--route 1: provider: unknown provider \"strpe\"",
        ),
        (
            &["colour=red,forward=1"],
            "--route 1: unknown key \"colour\"; the keys are name",
        ),
        (
            &["event=a,event=b,forward=1"],
            "--route 1: event is given twice",
        ),
        (
            &["header.a b=x,forward=1"],
            "--route 1: header.a b: \"a b\" is not a header name",
        ),
        (
            &["respond.header.Content-Length=1"],
            "hookhole sets it from the body",
        ),
        (
            &["name=\u{1b}[2J,forward=1"],
            "--route 1 (\"\\u{1b}[2J\"): name",
        ),
        (&["event"], "expected key=value, got \"event\""),
        (
            &["name=a,event=x,forward=1", "name=a,event=y,forward=1"],
            "--route 2 (\"a\"): --route 1 has the same name",
        ),
    ];
    for (flags, want) in cases {
        let error = routes(flags).unwrap_err();
        assert!(
            error.starts_with(want) || error.contains(want),
            "{flags:?}: {error}"
        );
        assert!(!error.contains('\n'), "{error}");
    }
}

#[test]
fn a_label_shows_its_name_or_its_number() {
    let numbered = Label {
        number: 2,
        name: None,
    };
    let named = Label {
        number: 1,
        name: Some("orders".into()),
    };
    assert_eq!(serde_json::to_string(&numbered).unwrap(), "2");
    assert_eq!(serde_json::to_string(&named).unwrap(), "\"orders\"");
    assert_eq!(numbered.to_string(), "route 2");
    assert_eq!(named.to_string(), "orders");
}
