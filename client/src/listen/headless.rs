//! What a listener does with its events besides the terminal UI: records
//! where it listens (for `hookhole trigger`) and, headless, prints them as
//! JSON lines.

use crate::announce::Announce;
use crate::events::Event;
use std::io::Write as _;
use tokio::sync::mpsc;

/// Passes events on, recording where this listener is (for `hookhole
/// trigger`) once it is ready, and forgetting it when it stops.
pub(super) async fn tap(
    mut rx: mpsc::Receiver<Event>,
    tx: mpsc::Sender<Event>,
    announce: Option<Announce>,
) {
    let mut recorded = None;
    while let Some(event) = rx.recv().await {
        // The URL follows the relay connected to; it is written only when
        // it changes, not on every reconnect.
        if let (Some(url), Some(announce)) = (event.public_url(), &announce)
            && recorded.as_deref() != Some(url)
        {
            announce.record(url);
            recorded = Some(url.to_string());
        }
        if tx.send(event).await.is_err() {
            break;
        }
    }
    if let Some(announce) = &announce {
        announce.remove();
    }
}

/// Headless output: one JSON object per line on stdout; a human hint on stderr.
pub(super) async fn print_events(mut rx: mpsc::Receiver<Event>) {
    /// Bytes of lines gathered before they are written.
    const BATCH: usize = 64 * 1024;
    let mut lines = Vec::new();
    let mut shown_url: Option<String> = None;
    while let Some(first) = rx.recv().await {
        // Under load many events are waiting: one write for all of them,
        // instead of a system call per line. Alone, a line goes out at once.
        let mut next = Some(first);
        while let Some(event) = next.take() {
            match &event {
                Event::Ready {
                    public_url,
                    forward,
                    ..
                } => {
                    shown_url = Some(public_url.clone());
                    tracing::info!("send webhooks to {public_url}  (forwarded to {forward})");
                }
                // Another relay may give another URL: say so when it does.
                Event::Connection(c) if c.public_url.is_some() && c.public_url != shown_url => {
                    shown_url = c.public_url.clone();
                    let (relay, url) = (
                        c.relay.as_deref().unwrap_or("the relay"),
                        shown_url.as_deref().unwrap_or(""),
                    );
                    tracing::info!("now on {relay}: send webhooks to {url}");
                }
                _ => {}
            }
            if !matches!(event, Event::Heartbeat) {
                lines.extend_from_slice(event.to_json_line().as_bytes());
                lines.push(b'\n');
            }
            if lines.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not a reason to stop forwarding.
        let _ = stdout.write_all(&lines).and_then(|_| stdout.flush());
        lines.clear();
    }
}
