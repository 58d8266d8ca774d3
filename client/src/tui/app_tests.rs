//! `App::update` for every key and event, without a terminal.

use super::*;
use crate::delivery::{Kind, Outcome};
use crate::replay;
use crate::tui::fixtures::{self, T0};
use bytes::Bytes;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use hookhole_shared::signature::Status;

fn app() -> App {
    let mut app = App::new(0, false);
    app.update(Msg::Resize(120, 40));
    app.update(Msg::Tick(T0));
    app.update(Msg::Engine(fixtures::ready()));
    for event in fixtures::every_badge() {
        app.update(Msg::Engine(event));
    }
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Command> {
    key(app, KeyCode::Char(c))
}

fn selected(app: &App) -> String {
    app.selected.clone().unwrap_or_default()
}

#[test]
fn deliveries_appear_and_the_selection_stays_put() {
    let mut app = app();
    assert_eq!(app.records.len(), 6);
    assert_eq!(selected(&app), "d0001", "the first delivery is selected");
    app.update(Msg::Engine(fixtures::delivery(
        7,
        "/x",
        Ok(200),
        Status::Valid,
        b"{}",
    )));
    assert_eq!(
        selected(&app),
        "d0001",
        "new deliveries do not move the selection"
    );
    ch(&mut app, 'F');
    assert_eq!(app.follow, Follow::Newest);
    assert_eq!(selected(&app), "d0007", "F jumps to the newest");
    app.update(Msg::Engine(fixtures::delivery(
        8,
        "/y",
        Ok(200),
        Status::Valid,
        b"{}",
    )));
    assert_eq!(selected(&app), "d0008", "follow mode tracks new deliveries");
}

#[test]
fn movement_keys() {
    let mut app = app();
    ch(&mut app, 'j');
    assert_eq!(selected(&app), "d0002");
    key(&mut app, KeyCode::Down);
    assert_eq!(selected(&app), "d0003");
    ch(&mut app, 'k');
    key(&mut app, KeyCode::Up);
    assert_eq!(selected(&app), "d0001");
    key(&mut app, KeyCode::Up);
    assert_eq!(selected(&app), "d0001", "stops at the top");
    ch(&mut app, 'G');
    assert_eq!(selected(&app), "d0006");
    ch(&mut app, 'g');
    assert_eq!(selected(&app), "d0001");
    key(&mut app, KeyCode::PageDown);
    assert_eq!(selected(&app), "d0006", "a page is more than six rows here");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(selected(&app), "d0001");
}

#[test]
fn focus_tabs_and_detail_scrolling() {
    let mut app = app();
    assert_eq!((app.focus, app.tab), (Focus::List, Tab::Request));
    assert!(app.detail[0].starts_with("POST https://hooks.example.com/dev/webhooks/stripe"));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Response);
    assert_eq!(app.detail[2], "200 OK");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Request);
    ch(&mut app, '3');
    assert_eq!(app.tab, Tab::Signature);
    assert!(app.detail[1].contains("✓ valid"));
    ch(&mut app, '4');
    assert!(app.detail[0].starts_with("#1   original"));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.focus, Focus::Detail);
    ch(&mut app, '1');
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    assert_eq!(
        app.detail_scroll, 2,
        "j scrolls the detail pane when it has focus"
    );
    assert_eq!(selected(&app), "d0001", "and does not move the selection");
    ch(&mut app, 'g');
    assert_eq!(app.detail_scroll, 0);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Focus::List);
}

#[test]
fn filter_matches_path_method_status_scheme_signature_and_body() {
    let mut app = app();
    ch(&mut app, '/');
    for c in "github".chars() {
        ch(&mut app, c);
    }
    assert_eq!(app.visible.len(), 6, "typing does not filter until Enter");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.visible.len(), 1);
    assert_eq!(
        selected(&app),
        "d0004",
        "the selection moves into the filtered list"
    );
    for (filter, expected) in [
        ("expired", 1),
        ("400", 1),
        ("POST", 6),
        ("amount", 5),
        ("local_unreachable", 1),
        ("nothing-matches", 0),
    ] {
        key(&mut app, KeyCode::Esc);
        ch(&mut app, '/');
        for c in filter.chars() {
            ch(&mut app, c);
        }
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.visible.len(), expected, "{filter}");
    }
    key(&mut app, KeyCode::Esc);
    assert!(app.filter.is_empty(), "Esc clears the filter");
    assert_eq!(app.visible.len(), 6);
    ch(&mut app, '/');
    ch(&mut app, 'x');
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Esc);
    assert!(
        app.mode == Mode::Browsing && app.filter.is_empty(),
        "Esc cancels typing"
    );
}

#[test]
fn failed_only_shows_errors_non_2xx_and_bad_signatures() {
    let mut app = app();
    ch(&mut app, 'f');
    let ids: Vec<String> = app
        .visible
        .iter()
        .map(|&i| app.records[i].id.clone())
        .collect();
    assert_eq!(
        ids,
        ["d0002", "d0006"],
        "400 + invalid, and unreachable + malformed"
    );
    ch(&mut app, 'f');
    assert_eq!(app.visible.len(), 6);
}

#[test]
fn replays_are_pending_then_complete() {
    let mut app = app();
    let commands = ch(&mut app, 'r');
    let [Command::Replay(request)] = commands.as_slice() else {
        panic!("expected one replay, got {commands:?}");
    };
    assert_eq!(
        (request.id.as_str(), request.number, &request.mode),
        ("d0001", 2, &replay::Mode::AsIs)
    );
    assert_eq!(request.request.path, "/webhooks/stripe");
    assert_eq!(app.records[0].attempts[1].outcome, Outcome::Pending);
    let answered = Outcome::Answered {
        status: 500,
        headers: vec![],
        body: Bytes::new(),
    };
    app.update(Msg::ReplayDone {
        id: "d0001".into(),
        attempt: Attempt {
            duration_ms: Some(7),
            ..Attempt::new(Kind::Replay, 2, 0, answered)
        },
    });
    assert_eq!(app.records[0].attempts.len(), 2);
    assert!(
        app.records[0].failed(),
        "the row's status is the last attempt's"
    );
    let commands = ch(&mut app, 'R');
    assert!(
        matches!(commands.as_slice(), [Command::Replay(r)] if r.mode == replay::Mode::Resigned && r.scheme.as_deref() == Some("stripe"))
    );
}

/// `R` without a secret: the runtime refuses it, the pending attempt goes,
/// the delivery keeps its state (not counted failed), and the status line
/// says which `--secret` would work.
#[test]
fn a_refused_resign_leaves_the_delivery_as_it_was() {
    let mut app = app();
    let before = (app.records[0].attempts.clone(), app.failed_count());
    assert!(!app.records[0].failed());
    let commands = ch(&mut app, 'R');
    let [Command::Replay(replay)] = commands.as_slice() else {
        panic!("expected one replay, got {commands:?}");
    };
    let number = replay.number;
    assert_eq!(app.records[0].attempts.len(), before.0.len() + 1);
    app.update(Msg::ReplayRefused {
        id: "d0001".into(),
        number,
        reason: "not re-signed: no secret configured for stripe: pass --secret stripe=...".into(),
    });
    assert_eq!(
        (app.records[0].attempts.clone(), app.failed_count()),
        before
    );
    ch(&mut app, 'f');
    assert!(
        !app.visible.iter().any(|&i| app.records[i].id == "d0001"),
        "not in the failed filter"
    );
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|(n, _)| n.contains("--secret stripe=")),
        "{:?}",
        app.notice
    );
}

#[test]
fn edit_copy_help_and_quit() {
    let mut app = app();
    let commands = ch(&mut app, 'e');
    assert!(matches!(commands.as_slice(), [Command::Edit { id, .. }] if id == "d0001"));
    let edited = Edited {
        method: "POST".into(),
        path: "/webhooks/stripe".into(),
        query: None,
        headers: vec![],
        body: Bytes::from_static(b"{}"),
    };
    let commands = app.update(Msg::Edited {
        id: "d0001".into(),
        result: Ok(edited),
    });
    assert!(
        matches!(commands.as_slice(), [Command::Replay(r)] if matches!(&r.mode, replay::Mode::Edited(e) if e.body.as_ref() == b"{}"))
    );
    app.update(Msg::Edited {
        id: "d0001".into(),
        result: Err("the file was emptied".into()),
    });
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|(n, _)| n.contains("emptied"))
    );

    let commands = ch(&mut app, 'c');
    assert!(
        matches!(commands.as_slice(), [Command::Copy { text, .. }] if text.contains("-X 'POST' \\\n  --request-target '/webhooks/stripe'") && text.ends_with("'http://127.0.0.1:3000/'"))
    );
    let commands = ch(&mut app, 'y');
    assert!(
        matches!(commands.as_slice(), [Command::Copy { what: "body", text }] if text.contains("evt_1"))
    );

    ch(&mut app, '?');
    assert_eq!(app.mode, Mode::Help);
    assert!(ch(&mut app, 'q').is_empty(), "a key closes help first");
    assert_eq!(app.mode, Mode::Browsing);
    assert_eq!(ch(&mut app, 'q'), vec![Command::Quit]);
    let mut other = self::app();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(other.update(Msg::Key(ctrl_c)), vec![Command::Quit]);
    ch(&mut other, '/');
    ch(&mut other, 'q');
    assert_eq!(other.mode, Mode::Filtering("q".into()), "q is typed");
    assert_eq!(
        other.update(Msg::Key(ctrl_c)),
        vec![Command::Quit],
        "Ctrl-C quits while typing a filter"
    );
}

#[test]
fn mouse_selects_and_scrolls() {
    let mut app = app();
    let list = app.areas().list;
    let click = |row: u16| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: list.x + 5,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    app.update(click(list.y + 2 + 2));
    assert_eq!(selected(&app), "d0003", "the third row");
    app.update(click(list.y + 2 + 40));
    assert_eq!(
        selected(&app),
        "d0003",
        "a click below the rows changes nothing"
    );
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: list.x + 5,
        row: list.y + 3,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(selected(&app), "d0004");
}

#[test]
fn the_link_state_is_the_truth() {
    let mut app = app();
    assert_eq!(app.link.state, Connection::Connected);
    app.update(Msg::Tick(T0 + 10_000));
    app.update(Msg::Engine(fixtures::reconnecting()));
    assert_eq!(app.link.state, Connection::Reconnecting);
    assert_eq!(app.link.retry_at_ms, Some(T0 + 12_000));
    app.update(Msg::Engine(Event::Listeners {
        count: 3,
        answer: Default::default(),
    }));
    assert_eq!(app.link.listeners, 3);
    app.update(Msg::Tick(T0 + 20_000));
    app.update(Msg::Engine(Event::Heartbeat));
    assert_eq!(app.link.last_heard_ms, Some(T0 + 20_000));
}

#[test]
fn ten_thousand_deliveries_stay_bounded_and_selectable() {
    let mut app = App::new(0, false);
    app.update(Msg::Resize(80, 24));
    for n in 0..10_000 {
        app.update(Msg::Engine(fixtures::delivery(
            n,
            "/bulk",
            Ok(200),
            Status::Valid,
            b"{}",
        )));
    }
    assert_eq!(app.visible.len(), 10_000);
    ch(&mut app, 'G');
    assert_eq!(selected(&app), "d9999");
    assert!(
        app.offset + app.areas().list_rows() >= 10_000,
        "the list scrolled to the end"
    );
    for n in 10_000..(MAX_RECORDS as u64 + 10) {
        app.update(Msg::Engine(fixtures::delivery(
            n,
            "/bulk",
            Ok(200),
            Status::Valid,
            b"{}",
        )));
    }
    assert!(app.records.len() <= MAX_RECORDS, "memory stays bounded");
    assert!(app.record("d0000").is_none(), "the oldest were dropped");
}

/// Large webhooks: the count limit alone would let the UI hold gigabytes.
#[test]
fn large_bodies_are_kept_within_the_byte_budget() {
    let mut app = app();
    let body = vec![b'x'; 4 << 20];
    let n = (MAX_HELD / body.len() + 10) as u64;
    for i in 1000..1000 + n {
        app.update(Msg::Engine(fixtures::delivery(
            i,
            "/big",
            Ok(200),
            Status::Valid,
            &body,
        )));
    }
    let held: usize = app.records.iter().map(|r| r.held_bytes()).sum();
    assert!(held <= MAX_HELD, "{held} bytes held");
    assert!(app.record("d0001").is_none(), "the oldest were dropped");
    assert!(app.record("d1000").is_none(), "the oldest were dropped");
    let newest = format!("d{:04}", 1000 + n - 1);
    assert!(app.record(&newest).is_some(), "the newest is kept");
    assert!(
        app.record(&selected(&app)).is_some(),
        "the selection is a kept delivery"
    );
}

#[test]
fn p_plays_the_providers_retries_and_x_cancels_the_countdown() {
    let mut app = app();
    app.update(Msg::Engine(fixtures::malomo(7, 1, 40)));
    app.update(Msg::Act(Action::Last));
    assert_eq!(selected(&app), "d0007");
    // Nothing scheduled: `x` says so and asks nothing.
    assert!(ch(&mut app, 'x').is_empty());
    let commands = ch(&mut app, 'p');
    let [Command::PlayRetries(plan)] = commands.as_slice() else {
        panic!("{commands:?}");
    };
    assert_eq!(plan.replay.id, "d0007");
    assert_eq!(plan.replay.number, 2, "after the first attempt");
    assert_eq!(plan.recorded.facts.provider, "malomo");
    assert_eq!(plan.recorded.facts.attempt, Some(1));
    // The retrier schedules one: the selection counts down to it.
    app.update(Msg::Engine(Event::RetryScheduled {
        id: "d0007".into(),
        attempt: 2,
        provider_attempt: 2,
        in_ms: 12_000,
    }));
    assert_eq!(
        app.retry_countdown().as_deref(),
        Some("next retry (attempt 2) in 12 s; x cancels")
    );
    app.update(Msg::Tick(T0 + 2_500));
    assert_eq!(
        app.retry_countdown().as_deref(),
        Some("next retry (attempt 2) in 10 s; x cancels")
    );
    assert_eq!(
        ch(&mut app, 'x'),
        vec![Command::CancelRetries("d0007".into())]
    );
    app.update(Msg::Engine(Event::RetriesEnded {
        id: "d0007".into(),
        why: crate::retries::Ended::Cancelled,
        provider_attempts: 1,
        message: "retries cancelled before attempt 2".into(),
        then: None,
    }));
    assert_eq!(app.retry_countdown(), None);
    assert!(app.notice.as_ref().unwrap().0.contains("cancelled"));
    // A delivery no provider claims has no retries to play.
    app.update(Msg::Act(Action::First));
    assert!(ch(&mut app, 'p').is_empty());
    assert!(app.notice.as_ref().unwrap().0.contains("no provider"));
}

#[test]
fn a_retry_made_is_added_to_its_delivery() {
    let mut app = app();
    app.update(Msg::Engine(fixtures::malomo(7, 1, 40)));
    let Event::Delivery(first) = fixtures::malomo(7, 2, 40) else {
        unreachable!()
    };
    let made = Attempt::new(Kind::Retry, 2, T0, Outcome::Pending);
    app.update(Msg::Engine(Event::Retried(Box::new(
        crate::events::RetriedEvent {
            delivery: *first,
            kind: Kind::Retry,
            made,
        },
    ))));
    let kinds: Vec<Kind> = app
        .record("d0007")
        .unwrap()
        .attempts
        .iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, [Kind::Original, Kind::Retry]);
    assert_eq!(app.records.len(), 7, "no new row");
}
