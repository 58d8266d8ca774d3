//! What each key of the table, the filter prompt and the mouse do to the
//! app, and the replays they start.

use super::{App, Command, FilterEdit, Focus, Follow, Mode, Show, Tab};
use crate::delivery::{Attempt, Outcome};
use crate::replay::{self, Replay};
use crate::target::Target;
use crate::tui::keys::Action;
use crate::tui::model::Record;
use hookhole_shared::protocol::Delivery;

impl App {
    pub(super) fn act(&mut self, action: Action) -> Vec<Command> {
        let page = match self.focus {
            Focus::List => self.areas().list_rows().max(1) as isize,
            Focus::Detail => self.areas().detail_rows().max(1) as isize,
        };
        match action {
            Action::Quit => return vec![Command::Quit],
            Action::Down => self.step(1),
            Action::Up => self.step(-1),
            Action::PageDown => self.step(page),
            Action::PageUp => self.step(-page),
            Action::First => match self.focus {
                Focus::List => self.select_row(0),
                Focus::Detail => self.detail_scroll = 0,
            },
            Action::Last => match self.focus {
                Focus::List => self.select_row(usize::MAX),
                Focus::Detail => {
                    self.detail_scroll = self.detail.len().saturating_sub(page as usize)
                }
            },
            Action::SwitchFocus => {
                self.focus = match self.focus {
                    Focus::List => Focus::Detail,
                    Focus::Detail => Focus::List,
                }
            }
            Action::NextTab => self.show_tab(self.tab.next(1)),
            Action::PrevTab => self.show_tab(self.tab.next(-1)),
            Action::ShowTab(tab) => self.show_tab(tab),
            Action::Back => {
                if self.focus == Focus::Detail {
                    self.focus = Focus::List;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.refilter();
                }
            }
            Action::StartFilter => self.mode = Mode::Filtering(self.filter.clone()),
            Action::ToggleFailed => {
                self.show = match self.show {
                    Show::All => Show::FailedOnly,
                    Show::FailedOnly => Show::All,
                };
                self.refilter();
            }
            Action::ToggleFollow => {
                self.follow = match self.follow {
                    Follow::Off => Follow::Newest,
                    Follow::Newest => Follow::Off,
                };
                if self.follow == Follow::Newest {
                    self.select_row(usize::MAX);
                }
            }
            Action::Help => self.mode = Mode::Help,
            Action::Replay
            | Action::Resign
            | Action::Edit
            | Action::CopyCurl
            | Action::CopyBody
            | Action::PlayRetries
            | Action::CancelRetries => {
                return self.act_on_selection(action);
            }
        }
        Vec::new()
    }

    pub(super) fn edit_filter(&mut self, edit: FilterEdit) {
        let Mode::Filtering(text) = &mut self.mode else {
            return;
        };
        match edit {
            FilterEdit::Type(c) => text.push(c),
            FilterEdit::Erase => {
                text.pop();
            }
            FilterEdit::Apply => {
                self.filter = std::mem::take(text);
                self.mode = Mode::Browsing;
                self.refilter();
            }
            FilterEdit::Cancel => self.mode = Mode::Browsing,
        }
    }

    pub(super) fn click(&mut self, pane: Focus, row: Option<usize>) {
        self.focus = pane;
        if let Some(row) = row.filter(|&row| row < self.visible.len()) {
            self.select_row(row);
        }
    }

    /// The wheel scrolls the pane under it, leaving the focus alone.
    pub(super) fn scroll(&mut self, pane: Focus, delta: isize) {
        match pane {
            Focus::List => self.move_selection(delta),
            Focus::Detail => {
                let before = self.focus;
                self.focus = Focus::Detail;
                self.step(delta);
                self.focus = before;
            }
        }
    }

    fn step(&mut self, delta: isize) {
        match self.focus {
            Focus::List => self.move_selection(delta),
            Focus::Detail => {
                let max = self.detail.len().saturating_sub(1) as isize;
                self.detail_scroll =
                    (self.detail_scroll as isize + delta).clamp(0, max.max(0)) as usize;
            }
        }
    }

    fn show_tab(&mut self, tab: Tab) {
        self.tab = tab;
        self.detail_scroll = 0;
        self.rebuild_detail();
    }

    /// Keys that act on the selected delivery.
    fn act_on_selection(&mut self, action: Action) -> Vec<Command> {
        let Some(record) = self.selected_record() else {
            self.notify("no delivery selected");
            return Vec::new();
        };
        let id = record.id.clone();
        match action {
            Action::Replay => self.replay(&id, replay::Mode::AsIs),
            Action::Resign => self.replay(&id, replay::Mode::Resigned),
            Action::PlayRetries => self.play_retries(&id),
            Action::CancelRetries => match self.retries_due.contains_key(&id) {
                true => vec![Command::CancelRetries(id)],
                false => {
                    self.notify("no retry is scheduled for this delivery");
                    Vec::new()
                }
            },
            Action::Edit => vec![Command::Edit {
                id,
                request: Box::new(record.request()),
            }],
            Action::CopyCurl => match copy_as_curl(record, &self.link.forward) {
                Ok(text) => vec![Command::Copy {
                    what: "request as curl",
                    text,
                }],
                Err(e) => {
                    self.notify(format!("cannot copy as curl: {e}"));
                    Vec::new()
                }
            },
            _ => vec![Command::Copy {
                what: "body",
                text: String::from_utf8_lossy(&record.body).into_owned(),
            }],
        }
    }

    /// Starts a replay: a pending attempt now, the result later as
    /// `Msg::ReplayDone` (or `Msg::ReplayRefused`).
    pub(super) fn replay(&mut self, id: &str, mode: replay::Mode) -> Vec<Command> {
        let Some(&pos) = self.index.get(id) else {
            return Vec::new();
        };
        let now = self.now_ms;
        let record = &mut self.records[pos];
        let number = record.attempts.last().map_or(0, |a| a.number) + 1;
        record
            .attempts
            .push(Attempt::new(mode.kind(), number, now, Outcome::Pending));
        let replay = Replay {
            id: record.id.clone(),
            number,
            url: record.url.clone(),
            scheme: record.verdict.scheme.clone(),
            request: record.request(),
            mode,
            target: record.route_target(),
        };
        self.changed(pos);
        vec![Command::Replay(Box::new(replay))]
    }

    /// Asks for the provider's retries of delivery `id`, as its provider
    /// would make them after its first attempt.
    fn play_retries(&mut self, id: &str) -> Vec<Command> {
        let Some(record) = self.record(id) else {
            return Vec::new();
        };
        let Some(webhook) = &record.webhook else {
            self.notify("no provider is known for this delivery: its retries are not documented");
            return Vec::new();
        };
        let plan = crate::retries::Plan {
            replay: Replay {
                id: record.id.clone(),
                number: record.attempts.last().map_or(0, |a| a.number) + 1,
                url: record.url.clone(),
                scheme: record.verdict.scheme.clone(),
                request: record.request(),
                mode: replay::Mode::AsIs,
                target: record.route_target(),
            },
            seq: record.seq,
            recorded: webhook.recorded(),
            route: record.route.clone(),
        };
        vec![Command::PlayRetries(Box::new(plan))]
    }

    /// A provider retry made by the retrier: added to its delivery.
    pub(super) fn retry_made(&mut self, id: &str, attempt: Attempt) {
        let Some(&pos) = self.index.get(id) else {
            return;
        };
        self.held += attempt.held_bytes();
        self.records[pos].attempts.push(attempt);
        self.changed(pos);
    }

    /// The pending attempt becomes the one made.
    pub(super) fn replay_done(&mut self, id: &str, attempt: Attempt) {
        if let Some(&pos) = self.index.get(id) {
            let attempts = &mut self.records[pos].attempts;
            if let Some(a) = attempts.iter_mut().find(|a| a.number == attempt.number) {
                self.held += attempt.held_bytes();
                self.held = self.held.saturating_sub(a.held_bytes());
                *a = attempt;
            }
            self.changed(pos);
        }
    }

    /// A replay not made: its pending attempt goes; the delivery is as it was.
    pub(super) fn replay_refused(&mut self, id: &str, number: u32) {
        if let Some(&pos) = self.index.get(id) {
            self.records[pos].attempts.retain(|a| a.number != number);
            self.changed(pos);
        }
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
        body_blake3: String::new(),
        url: record.url.clone(),
        queued: false,
        answered: false,
        body: record.body.clone(),
    };
    crate::present::curl::for_delivery(&target, &delivery).map_err(|e| e.to_string())
}
