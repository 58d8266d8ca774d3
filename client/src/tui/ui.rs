//! Drawing: a pure function of the app state. Meaning never rests on colour
//! alone: badges carry a symbol and a word, the selection is reversed, the
//! focused pane has a thick border.
//!
//! Text from a sender or the relay (paths, methods, URLs, reasons, notices,
//! the filter) goes through [`shown`] before it becomes a widget; the detail
//! pane's lines are escaped when they are built (`App::rebuild_detail`).

use super::app::{App, Focus, Tab};
use super::detail::clock;
use crate::delivery::Outcome;
use crate::output::count;
use crate::present::badge;
use crate::present::body::human_size;
use hookhole_shared::printable;
use hookhole_shared::signature::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

const HINTS: &str = "j/k move  Enter focus  Tab tab  / filter  f failed  F follow  r replay  R re-sign  e edit  c curl  y body  ? help  q quit";

const HELP: &[(&str, &str)] = &[
    ("j k ↑ ↓", "move in the list, or scroll the detail pane"),
    ("PgUp PgDn", "a page at a time"),
    ("g G", "first / last delivery"),
    ("Enter", "switch focus between list and detail"),
    (
        "Tab Shift-Tab 1-4",
        "Request, Response, Signature, Attempts",
    ),
    (
        "/",
        "filter: path, method, status, scheme, signature, body text",
    ),
    ("Esc", "leave the detail pane, or clear the filter"),
    ("f", "only failed (non-2xx, errors, invalid signatures)"),
    ("F", "follow the newest delivery"),
    ("r", "replay to the local server as it arrived"),
    ("R", "replay re-signed with a fresh timestamp"),
    ("e", "edit headers and body in $EDITOR, then replay"),
    ("c", "copy as a curl command (to the local server)"),
    ("y", "copy the body"),
    ("mouse", "click to select, wheel to scroll"),
    ("q Ctrl-C", "quit"),
];

/// Outside text as one line, hidden characters escaped (see
/// `hookhole_shared::printable`).
fn shown(text: &str) -> String {
    printable::line(text).into_owned()
}

fn style(app: &App, color: Color) -> Style {
    if app.color {
        Style::default().fg(color)
    } else {
        Style::default()
    }
}

fn status_color(status: Status) -> Color {
    match status {
        Status::Valid => Color::Green,
        Status::Invalid | Status::Malformed => Color::Red,
        Status::Expired => Color::Yellow,
        Status::Unsigned | Status::NoSecret => Color::Gray,
    }
}

fn pane(title: String, focused: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .title(title)
}

pub fn render(app: &App, frame: &mut Frame) {
    let areas = app.areas();
    status_bar(app, frame, areas.status);
    list(app, frame, areas.list);
    detail(app, frame, areas.detail);
    hints(app, frame, areas.hints);
    if app.help {
        help(frame, frame.area());
    }
}

fn status_bar(app: &App, frame: &mut Frame, area: Rect) {
    let link = &app.link;
    let url = match (link.public_url.is_empty(), link.failed) {
        (false, _) => link.public_url.as_str(),
        (true, false) => "connecting…",
        // Refused before the relay gave a URL: there is none to show.
        (true, true) => "not connected",
    };
    let mut first = vec![
        Span::styled(
            " hookhole ",
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(shown(url), Style::default().add_modifier(Modifier::BOLD)),
    ];
    if !link.forward.is_empty() {
        first.push(Span::raw(format!("  →  {}", shown(&link.forward))));
    }
    let first = Line::from(first);
    let state = if link.failed {
        format!("✗ refused: {}", link.reason.clone().unwrap_or_default())
    } else if link.connected {
        match link.last_heard_ms {
            Some(at) => format!(
                "● connected, heard {} s ago",
                app.now_ms.saturating_sub(at) / 1000
            ),
            None => "● connected".to_string(),
        }
    } else if link.public_url.is_empty() && link.reason.is_none() {
        "○ connecting".to_string()
    } else {
        let wait = link
            .retry_at_ms
            .map(|t| t.saturating_sub(app.now_ms).div_ceil(1000))
            .unwrap_or(0);
        format!(
            "○ reconnecting in {wait} s: {}",
            link.reason.clone().unwrap_or_default()
        )
    };
    let state_color = if link.connected {
        Color::Green
    } else if link.failed {
        Color::Red
    } else {
        Color::Yellow
    };
    let mut second = vec![
        Span::styled(format!(" {}", shown(&state)), style(app, state_color)),
        Span::raw(format!(
            " · {} · {} · {} failed",
            count(link.listeners as usize, "listener", "listeners"),
            count(app.records.len(), "delivery", "deliveries"),
            app.failed_count()
        )),
    ];
    if app.follow {
        second.push(Span::raw(" · following"));
    }
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}

fn outcome_cell(app: &App, outcome: Option<&Outcome>) -> Cell<'static> {
    match outcome {
        None | Some(Outcome::Pending) => Cell::from("… pending"),
        Some(Outcome::Answered { status, .. }) => {
            let color = if (200..300).contains(status) {
                Color::Green
            } else {
                Color::Red
            };
            Cell::from(status.to_string()).style(style(app, color))
        }
        Some(other) => {
            let code = other.error().map_or("", |(code, _)| code);
            Cell::from(format!("✗ {}", shown(code.trim_start_matches("local_"))))
                .style(style(app, Color::Red))
        }
    }
}

fn list(app: &App, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 70;
    let title = if app.failed_only || !app.filter.is_empty() {
        format!(
            " Deliveries {} of {} (filtered) ",
            app.visible.len(),
            app.records.len()
        )
    } else {
        format!(" Deliveries ({}) ", app.records.len())
    };
    let rows_shown = app.areas().list_rows();
    let selected = app.selected_row();
    let rows: Vec<Row> = app
        .visible
        .iter()
        .enumerate()
        .skip(app.offset)
        .take(rows_shown)
        .map(|(row, &pos)| {
            let r = &app.records[pos];
            let last = r.last();
            let path = match &r.query {
                Some(q) => format!("{}?{q}", r.path),
                None => r.path.clone(),
            };
            let mut cells = vec![
                Cell::from(clock(r.received_at_ms, app.utc_offset_s)),
                Cell::from(shown(&r.method)),
                Cell::from(shown(&path)),
                outcome_cell(app, last.map(|a| &a.outcome)),
            ];
            if wide {
                cells.push(Cell::from(
                    last.and_then(|a| a.duration_ms)
                        .map(|d| format!("{d} ms"))
                        .unwrap_or_default(),
                ));
            }
            cells.push(
                Cell::from(badge(r.verdict.status))
                    .style(style(app, status_color(r.verdict.status))),
            );
            if wide {
                cells.push(Cell::from(r.attempts.len().to_string()));
            }
            let row_widget = Row::new(cells);
            if Some(row) == selected {
                row_widget.style(Style::default().add_modifier(Modifier::REVERSED))
            } else {
                row_widget
            }
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec!["time", "method", "path", "status", "took", "signature", "#"],
            vec![
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Min(10),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Length(3),
            ],
        )
    } else {
        (
            vec!["time", "method", "path", "status", "signature"],
            vec![
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Min(3),
                Constraint::Length(5),
                Constraint::Length(11),
            ],
        )
    };
    let table = Table::new(rows, widths)
        .header(
            Row::new(header)
                .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)),
        )
        .block(pane(title, app.focus == Focus::List));
    frame.render_widget(table, area);
}

fn detail(app: &App, frame: &mut Frame, area: Rect) {
    let mut title = vec![Span::raw(" ")];
    for tab in Tab::ALL {
        let label = format!(" {} ", tab.title());
        if tab == app.tab {
            title.push(Span::styled(
                label,
                Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            ));
        } else {
            title.push(Span::raw(label));
        }
    }
    let size = app
        .selected_record()
        .map(|r| format!(" {} ", human_size(r.body.len())))
        .unwrap_or_default();
    let block = pane(String::new(), app.focus == Focus::Detail)
        .title(Line::from(title))
        .title_bottom(Line::from(size).right_aligned());
    let text: Vec<Line> = app.detail.iter().map(|l| Line::raw(l.clone())).collect();
    let scroll = u16::try_from(app.detail_scroll).unwrap_or(u16::MAX);
    let paragraph = Paragraph::new(text)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    frame.render_widget(paragraph, area);
}

fn hints(app: &App, frame: &mut Frame, area: Rect) {
    let line = if let Some(text) = &app.editing {
        Line::from(vec![
            Span::styled(" filter: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!("{}█  (Enter apply, Esc cancel)", shown(text))),
        ])
    } else if let Some((notice, _)) = &app.notice {
        Line::from(Span::styled(
            format!(" {}", shown(notice)),
            Style::default().add_modifier(Modifier::BOLD),
        ))
    } else if !app.filter.is_empty() {
        Line::raw(format!(
            " filter: {}  (Esc clears)   {HINTS}",
            shown(&app.filter)
        ))
    } else {
        Line::raw(format!(" {HINTS}"))
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn help(frame: &mut Frame, area: Rect) {
    let width = 82.min(area.width);
    let height = (HELP.len() as u16 + 4).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| Line::raw(format!(" {k:<18} {v}")))
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(pane(" Keys (any key closes) ".into(), true)),
        popup,
    );
}
