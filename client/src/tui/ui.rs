//! Drawing: a pure function of the app state. Meaning never rests on colour
//! alone: badges carry a symbol and a word, the selection is reversed, the
//! focused pane has a thick border.
//!
//! Text from a sender or the relay (paths, methods, URLs, reasons, notices,
//! the filter) goes through [`shown`] before it becomes a widget; the detail
//! pane's lines are escaped when they are built (`App::rebuild_detail`).

mod empty;
mod key_help;
mod list;
mod status_bar;

use super::app::{App, Focus, Mode, Tab};
use crate::present::body::human_size;
use hookhole_shared::printable;
use hookhole_shared::signature::Status;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

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

pub(super) fn status_color(status: Status) -> Color {
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
        list::draw(app, frame, areas.list);
        detail(app, frame, areas.detail);
    }
    key_help::hint_bar(app, frame, areas.hints);
    if app.mode == Mode::Help {
        key_help::help(frame, frame.area());
    }
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
    let mut block = pane(String::new(), app.focus == Focus::Detail)
        .title(Line::from(title))
        .title_bottom(Line::from(size).right_aligned());
    if let Some(countdown) = app.retry_countdown() {
        block = block.title_bottom(Line::from(format!(" {countdown} ")).left_aligned());
    }
    let text: Vec<Line> = app.detail.iter().map(|l| Line::raw(l.clone())).collect();
    let scroll = u16::try_from(app.detail_scroll).unwrap_or(u16::MAX);
    let paragraph = Paragraph::new(text)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    frame.render_widget(paragraph, area);
}
