//! The two header lines: where webhooks go (public URL → forward target)
//! and the state of the link. On a narrow terminal the less important
//! parts shorten first, with `…`, so the URL and the forward target stay
//! whole as long as they fit at all.

use super::{shown, style};
use crate::output::{clip, count};
use crate::tui::app::{App, Connection, Follow};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr as _;

const BRAND: &str = " hookhole ";

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width);
    let (first, moved) = where_to(app, width);
    let lines = vec![first, link_state(app, width, moved)];
    frame.render_widget(Paragraph::new(lines), area);
}

/// ` hookhole  URL  →  FORWARD`; narrower: the brand goes, then the arrow
/// tightens; when both still do not fit, the forward target moves to the
/// start of the second line (returned), and only a URL wider than the
/// terminal is cut.
fn where_to(app: &App, width: usize) -> (Line<'static>, Option<String>) {
    let link = &app.link;
    let url = match (link.public_url.is_empty(), link.state) {
        (false, _) => shown(&link.public_url),
        // Refused before the relay gave a URL: there is none to show.
        (true, Connection::Refused) => "not connected".to_string(),
        (true, _) => "connecting…".to_string(),
    };
    let forward = shown(&link.forward);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let brand = Span::styled(BRAND, bold.add_modifier(Modifier::REVERSED));
    let need = |brand: bool, arrow: &str| {
        // ` hookhole  URL` or ` URL`
        let lead = if brand { BRAND.len() + 1 } else { 1 };
        lead + url.width()
            + if forward.is_empty() {
                0
            } else {
                arrow.width() + forward.width()
            }
    };
    let Some((with_brand, arrow)) = [(true, "  →  "), (false, "  →  "), (false, " → ")]
        .into_iter()
        .find(|&(brand, arrow)| need(brand, arrow) <= width)
    else {
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(clip(&url, width.saturating_sub(1)), bold),
        ]);
        return (line, Some(forward));
    };
    let mut spans = Vec::new();
    if with_brand {
        spans.extend([brand, Span::raw(" ")]);
    } else {
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(url, bold));
    if !forward.is_empty() {
        spans.push(Span::raw(arrow));
        spans.push(Span::raw(forward));
    }
    (Line::from(spans), None)
}

/// ` to RELAY` when the public URL does not already say which relay this
/// is (a cluster's nodes behind one public name; several `--relay`s).
fn via(link: &crate::tui::app::Link) -> String {
    let said = link.relay.is_empty()
        || link.public_url == link.relay
        || link
            .public_url
            .strip_prefix(link.relay.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
    if said {
        String::new()
    } else {
        format!(" to {}", link.relay)
    }
}

/// `● connected, heard 3 s ago · 1 listener · 5 deliveries · 0 failed`
/// (after `→ FORWARD` when the first line had no room for it); narrower:
/// the counts go, least useful first, then the state is cut.
fn link_state(app: &App, width: usize, forward: Option<String>) -> Line<'static> {
    let link = &app.link;
    let (state, color) = match link.state {
        Connection::Refused => (
            format!("✗ refused: {}", link.reason.clone().unwrap_or_default()),
            Color::Red,
        ),
        Connection::Connected => (
            match link.last_heard_ms {
                Some(at) => format!(
                    "● connected{}, heard {} s ago",
                    via(link),
                    app.now_ms.saturating_sub(at) / 1000
                ),
                None => format!("● connected{}", via(link)),
            },
            Color::Green,
        ),
        _ if link.public_url.is_empty() && link.reason.is_none() => {
            ("○ connecting".to_string(), Color::Yellow)
        }
        _ => {
            let wait = link
                .retry_at_ms
                .map(|t| t.saturating_sub(app.now_ms).div_ceil(1000))
                .unwrap_or(0);
            let reason = link.reason.clone().unwrap_or_default();
            let to = match &link.next_relay {
                Some(next) if *next != link.relay => format!(" to {next}"),
                _ => String::new(),
            };
            (
                format!("○ reconnecting{to} in {wait} s: {reason}"),
                Color::Yellow,
            )
        }
    };
    let forward = forward.map(|f| format!(" → {f} ·")).unwrap_or_default();
    let width = width.saturating_sub(forward.width());
    let state = format!(" {}", shown(&state));
    // In the order they are dropped when space runs out.
    let mut counts = vec![
        (0, count(link.listeners as usize, "listener", "listeners")),
        (3, "following".to_string()),
        (2, format!("{} failed", app.failed_count())),
        (1, count(app.records.len(), "delivery", "deliveries")),
    ];
    if app.follow == Follow::Off {
        counts.retain(|(place, _)| *place != 3);
    }
    // Senders get more than the local answer only under another mode: say
    // which, before the listener count.
    if link.answer != hookhole_shared::protocol::Answer::Local {
        counts.insert(1, (0, format!("answer {}", link.answer)));
    }
    let tail = |counts: &[(u8, String)]| {
        let mut shown: Vec<_> = counts.iter().collect();
        shown.sort_by_key(|(place, _)| *place);
        shown
            .iter()
            .map(|(_, text)| format!(" · {text}"))
            .collect::<String>()
    };
    // The listener count and `following` give way to the state first; the
    // delivery and failure counts only once the state is down to a stub.
    let stub = state.width().min(24);
    while !counts.is_empty() {
        let need = if counts.len() > 2 {
            state.width()
        } else {
            stub
        };
        if need + tail(&counts).width() <= width {
            break;
        }
        counts.remove(0);
    }
    let tail = tail(&counts);
    let state = clip(&state, width.saturating_sub(tail.width()));
    Line::from(vec![
        Span::raw(forward),
        Span::styled(state, style(app, color)),
        Span::raw(tail),
    ])
}
