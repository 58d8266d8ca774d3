//! Whole screens drawn on a test backend, compared with reviewed snapshots
//! (`cargo insta review` after a deliberate change).

use super::app::{App, Msg};
use super::fixtures::{self, T0};
use super::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub(super) fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|frame| render(app, frame)).unwrap();
    terminal.backend().to_string()
}

pub(super) fn app(width: u16, height: u16, with_deliveries: bool) -> App {
    let mut app = App::new(0, false);
    app.update(Msg::Resize(width, height));
    app.update(Msg::Tick(T0 + 9_000));
    app.update(Msg::Engine(fixtures::ready()));
    if with_deliveries {
        for event in fixtures::every_badge() {
            app.update(Msg::Engine(event));
        }
    }
    app
}

pub(super) fn press(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn empty() {
    insta::assert_snapshot!(screen(&app(100, 20, false)));
}

#[test]
fn list_with_every_badge() {
    insta::assert_snapshot!(screen(&app(120, 30, true)));
}

#[test]
fn each_detail_tab() {
    let mut app = app(120, 30, true);
    press(&mut app, KeyCode::Char('j'));
    for (n, name) in [
        ('1', "request"),
        ('2', "response"),
        ('3', "signature"),
        ('4', "attempts"),
    ] {
        press(&mut app, KeyCode::Char(n));
        insta::assert_snapshot!(format!("tab_{name}"), screen(&app));
    }
}

#[test]
fn failed_delivery_response_and_filter_typing() {
    let mut app = app(120, 30, true);
    press(&mut app, KeyCode::Char('G'));
    press(&mut app, KeyCode::Char('2'));
    insta::assert_snapshot!("local_server_down", screen(&app));
    press(&mut app, KeyCode::Char('/'));
    for c in "stripe".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    insta::assert_snapshot!("filter_typing", screen(&app));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('f'));
    insta::assert_snapshot!("filter_and_failed_only", screen(&app));
}

#[test]
fn help_popup() {
    let mut app = app(120, 30, true);
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn narrow_terminal() {
    insta::assert_snapshot!(screen(&app(40, 12, true)));
}

#[test]
fn reconnecting_status() {
    let mut app = app(100, 12, true);
    app.update(Msg::Engine(fixtures::reconnecting()));
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn refused_before_the_relay_gave_a_url() {
    let mut app = App::new(0, false).forwarding_to("http://127.0.0.1:3000".into());
    app.update(Msg::Resize(100, 8));
    app.update(Msg::Tick(T0));
    app.update(Msg::Engine(fixtures::refused()));
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn huge_terminal_and_huge_body_draw() {
    let big = vec![b'x'; 10 * 1024 * 1024];
    let mut app = app(300, 100, true);
    app.update(Msg::Engine(fixtures::delivery(
        7,
        "/big",
        Ok(200),
        hookhole_shared::signature::Status::Valid,
        &big,
    )));
    press(&mut app, KeyCode::Char('G'));
    let text = screen(&app);
    assert!(text.contains("10.0 MiB"), "the size is shown");
    assert!(
        app.detail
            .iter()
            .any(|l| l.contains("more bytes not shown")),
        "the body is bounded"
    );
}

/// Hidden characters on screen: anything but printable text and newlines.
fn raw_controls(screen: &str) -> Vec<char> {
    screen
        .chars()
        .filter(|&c| c != '\n' && hookhole_shared::printable::is_hidden(c))
        .collect()
}

#[test]
fn hostile_text_is_drawn_escaped() {
    let mut app = app(120, 30, false);
    app.update(Msg::Engine(fixtures::hostile()));
    app.update(Msg::Engine(crate::events::Event::Connection(
        crate::events::ConnectionEvent {
            state: crate::events::LinkState::Reconnecting,
            reason: Some("closed: \x1b]0;relay title\x07\u{202e}".into()),
            retry_in_ms: Some(1000),
            listeners: None,
            relay: Some("http://a\x1b[2J".into()),
            next_relay: Some("http://b\x1b[2J".into()),
            public_url: None,
            answer: None,
        },
    )));
    app.update(Msg::Notice("replay failed: \x1b[2J\u{9b}H".into()));
    press(&mut app, KeyCode::Char('1'));
    let request = screen(&app);
    assert_eq!(raw_controls(&request), Vec::<char>::new());
    assert!(request.contains(r"clip = \x1b]52;c;ZWNobyBwd25lZA==\x07"));
    assert!(request.contains(r"row = \r\n12:00:09 POST /pay 200 ✓ valid"));
    assert!(request.contains(r"/pay\u{9b}31m\u{85}"));
    assert!(request.contains(r"invoice\u{202e}fdp.exe\u{2066}"));
    insta::assert_snapshot!("hostile_request", request);
    press(&mut app, KeyCode::Char('2'));
    let response = screen(&app);
    assert_eq!(raw_controls(&response), Vec::<char>::new());
    assert!(response.contains(r"\u202edilav ✓"), "JSON views stay JSON");
    insta::assert_snapshot!("hostile_response", response);
}

/// Before the first delivery, at the smallest size people use: the URL
/// to send to, whole, and a command that sends one.
#[test]
fn empty_at_80x24() {
    let text = screen(&app(80, 24, false));
    assert!(text.contains("    https://hooks.example.com/dev "));
    assert!(text.contains("curl -d '{}' https://hooks.example.com/dev/webhooks/test"));
    insta::assert_snapshot!(text);
}

/// A relay URL and a forward target as long as real ones, at 80x24: the
/// brand and the spacing give way, the URL and `:3000` stay whole, and the
/// hints drop whole from the end with `…`, keeping `? help` last.
#[test]
fn header_and_hints_at_80x24() {
    // A relay-assigned channel is 26 characters.
    let url = "https://hooks.example.com/c/abcdefghijklmnopqrstuvwxyz";
    let mut app = listening_at(url, true);
    press(&mut app, KeyCode::Char('F'));
    let text = screen(&app);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(&format!("{url} → http://127.0.0.1:3000")));
    assert!(
        lines[23]
            .trim_end_matches([' ', '"'])
            .ends_with("F follow …  ? help")
    );
    assert!(!text.contains("R re-si"));
    insta::assert_snapshot!(text);

    app.update(Msg::Engine(fixtures::reconnecting()));
    let text = screen(&app);
    let state = text.lines().nth(1).unwrap_or_default();
    assert!(state.contains('…'), "a long reason is cut: {state}");
    assert!(
        state.contains("6 deliveries"),
        "the counts that matter stay: {state}"
    );
    insta::assert_snapshot!("header_at_80x24_reconnecting", text);
}

/// Listening at `url`, forwarding to port 3000, at 80x24.
fn listening_at(url: &str, with_deliveries: bool) -> App {
    let mut app = App::new(0, false);
    app.update(Msg::Resize(80, 24));
    app.update(Msg::Tick(T0 + 9_000));
    app.update(Msg::Engine(crate::events::Event::Ready {
        public_url: url.into(),
        channel: "c".into(),
        listeners: 1,
        forward: "http://127.0.0.1:3000".into(),
        relay: url.rsplit_once('/').map_or(url, |(relay, _)| relay).into(),
        answer: Default::default(),
    }));
    if with_deliveries {
        for event in fixtures::every_badge() {
            app.update(Msg::Engine(event));
        }
    }
    app
}

/// A URL too long to share the first line: the forward target leads the
/// second line, whole, and the URL keeps the first.
#[test]
fn a_long_url_moves_the_forward_target_down() {
    let url = "https://relay.hookhole.example.com/c/abcdefghijklmnopqrstuvwxyz";
    let text = screen(&listening_at(url, true));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(url), "{}", lines[0]);
    assert!(
        lines[1].starts_with("\" → http://127.0.0.1:3000 · ● connected"),
        "{}",
        lines[1]
    );
    insta::assert_snapshot!(text);
}

/// The hint bar and the help screen come from the key table: every key
/// of the table is named on the help screen with what it does, and the
/// hint bar is the table's hints in order.
#[test]
fn hints_and_help_are_the_key_table() {
    use super::keys::{self, KEYS};
    // At 80x24 the whole help screen fits, every row whole.
    let mut app = app(80, 24, true);
    press(&mut app, KeyCode::Char('?'));
    let help = screen(&app);
    for binding in KEYS {
        let row = help
            .lines()
            .find(|l| l.contains(binding.help))
            .unwrap_or_else(|| panic!("{:?} is not on the help screen", binding.help));
        for &(code, modifiers, _) in binding.keys {
            let name = keys::name(code, modifiers);
            assert!(row.contains(&name), "{name} is not on its help row: {row}");
        }
    }
    let wide = screen(&self::app(300, 40, true));
    let bar = wide.lines().last().unwrap_or_default();
    let expected: Vec<String> = keys::hints().collect();
    assert_eq!(bar.trim_matches([' ', '"']), expected.join("  "));
}

/// A URL too long for one line with the command: the command is split
/// with a `\` so it still pastes whole, never wrapped mid-word.
#[test]
fn empty_with_a_long_url_splits_the_command_where_the_shell_can() {
    let url = "http://127.0.0.1:42917/ru3d3w7fcm4ycm3qfo2j3geo3a";
    let text = screen(&listening_at(url, false));
    assert!(text.contains("    curl -d '{}' \\ "), "{text}");
    assert!(
        text.contains(&format!("      {url}/webhooks/test ")),
        "{text}"
    );
}

/// The engine's event on a link to `relay`, which gives `public_url`.
fn connected_to(relay: &str, public_url: &str) -> Msg {
    Msg::Engine(crate::events::Event::Connection(
        crate::events::ConnectionEvent {
            state: crate::events::LinkState::Connected,
            reason: None,
            retry_in_ms: None,
            listeners: Some(1),
            relay: Some(relay.into()),
            next_relay: None,
            public_url: Some(public_url.into()),
            answer: None,
        },
    ))
}

/// Moving to another relay: the status says where the next attempt goes,
/// the header follows the URL the new relay gives, and the relay is named
/// when that URL does not already say which one it is.
#[test]
fn the_status_follows_the_relay_the_client_moves_to() {
    let mut app = listening_at("https://a.example.com/c", false);
    let header = |app: &App| screen(app).lines().take(2).collect::<Vec<_>>().join("\n");
    assert!(
        header(&app).contains("● connected, heard"),
        "{}",
        header(&app)
    );
    app.update(Msg::Engine(crate::events::Event::Connection(
        crate::events::ConnectionEvent {
            state: crate::events::LinkState::Reconnecting,
            reason: Some("the relay went away: relay shutting down".into()),
            retry_in_ms: Some(0),
            listeners: None,
            relay: Some("https://a.example.com".into()),
            next_relay: Some("https://b.example.com".into()),
            public_url: None,
            answer: None,
        },
    )));
    assert!(
        header(&app).contains("○ reconnecting to https://b.example.com in 0 s: the"),
        "{}",
        header(&app)
    );
    app.update(connected_to(
        "https://b.example.com",
        "https://b.example.com/c",
    ));
    let text = header(&app);
    assert!(text.contains(" https://b.example.com/c  →  "), "{text}");
    assert!(text.contains("● connected, heard"), "{text}");
    // A cluster's node behind one public name: the node is named.
    app.update(connected_to(
        "https://node-2.internal:8443",
        "https://hooks.example.com/c",
    ));
    let text = header(&app);
    assert!(text.contains(" https://hooks.example.com/c  →  "), "{text}");
    assert!(
        text.contains("● connected to https://node-2.internal:8443, heard"),
        "{text}"
    );
    insta::assert_snapshot!("header_on_a_cluster_node", text);
}

/// A retry of a Malomo event, answered after Malomo's 10 s deadline: the
/// list shows its event type with `dup×2 late`, the detail pane its facts,
/// the first delivery's id and what Malomo would do next.
#[test]
fn duplicate_and_late_marks() {
    let mut app = app(120, 30, false);
    app.update(Msg::Engine(fixtures::malomo(1, 1, 40)));
    app.update(Msg::Engine(fixtures::malomo(2, 2, 11_002)));
    press(&mut app, KeyCode::Char('G'));
    let text = screen(&app);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("\"┃") && l.contains("orders:created"))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        !rows[0].contains("dup") && !rows[0].contains("late"),
        "{text}"
    );
    assert!(rows[1].contains("dup×2 late"), "{text}");
    for shown in [
        "Provider:  Malomo (malomo)",
        "Event id:  evt_1",
        "Attempt:   2",
        "Duplicate: of d0001 (seen 2 times)",
        "Deadline:  10 s: answered late",
        "Next:      Malomo would time out after 10 s and retry",
    ] {
        assert!(text.contains(shown), "{shown} in:\n{text}");
    }
    insta::assert_snapshot!(text);
    // At 80 columns the event type and the marks keep their place.
    app.update(Msg::Resize(80, 24));
    let text = screen(&app);
    assert!(text.contains("dup×2 late"), "{text}");
    assert!(text.contains("orders:c"), "{text}");
}

/// The `/` filter finds deliveries by event type.
#[test]
fn the_filter_matches_the_event_type() {
    let mut app = app(120, 30, true);
    app.update(Msg::Engine(fixtures::malomo(8, 1, 40)));
    press(&mut app, KeyCode::Char('/'));
    for c in "ORDERS:".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.visible.len(), 1);
    assert_eq!(app.selected.as_deref(), Some("d0008"));
}

/// An event type and id a sender chose are drawn escaped, in the list and
/// in the detail pane.
#[test]
fn a_hostile_event_type_is_drawn_escaped() {
    let mut app = app(120, 30, false);
    let mut event = fixtures::malomo(1, 2, 40);
    if let crate::events::Event::Delivery(d) = &mut event {
        let w = d.webhook.as_mut().unwrap();
        w.event_type = Some("order\x1b]0;pwned\x07.x".into());
        w.event_id = Some("id\u{202e}fdp.exe".into());
        w.duplicate_of = Some("d\x1b[2J".into());
    }
    app.update(Msg::Engine(event));
    let text = screen(&app);
    assert_eq!(raw_controls(&text), Vec::<char>::new(), "{text}");
    assert!(text.contains(r"order\x1b]0;pwned\x07.x"), "{text}");
    assert!(text.contains(r"id\u{202e}fdp.exe"), "{text}");
    assert!(text.contains(r"of d\x1b[2J"), "{text}");
}

/// The status bar names the answer mode in force when it is not `local`,
/// and follows the relay's `listeners` messages.
#[test]
fn the_status_bar_shows_the_answer_mode_in_force() {
    use hookhole_shared::protocol::Answer;
    let mut app = app(120, 20, false);
    let bar = |app: &App| screen(app).lines().last().unwrap_or_default().to_string();
    assert!(!screen(&app).contains("answer"), "{}", screen(&app));
    app.update(Msg::Engine(crate::events::Event::Listeners {
        count: 2,
        answer: Answer::Within { wait_ms: 5000 },
    }));
    assert!(
        screen(&app).contains("2 listeners · answer within=5s"),
        "{}",
        bar(&app)
    );
    app.update(Msg::Engine(crate::events::Event::Listeners {
        count: 1,
        answer: Answer::Local,
    }));
    assert!(!screen(&app).contains("answer"), "{}", screen(&app));
}
