//! Routes end to end (issue 20, point 1): a real relay, the real client and
//! two real local servers. Routes by event type, path and header send each
//! delivery to the right server; `respond` answers the sender without
//! forwarding and the history has it; `replay` follows the route the
//! delivery took unless `--forward` says otherwise; a bad route stops the
//! start with exit code 2 and one line naming it.

// The shared harness lives outside #[test] functions; a failed setup step
// should panic there too.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{self, hookhole, json_lines_of, run, stdout_of};
use common::*;
use serde_json::Value;

/// Maple's `order.notification` as its documentation shows it.
const MAPLE: &[u8] =
    include_bytes!("../../shared/tests/fixtures/samples/maple-order.notification.json");

/// Maple's headers, signed with a secret the listener does not have: the
/// verdict names Maple, whose rules read the event type.
fn maple_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/json"),
        ("maple-webhook-id", "wh_01"),
        ("maple-webhook-signature", "t=1765432100,v1=00ff"),
    ]
}

/// The issue's example, with a name on the first route and a third route
/// on a header alone.
fn config(orders: &str, other: &str) -> String {
    format!(
        r#"[listen]
forward = "{other}"

[[listen.route]]
name = "orders"
event = "order.*"
forward = "{orders}/orders"

[[listen.route]]
path = "/github/*"
header = {{ "X-GitHub-Event" = "ping" }}
respond = {{ status = 202, headers = {{ "X-Routed" = "pong" }}, body = "pong" }}

[[listen.route]]
header = {{ "X-Tenant" = "b*" }}
forward = "{orders}"
"#
    )
}

#[tokio::test]
async fn routes_send_each_delivery_to_its_server_or_answer_it_and_replays_follow_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut orders = TestTarget::echo().await;
    let mut other = TestTarget::echo().await;
    std::fs::write(
        dir.path().join("hookhole.toml"),
        config(&orders.url(), &other.url()),
    )
    .unwrap();
    let (relay, port) = process::relay(dir.path(), &dir.path().join("relay"), 0).await;
    let relay_url = format!("http://127.0.0.1:{port}");
    // `--forward` on the command line too: the file's routes still apply.
    let mut listener = process::headless(dir.path(), &relay_url, "routes", &other.url()).await;
    let hooks = format!("{relay_url}/routes");

    // By event type: Maple's order.notification goes to the orders server,
    // under the route's path.
    let sent = send("POST", &format!("{hooks}/maple"), &maple_headers(), MAPLE).await;
    assert_eq!(sent.status, 200);
    let got = orders.next_request().await;
    assert_eq!(got.target, "/orders/maple");
    assert_eq!(got.body, MAPLE, "the same bytes");
    let by_event = listener.wait_event("delivery").await;
    assert_eq!(by_event["route"], "orders", "{by_event}");

    // By path and header: answered by the route, forwarded nowhere.
    let ping = [("X-GitHub-Event", "ping")];
    let sent = send("POST", &format!("{hooks}/github/app"), &ping, b"{}").await;
    assert_eq!((sent.status, &sent.body[..]), (202, &b"pong"[..]));
    assert_eq!(sent.header("x-routed"), Some(&b"pong"[..]));
    let answered = listener.wait_event("delivery").await;
    assert_eq!(answered["route"], 2, "{answered}");
    assert_eq!(answered["status"], 202);

    // The same path with another event: no route, so `--forward`.
    let push = [("X-GitHub-Event", "push")];
    let sent = send("POST", &format!("{hooks}/github/app"), &push, b"push").await;
    assert_eq!(sent.status, 200);
    let got = other.next_request().await;
    assert_eq!(
        (got.target.as_str(), &got.body[..]),
        ("/github/app", &b"push"[..])
    );
    let unrouted = listener.wait_event("delivery").await;
    assert!(unrouted.get("route").is_none(), "{unrouted}");

    // By a header alone.
    let tenant = [("X-Tenant", "blue")];
    let sent = send("POST", &format!("{hooks}/t?x=1"), &tenant, b"tenant").await;
    assert_eq!(sent.status, 200);
    let got = orders.next_request().await;
    assert_eq!(
        (got.target.as_str(), &got.body[..]),
        ("/t?x=1", &b"tenant"[..])
    );
    let by_header = listener.wait_event("delivery").await;
    assert_eq!(by_header["route"], 3, "{by_header}");
    // Neither server saw the answered delivery: each got exactly its own.
    assert!(orders.requests.try_recv().is_err());
    assert!(other.requests.try_recv().is_err());

    listener.signal("INT");
    listener.exit().await;
    drop(relay);

    // The history has the route of each, the answer given by `respond`.
    let rows: Vec<Value> = json_lines_of(dir.path(), &["history", "--json"]).await;
    let routes: Vec<&Value> = rows.iter().map(|r| &r["route"]).collect();
    assert_eq!(
        routes,
        [
            &Value::from("orders"),
            &Value::from(2),
            &Value::Null,
            &Value::from(3)
        ]
    );
    assert_eq!(rows[1]["status"], 202);
    let answered_id = answered["id"].as_str().unwrap();
    let shown: Value =
        serde_json::from_str(&stdout_of(dir.path(), &["show", answered_id, "--json"]).await)
            .unwrap();
    assert_eq!(shown["route"], 2);
    assert_eq!(shown["attempts"][0]["status"], 202);
    assert_eq!(
        shown["attempts"][0]["response"]["body"]["text"], "pong",
        "{shown}"
    );
    let text = stdout_of(dir.path(), &["show", answered_id]).await;
    assert!(
        text.contains("route: route 2 answered without forwarding"),
        "{text}"
    );

    // Replays follow the route the delivery took...
    let event_id = by_event["id"].as_str().unwrap();
    stdout_of(dir.path(), &["replay", event_id]).await;
    let got = orders.next_request().await;
    assert_eq!(
        (got.target.as_str(), &got.body[..]),
        ("/orders/maple", MAPLE)
    );
    // ...unless `--forward` says otherwise.
    stdout_of(dir.path(), &["replay", event_id, "--forward", &other.url()]).await;
    let got = other.next_request().await;
    assert_eq!(got.target, "/maple");
    assert!(orders.requests.try_recv().is_err());
}

/// What `hookhole listen` says for a config file holding `routes` (and
/// `flags`): its exit code and stderr.
async fn refused(routes: &str, flags: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("[listen]\nforward = 3000\n{routes}");
    std::fs::write(dir.path().join("hookhole.toml"), file).unwrap();
    let mut cmd = hookhole(dir.path());
    cmd.args(["listen", "--no-tui"]).args(flags);
    let (code, _, stderr) = run(cmd).await;
    (code, stderr)
}

#[tokio::test]
async fn a_bad_route_stops_the_start_with_one_line_naming_it() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "[[listen.route]]\nevent = \"order.*\"\n",
            &[],
            "route 1: no action: give forward=URL or respond=STATUS",
        ),
        (
            "[[listen.route]]\nname = \"orders\"\nforward = \"http://127.0.0.1:99999\"\n",
            &[],
            "route 1 (\"orders\"): forward http://127.0.0.1:99999: invalid port",
        ),
        (
            "[[listen.route]]\nforward = 4000\n[[listen.route]]\npath = \"/x\"\nforward = 5000\n",
            &[],
            "route 2 can never match: route 1 before it takes every delivery it would",
        ),
        (
            "[[listen.route]]\npath = \"/x\"\nrespond = { status = 700 }\n",
            &[],
            "route 1: status \"700\": expected 100 to 599",
        ),
        (
            "[[listen.route]]\npaht = \"/x\"\nforward = 4000\n",
            &[],
            "route 1: unknown key \"paht\"",
        ),
        (
            "",
            &[
                "--route",
                "path=/a,forward=4000",
                "--route",
                "method=GE T,respond=200",
            ],
            "--route 2: method \"GE T\" can never match: not a method token",
        ),
        (
            "",
            &["--route", "event=[,forward=4000,respond=204"],
            "--route 1: two actions",
        ),
    ];
    for (routes, flags, want) in cases {
        let (code, stderr) = refused(routes, flags).await;
        assert_eq!(code, Some(2), "{routes}{flags:?}: {stderr}");
        assert!(stderr.contains(want), "{routes}{flags:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}
