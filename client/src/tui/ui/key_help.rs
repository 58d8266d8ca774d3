//! The hint bar and the help screen, both read from the key table
//! ([`crate::tui::keys::KEYS`]), so neither can list a key that does not
//! work or miss one that does.

use super::{pane, shown};
use crate::output::clip;
use crate::tui::app::{App, Mode};
use crate::tui::keys::{self, KEYS, MOUSE_HELP};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use unicode_width::UnicodeWidthStr as _;

/// The bottom line: the filter being typed, a notice, or the key hints.
pub fn hint_bar(app: &App, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width);
    let line = if let Mode::Filtering(text) = &app.mode {
        Line::from(vec![
            Span::styled(" filter: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!("{}█  (Enter apply, Esc cancel)", shown(text))),
        ])
    } else if let Some((notice, _)) = &app.notice {
        Line::from(Span::styled(
            clip(&format!(" {notice}"), width),
            Style::default().add_modifier(Modifier::BOLD),
        ))
    } else if !app.filter.is_empty() {
        let filter = format!(" filter: {}  (Esc clears)  ", shown(&app.filter));
        let filter = clip(&filter, width);
        let room = width.saturating_sub(filter.width());
        Line::raw(format!("{filter}{}", hints(room)))
    } else {
        Line::raw(hints(width))
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// ` j/k move  Enter focus  …  ? help`: as many whole hints as fit in
/// `width` columns, then `…` when any had to go, and the help hint kept
/// last, since `?` shows every key that was left out.
pub fn hints(width: usize) -> String {
    let all = format!(" {}", keys::hints().collect::<Vec<_>>().join("  "));
    if all.width() <= width {
        return all;
    }
    let help = keys::hints().find(|h| h.starts_with("? "));
    // ` …` plus, when it fits, `  ? help` after it.
    let tail = match &help {
        Some(h) if h.width() + 6 < width => format!(" …  {h}"),
        _ => " …".to_string(),
    };
    let mut out = String::new();
    for hint in keys::hints().filter(|h| Some(h) != help.as_ref()) {
        let sep = if out.is_empty() { " " } else { "  " };
        if out.width() + sep.len() + hint.width() + tail.width() > width {
            break;
        }
        out.push_str(sep);
        out.push_str(&hint);
    }
    if out.width() + tail.width() <= width {
        out.push_str(&tail);
    }
    out
}

/// The help screen's rows: the keys of each binding and what they do.
pub fn help_rows() -> Vec<(String, &'static str)> {
    KEYS.iter()
        .map(|b| (keys::names(b), b.help))
        .chain(std::iter::once((MOUSE_HELP.0.to_string(), MOUSE_HELP.1)))
        .collect()
}

pub fn help(frame: &mut Frame, area: Rect) {
    let rows = help_rows();
    let keys_width = rows.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    let text_width = rows.iter().map(|(_, v)| v.width()).max().unwrap_or(0);
    let width = (keys_width + text_width + 5).min(usize::from(area.width)) as u16;
    let height = (rows.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let lines: Vec<Line> = rows
        .iter()
        .map(|(k, v)| Line::raw(format!(" {k:<keys_width$} {v}")))
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(pane(" Keys (any key closes) ".into(), true)),
        popup,
    );
}
