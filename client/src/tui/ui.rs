//! Drawing: a pure function of the app state. Meaning never rests on colour
//! alone: badges carry a symbol and a word, the selection is reversed, the
//! focused pane has a thick border.
//!
//! Text from a sender or the relay (paths, methods, URLs, reasons, notices,
//! the filter) goes through [`shown`] before it becomes a widget; the detail
//! pane's lines are escaped when they are built (`App::rebuild_detail`).

mod empty;
mod key_help;
mod status_bar;

use super::app::{App, Focus, Mode, Tab};
use super::detail::clock;
use crate::delivery::Outcome;
use crate::present::badge;
use crate::present::body::human_size;
use hookhole_shared::printable;
use hookhole_shared::signature::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Paragraph, Row, Table, Wrap};

/// Outside text as one line, hidden characters escaped (see
/// `hookhole_shared::printable`).
pub(super) fn shown(text: &str) -> String {
    printable::line(text).into_owned()
}

pub(super) fn style(app: &App, color: Color) -> Style {
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

pub(super) fn pane(title: String, focused: bool) -> Block<'static> {
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
    status_bar::draw(app, frame, areas.status);
    if app.records.is_empty() {
        empty::draw(app, frame, areas.list.union(areas.detail));
    } else {
        list(app, frame, areas.list);
        detail(app, frame, areas.detail);
    }
    key_help::hint_bar(app, frame, areas.hints);
    if app.mode == Mode::Help {
        key_help::help(frame, frame.area());
    }
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
    let title = if app.filtered() {
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
