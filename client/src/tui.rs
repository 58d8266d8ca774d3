//! The terminal UI's runtime: owns the terminal, and runs one loop over
//! engine events, input, replay results and a tick. All state lives in
//! [`app::App`] and changes only in `App::update`; keys become messages
//! through the one key table ([`keys`]); drawing is [`ui::render`]; how a
//! delivery reads is [`crate::present`]. This file only moves messages and
//! carries out commands.

pub mod app;
mod clipboard;
mod detail;
#[cfg(test)]
mod detail_tests;
mod edit_file;
pub mod editor;
mod filter;
#[cfg(test)]
mod fixtures;
mod input;
pub mod keys;
pub mod layout;
pub mod model;
pub mod ui;
#[cfg(test)]
mod ui_tests;

use crate::events::Event;
use crate::replay::{Replay, Replayer};
use app::{App, Command, Edited, Msg};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event as TermEvent, EventStream};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the UI needs besides the engine's events.
#[derive(Clone)]
pub struct Context {
    /// Replays go through it, and are saved to its history.
    pub replayer: Replayer,
    /// Plays a delivery's provider retries (`p`), cancels them (`x`).
    pub retrier: crate::retries::Retrier,
    /// Earlier deliveries are shown from it.
    pub history: Option<Arc<crate::history::History>>,
    pub utc_offset_s: i64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether colour may be used (`NO_COLOR` unset).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs the UI until the user quits or `shutdown` is cancelled; the
/// terminal is restored on every exit path, panics included.
pub async fn run(
    mut events: mpsc::Receiver<Event>,
    ctx: Context,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, &mut events, &ctx, &shutdown).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    events: &mut mpsc::Receiver<Event>,
    ctx: &Context,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut app = App::new(ctx.utc_offset_s, color_allowed())
        .forwarding_to(ctx.replayer.forwarder.target().to_string());
    let size = terminal.size()?;
    app.update(Msg::Tick(now_ms()));
    app.update(Msg::Resize(size.width, size.height));
    let mut input = EventStream::new();
    let (done_tx, mut done_rx) = mpsc::channel::<Msg>(256);
    if let Some(history) = ctx.history.clone() {
        let done = done_tx.clone();
        let verifier = ctx.replayer.verifier.clone();
        tokio::spawn(async move {
            let loaded =
                tokio::task::spawn_blocking(move || history.recent(1000, app::MAX_HELD as u64))
                    .await;
            if let Ok(Ok(stored)) = loaded {
                let records = stored
                    .iter()
                    .map(|d| model::Record::from_stored(d, &verifier.registry))
                    .collect();
                let _ = done.send(Msg::Loaded(records)).await;
            }
        });
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        terminal.draw(|frame| ui::render(&app, frame))?;
        let first = tokio::select! {
            Some(event) = events.recv() => Msg::Engine(event),
            Some(Ok(event)) = input.next() => match event {
                TermEvent::Key(key) => Msg::Key(key),
                TermEvent::Mouse(mouse) => Msg::Mouse(mouse),
                TermEvent::Resize(w, h) => Msg::Resize(w, h),
                _ => continue,
            },
            Some(msg) = done_rx.recv() => msg,
            _ = tick.tick() => Msg::Tick(now_ms()),
            _ = shutdown.cancelled() => return Ok(()),
        };
        // A burst of deliveries is drawn once, not once per delivery.
        let mut batch = vec![first];
        while batch.len() < 2000 {
            match events.try_recv() {
                Ok(event) => batch.push(Msg::Engine(event)),
                Err(_) => break,
            }
        }
        let mut queue: std::collections::VecDeque<Msg> = batch.into();
        while let Some(msg) = queue.pop_front() {
            for command in app.update(msg) {
                if command == Command::Quit {
                    return Ok(());
                }
                queue.extend(execute(command, terminal, ctx, &done_tx)?);
            }
        }
    }
}

/// Carries out a command; returns messages to feed back at once.
fn execute(
    command: Command,
    terminal: &mut ratatui::DefaultTerminal,
    ctx: &Context,
    done: &mpsc::Sender<Msg>,
) -> anyhow::Result<Vec<Msg>> {
    Ok(match command {
        // The loop ends before it would get here.
        Command::Quit => Vec::new(),
        Command::Replay(request) => {
            tokio::spawn(replay(*request, ctx.replayer.clone(), done.clone()));
            Vec::new()
        }
        Command::PlayRetries(plan) => match ctx.retrier.play(*plan) {
            Ok(()) => Vec::new(),
            Err(why) => vec![Msg::Notice(format!("no retries played: {why}"))],
        },
        Command::CancelRetries(id) => match ctx.retrier.cancel(&id) {
            true => Vec::new(),
            false => vec![Msg::Notice("its retries had ended".to_string())],
        },
        Command::Copy { what, text } => vec![Msg::Notice(match clipboard::copy(&text) {
            Ok(place) => format!(
                "copied the {what} ({}) to the {place}",
                crate::present::body::human_size(text.len())
            ),
            Err(e) => format!("could not copy the {what}: {e}"),
        })],
        Command::Edit { id, request } => {
            let result = edit(terminal, &request);
            vec![Msg::Edited { id, result }]
        }
    })
}

/// Hands the terminal to `$VISUAL`/`$EDITOR` for the request, then takes it back.
fn edit(terminal: &mut ratatui::DefaultTerminal, request: &Edited) -> Result<Edited, String> {
    let text = editor::to_text(request)?;
    let program = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    let edited = edit_file::edit_text(&program, &text, |command| {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        let status = command.status();
        *terminal = ratatui::init();
        let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
        let _ = terminal.clear();
        status
    })?;
    editor::from_text(&edited, request)
}

/// Replays through the one replay path and reports the result.
async fn replay(replay: Replay, replayer: Replayer, done: mpsc::Sender<Msg>) {
    let (id, number) = (replay.id.clone(), replay.number);
    let msg = match replayer.replay(replay).await {
        Ok(replayed) => {
            if let Err(e) = &replayed.saved {
                tracing::warn!("history: cannot save the replay: {e}");
            }
            Msg::ReplayDone {
                id,
                attempt: replayed.attempt,
            }
        }
        Err(refused) => Msg::ReplayRefused {
            id,
            number,
            reason: refused.to_string(),
        },
    };
    let _ = done.send(msg).await;
}
