//! Keys and the mouse, mapped to messages: a pure function of the event
//! and the mode, so what a key does is decided in one place ([`keys::KEYS`])
//! and every change happens in `App::update`.

use super::app::{App, FilterEdit, Focus, Mode, Msg};
use super::keys;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};

/// The message for a key in `mode`, if it means anything there.
pub fn key(mode: &Mode, key: KeyEvent) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    // Ctrl-C quits from anywhere, the filter prompt and help included.
    if keys::quits(key.code, key.modifiers) {
        return Some(Msg::Act(keys::Action::Quit));
    }
    match mode {
        Mode::Help => Some(Msg::CloseHelp),
        Mode::Filtering(_) => Some(Msg::Filter(match key.code {
            KeyCode::Enter => FilterEdit::Apply,
            KeyCode::Esc => FilterEdit::Cancel,
            KeyCode::Backspace => FilterEdit::Erase,
            KeyCode::Char(c) => FilterEdit::Type(c),
            _ => return None,
        })),
        Mode::Browsing => keys::action(key.code, key.modifiers).map(Msg::Act),
    }
}

/// The message for a mouse event: a click selects a list row or focuses a
/// pane, the wheel scrolls the pane under it.
pub fn mouse(app: &App, mouse: MouseEvent) -> Option<Msg> {
    let areas = app.areas();
    let inside = |r: ratatui::layout::Rect| {
        mouse.column >= r.x
            && mouse.column < r.x + r.width
            && mouse.row >= r.y
            && mouse.row < r.y + r.height
    };
    let pane = if inside(areas.list) {
        Focus::List
    } else if inside(areas.detail) {
        Focus::Detail
    } else {
        // The wheel elsewhere moves the selection, as before.
        Focus::List
    };
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) if inside(areas.list) => Some(Msg::Click {
            pane,
            // Rows start below the border and the column header.
            row: mouse
                .row
                .checked_sub(areas.list.y + 2)
                .map(|row| app.offset + usize::from(row)),
        }),
        MouseEventKind::Down(MouseButton::Left) if inside(areas.detail) => {
            Some(Msg::Click { pane, row: None })
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let lines = if pane == Focus::Detail { 3 } else { 1 };
            let delta = if mouse.kind == MouseEventKind::ScrollDown {
                lines
            } else {
                -lines
            };
            Some(Msg::Scroll { pane, delta })
        }
        _ => None,
    }
}
