//! The list of deliveries: one row each, with the columns the width allows.
//! The event type and its marks have columns once a delivery has webhook
//! facts (deliveries that name no provider have none to show). Wide: every
//! column; medium: the event type and its marks keep their place, and the
//! time taken and the attempt count go; narrow: what a delivery is and how
//! it went.

use super::{pane, shown, status_color, style};
use crate::delivery::Outcome;
use crate::present::badge;
use crate::tui::app::{App, Focus};
use crate::tui::detail::clock;
use crate::tui::model::Record;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Row, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Time,
    Method,
    Path,
    /// The event type the sender named.
    Event,
    Status,
    Took,
    /// `dup×N` for an event that arrived before, `late` past the deadline.
    Marks,
    Signature,
    Attempts,
}

type Layout = &'static [(Column, &'static str, Constraint)];

const WIDE: Layout = &[
    (Column::Time, "time", Constraint::Length(8)),
    (Column::Method, "method", Constraint::Length(7)),
    (Column::Path, "path", Constraint::Min(10)),
    (Column::Event, "event", Constraint::Min(10)),
    (Column::Status, "status", Constraint::Length(14)),
    (Column::Took, "took", Constraint::Length(8)),
    (Column::Marks, "dup/late", Constraint::Length(10)),
    (Column::Signature, "signature", Constraint::Length(12)),
    (Column::Attempts, "#", Constraint::Length(3)),
];

const MEDIUM: Layout = &[
    (Column::Time, "time", Constraint::Length(8)),
    (Column::Method, "method", Constraint::Length(7)),
    (Column::Path, "path", Constraint::Min(8)),
    (Column::Event, "event", Constraint::Min(8)),
    (Column::Status, "status", Constraint::Length(14)),
    (Column::Marks, "dup/late", Constraint::Length(10)),
    (Column::Signature, "signature", Constraint::Length(12)),
];

/// Medium and wide, when no delivery has webhook facts.
const PLAIN: Layout = &[
    (Column::Time, "time", Constraint::Length(8)),
    (Column::Method, "method", Constraint::Length(7)),
    (Column::Path, "path", Constraint::Min(10)),
    (Column::Status, "status", Constraint::Length(14)),
    (Column::Took, "took", Constraint::Length(8)),
    (Column::Signature, "signature", Constraint::Length(12)),
    (Column::Attempts, "#", Constraint::Length(3)),
];

const NARROW: Layout = &[
    (Column::Time, "time", Constraint::Length(8)),
    (Column::Method, "method", Constraint::Length(4)),
    (Column::Path, "path", Constraint::Min(3)),
    (Column::Status, "status", Constraint::Length(5)),
    (Column::Signature, "signature", Constraint::Length(11)),
];

fn layout(width: u16, webhooks: bool) -> Layout {
    match (width, webhooks) {
        (100.., true) => WIDE,
        (70.., true) => MEDIUM,
        (70.., false) => PLAIN,
        _ => NARROW,
    }
}

pub(super) fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let webhooks = app.records.iter().any(|r| r.webhook.is_some());
    let columns = layout(area.width, webhooks);
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
            let cells = columns.iter().map(|&(column, _, _)| cell(app, r, column));
            let row_widget = Row::new(cells);
            if Some(row) == selected {
                row_widget.style(Style::default().add_modifier(Modifier::REVERSED))
            } else {
                row_widget
            }
        })
        .collect();
    let header = Row::new(columns.iter().map(|&(_, name, _)| name))
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let table = Table::new(rows, columns.iter().map(|&(_, _, width)| width))
        .header(header)
        .block(pane(title, app.focus == Focus::List));
    frame.render_widget(table, area);
}

fn cell(app: &App, r: &Record, column: Column) -> Cell<'static> {
    let last = r.last();
    match column {
        Column::Time => Cell::from(clock(r.received_at_ms, app.utc_offset_s)),
        Column::Method => Cell::from(shown(&r.method)),
        Column::Path => Cell::from(shown(&match &r.query {
            Some(q) => format!("{}?{q}", r.path),
            None => r.path.clone(),
        })),
        Column::Event => Cell::from(
            r.webhook
                .as_ref()
                .and_then(|w| w.event_type.as_deref())
                .map(shown)
                .unwrap_or_default(),
        ),
        Column::Status => outcome_cell(app, last.map(|a| &a.outcome)),
        Column::Took => Cell::from(
            last.and_then(|a| a.duration_ms)
                .map(|d| format!("{d} ms"))
                .unwrap_or_default(),
        ),
        Column::Marks => {
            let marks = r.webhook.as_ref().map(|w| w.marks()).unwrap_or_default();
            Cell::from(marks).style(style(app, Color::Yellow))
        }
        Column::Signature => {
            Cell::from(badge(r.verdict.status)).style(style(app, status_color(r.verdict.status)))
        }
        Column::Attempts => Cell::from(r.attempts.len().to_string()),
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
