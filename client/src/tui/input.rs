//! Keys and mouse, mapped onto the app: bindings users know from
//! mitmproxy, k9s and lazygit.

use super::app::{App, Command, Focus};
use super::model::Record;
use crate::replay::Mode;
use crate::target::Target;
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use hookhole_shared::protocol::Delivery;

pub fn key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl_c {
        app.quit = true;
        return vec![Command::Quit];
    }
    if app.help {
        app.help = false;
        return Vec::new();
    }
    if let Some(text) = app.editing.as_mut() {
        match key.code {
            KeyCode::Enter => {
                app.filter = app.editing.take().unwrap_or_default();
                app.refilter();
            }
            KeyCode::Esc => app.editing = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        return Vec::new();
    }
    let page = match app.focus {
        Focus::List => app.areas().list_rows().max(1) as isize,
        Focus::Detail => app.areas().detail_rows().max(1) as isize,
    };
    match key.code {
        KeyCode::Char('q') => {
            app.quit = true;
            return vec![Command::Quit];
        }
        KeyCode::Char('j') | KeyCode::Down => step(app, 1),
        KeyCode::Char('k') | KeyCode::Up => step(app, -1),
        KeyCode::PageDown => step(app, page),
        KeyCode::PageUp => step(app, -page),
        KeyCode::Char('g') | KeyCode::Home => match app.focus {
            Focus::List => app.select_row(0),
            Focus::Detail => app.detail_scroll = 0,
        },
        KeyCode::Char('G') | KeyCode::End => match app.focus {
            Focus::List => app.select_row(usize::MAX),
            Focus::Detail => app.detail_scroll = app.detail.len().saturating_sub(page as usize),
        },
        KeyCode::Enter => {
            app.focus = match app.focus {
                Focus::List => Focus::Detail,
                Focus::Detail => Focus::List,
            }
        }
        KeyCode::Tab => switch_tab(app, 1),
        KeyCode::BackTab => switch_tab(app, -1),
        KeyCode::Char(c @ '1'..='4') => {
            app.tab = super::app::Tab::ALL[(c as usize) - ('1' as usize)];
            app.detail_scroll = 0;
            app.rebuild_detail();
        }
        KeyCode::Esc => {
            if app.focus == Focus::Detail {
                app.focus = Focus::List;
            } else if !app.filter.is_empty() {
                app.filter.clear();
                app.refilter();
            }
        }
        KeyCode::Char('/') => app.editing = Some(app.filter.clone()),
        KeyCode::Char('f') => {
            app.failed_only = !app.failed_only;
            app.refilter();
        }
        KeyCode::Char('F') => {
            app.follow = !app.follow;
            if app.follow {
                app.select_row(usize::MAX);
            }
        }
        KeyCode::Char('?') => app.help = true,
        KeyCode::Char(c @ ('r' | 'R' | 'e' | 'c' | 'y')) => return act(app, c),
        _ => {}
    }
    Vec::new()
}

fn step(app: &mut App, delta: isize) {
    match app.focus {
        Focus::List => app.move_selection(delta),
        Focus::Detail => {
            let max = app.detail.len().saturating_sub(1) as isize;
            app.detail_scroll = (app.detail_scroll as isize + delta).clamp(0, max.max(0)) as usize;
        }
    }
}

fn switch_tab(app: &mut App, step: isize) {
    app.tab = app.tab.next(step);
    app.detail_scroll = 0;
    app.rebuild_detail();
}

/// Keys that act on the selected delivery.
fn act(app: &mut App, key: char) -> Vec<Command> {
    let Some(record) = app.selected_record() else {
        app.notify("no delivery selected");
        return Vec::new();
    };
    let id = record.id.clone();
    match key {
        'r' => app.replay(&id, Mode::AsIs),
        'R' => app.replay(&id, Mode::Resigned),
        'e' => vec![Command::Edit {
            id,
            request: Box::new(super::app::Edited {
                method: record.method.clone(),
                path: record.path.clone(),
                query: record.query.clone(),
                headers: record.headers.clone(),
                body: record.body.clone(),
            }),
        }],
        'c' => match copy_as_curl(record, &app.link.forward) {
            Ok(text) => vec![Command::Copy {
                what: "request as curl",
                text,
            }],
            Err(e) => {
                app.notify(format!("cannot copy as curl: {e}"));
                Vec::new()
            }
        },
        _ => vec![Command::Copy {
            what: "body",
            text: String::from_utf8_lossy(&record.body).into_owned(),
        }],
    }
}

/// The record as the curl command that sends the local server (the
/// listener's forward target) what the forwarder would send it.
fn copy_as_curl(record: &Record, forward: &str) -> Result<String, String> {
    let target =
        Target::parse(forward).map_err(|_| "the forward target is not known yet".to_string())?;
    let delivery = Delivery {
        id: record.id.clone(),
        seq: record.seq,
        received_at_ms: record.received_at_ms,
        method: record.method.clone(),
        path: record.path.clone(),
        query: record.query.clone(),
        headers: record.headers.clone(),
        body_sha256: String::new(),
        url: record.url.clone(),
        queued: false,
        body: record.body.clone(),
    };
    crate::present::curl::for_delivery(&target, &delivery).map_err(|e| e.to_string())
}

pub fn mouse(app: &mut App, mouse: MouseEvent) {
    let areas = app.areas();
    let inside = |r: ratatui::layout::Rect| {
        mouse.column >= r.x
            && mouse.column < r.x + r.width
            && mouse.row >= r.y
            && mouse.row < r.y + r.height
    };
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) if inside(areas.list) => {
            app.focus = Focus::List;
            // Rows start below the border and the column header.
            if let Some(row) = mouse.row.checked_sub(areas.list.y + 2) {
                let row = app.offset + usize::from(row);
                if row < app.visible.len() {
                    app.select_row(row);
                }
            }
        }
        MouseEventKind::Down(MouseButton::Left) if inside(areas.detail) => {
            app.focus = Focus::Detail
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let delta = if mouse.kind == MouseEventKind::ScrollDown {
                3
            } else {
                -3
            };
            if inside(areas.detail) {
                let before = app.focus;
                app.focus = Focus::Detail;
                step(app, delta);
                app.focus = before;
            } else {
                app.move_selection(delta.signum());
            }
        }
        _ => {}
    }
}
