//! Whole screens drawn on a test backend, compared with reviewed snapshots
//! (`cargo insta review` after a deliberate change).

use super::app::{App, Msg};
use super::fixtures::{self, T0};
use super::ui::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|frame| render(app, frame)).unwrap();
    terminal.backend().to_string()
}

fn app(width: u16, height: u16, with_deliveries: bool) -> App {
    let mut app = App::new(0, false);
    app.update(Msg::Resize(width, height));
    app.update(Msg::Tick(T0 + 9_000));
    app.update(Msg::Engine(fixtures::ready()));
    if with_deliveries {
        for event in fixtures::every_badge() {
            app.update(Msg::Engine(event));
        }
    }
    app.rebuild_detail();
    app
}

fn press(app: &mut App, code: KeyCode) {
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
        },
    )));
    app.update(Msg::Notice("replay failed: \x1b[2J\u{9b}H".into()));
    press(&mut app, KeyCode::Char('1'));
    let request = screen(&app);
    assert_eq!(raw_controls(&request), []);
    assert!(request.contains(r"clip = \x1b]52;c;ZWNobyBwd25lZA==\x07"));
    assert!(request.contains(r"row = \r\n12:00:09 POST /pay 200 ✓ valid"));
    assert!(request.contains(r"/pay\u{9b}31m\u{85}"));
    assert!(request.contains(r"invoice\u{202e}fdp.exe\u{2066}"));
    insta::assert_snapshot!("hostile_request", request);
    press(&mut app, KeyCode::Char('2'));
    let response = screen(&app);
    assert_eq!(raw_controls(&response), []);
    assert!(response.contains(r"\u202edilav ✓"), "JSON views stay JSON");
    insta::assert_snapshot!("hostile_response", response);
}
