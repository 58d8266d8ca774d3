//! The detail pane's lines about how a delivery went: the route that took
//! it, and what its sender heard when the relay answered it itself. Whole
//! screens, compared with reviewed snapshots.

use super::app::Msg;
use super::fixtures;
use super::ui_tests::{app, press, screen};
use crate::delivery::{RelayAnswered, SenderHeard};
use crate::events::Event;
use crossterm::event::KeyCode;
use hookhole_shared::signature::Status;

/// A delivery a named route sent to its own server: the Route line names
/// the route, its number and where it went.
#[test]
fn a_named_route_in_the_detail_pane() {
    let mut app = app(120, 30, false);
    let mut event = fixtures::delivery(1, "/orders/new", Ok(201), Status::Valid, b"{}");
    if let Event::Delivery(d) = &mut event {
        d.route = Some(crate::route::Label {
            number: 1,
            name: Some("orders".into()),
        });
        d.target = Some("http://127.0.0.1:4000".into());
    }
    app.update(Msg::Engine(event));
    press(&mut app, KeyCode::Char('G'));
    let text = screen(&app);
    assert!(
        text.contains("Route:     orders (route 1) -> http://127.0.0.1:4000"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

/// Malomo's delivery answered `500` locally after 11 s, past its 10 s
/// deadline, under `within=1s`: Malomo heard the relay's `202` after 1 s,
/// so the pane says so, judges it in time and names no next step.
#[test]
fn the_sender_heard_the_relay_in_the_detail_pane() {
    let mut app = app(120, 30, false);
    let heard = SenderHeard::Relay {
        status: 202,
        why: RelayAnswered::AnswerWithin {
            wait_ms: Some(1000),
        },
    };
    app.update(Msg::Engine(fixtures::relay_answered(1, 500, 11_002, heard)));
    press(&mut app, KeyCode::Char('G'));
    let text = screen(&app);
    for shown in [
        "Sender heard: 202 from the relay (answer mode within=1s: the local answer came after 1s)",
        "Deadline:  10 s: answered in time",
    ] {
        assert!(text.contains(shown), "{shown} in:\n{text}");
    }
    assert!(!text.contains("Next:"), "{text}");
    let row = text.lines().find(|l| l.contains("orders:created")).unwrap();
    assert!(!row.contains("late"), "{text}");
    insta::assert_snapshot!(text);
}
