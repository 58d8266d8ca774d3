//! Before the first delivery: where to send webhooks, prominently, and a
//! command that sends one.

use super::{pane, shown};
use crate::tui::app::{App, Connection};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr as _;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let link = &app.link;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::raw("")];
    if link.public_url.is_empty() {
        lines.push(Line::raw(match link.state {
            Connection::Refused => format!(
                "  Not connected: {}",
                shown(
                    link.reason
                        .as_deref()
                        .unwrap_or("the relay refused this client")
                )
            ),
            _ => "  Waiting for the relay to give this listener its URL…".to_string(),
        }));
    } else {
        let url = shown(&link.public_url);
        lines.extend([
            Line::raw("  No deliveries yet. Send webhooks to:"),
            Line::raw(""),
            Line::from(Span::styled(format!("    {url}"), bold)),
            Line::raw(""),
            Line::raw("  Try one:"),
        ]);
        let curl = format!("    curl -d '{{}}' {url}/webhooks/test");
        // Inside the border; a command that wraps would not paste whole.
        if curl.width() <= usize::from(area.width.saturating_sub(2)) {
            lines.push(Line::raw(curl));
        } else {
            lines.push(Line::raw("    curl -d '{}' \\"));
            lines.push(Line::raw(format!("      {url}/webhooks/test")));
        }
        lines.push(Line::raw("    hookhole trigger stripe"));
    }
    if !link.forward.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "  Each one is forwarded to {}.",
            shown(&link.forward)
        )));
    }
    let paragraph = Paragraph::new(lines)
        .block(pane(" Waiting for webhooks ".into(), true))
        .wrap(Wrap { trim: false });
    frame.render_widget(paragraph, area);
}
