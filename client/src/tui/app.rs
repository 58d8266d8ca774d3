//! The terminal UI's state and its only mutator, `App::update`.
//!
//! `App` is plain data: no terminal, no channels, no clock (time arrives as
//! `Msg::Tick`). `update` turns a message into state changes and
//! `Command`s for the runtime to carry out (replay, edit, copy, quit), so
//! every key and event is testable without a terminal. Keys and the mouse
//! are first mapped to messages by `input` (from the one key
//! table, [`super::keys`]); the state changes themselves live here and in
//! `records` (the deliveries held and the selection) and `actions`
//! (what each key does), all reached only through `update`.

mod actions;
mod records;

use super::keys::Action;
use super::layout::Areas;
use super::model::Record;
use crate::delivery::Attempt;
use crate::events::Event;
use hookhole_shared::printable;
use std::collections::HashMap;

/// Deliveries kept in memory; beyond it the oldest tenth is dropped.
pub const MAX_RECORDS: usize = 20_000;

/// Bytes of bodies (requests and responses) kept in memory: with large
/// webhooks the count alone would let the UI hold gigabytes. Beyond it the
/// oldest deliveries go until a tenth is free; the history keeps them all.
pub const MAX_HELD: usize = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Request,
    Response,
    Signature,
    Attempts,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Request, Tab::Response, Tab::Signature, Tab::Attempts];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Request => "Request",
            Tab::Response => "Response",
            Tab::Signature => "Signature",
            Tab::Attempts => "Attempts",
        }
    }

    pub fn next(self, step: isize) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0) as isize;
        Tab::ALL[(i + step).rem_euclid(4) as usize]
    }
}

/// What keys do right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Keys act on the list and the detail pane (the key table).
    Browsing,
    /// The help screen is open; any key closes it.
    Help,
    /// A filter is being typed after `/` (not applied until Enter).
    Filtering(String),
}

/// Which deliveries the list shows besides the `/` filter (`f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    All,
    FailedOnly,
}

/// Whether the selection jumps to each new delivery (`F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Off,
    Newest,
}

/// The link to the relay as the status bar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Not connected yet this run.
    #[default]
    Connecting,
    Connected,
    /// Lost (or never made); retrying at `retry_at_ms`.
    Reconnecting,
    /// The relay refused this client for good: not retrying.
    Refused,
}

/// The link to the relay, as the status bar shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub public_url: String,
    /// The relay connected to (or last connected to), as the engine names it.
    pub relay: String,
    /// While reconnecting: the relay the next attempt goes to.
    pub next_relay: Option<String>,
    pub forward: String,
    pub state: Connection,
    pub reason: Option<String>,
    /// When the next reconnect happens (ms), while reconnecting.
    pub retry_at_ms: Option<u64>,
    pub last_heard_ms: Option<u64>,
    pub listeners: u32,
    /// The answer mode in force on the channel (shown unless `local`).
    pub answer: hookhole_shared::protocol::Answer,
}

/// A request as edited in `$EDITOR`: the parts a replay sends.
pub type Edited = crate::replay::Request;

/// A change to the filter being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterEdit {
    Type(char),
    Erase,
    Apply,
    Cancel,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Engine(Event),
    /// A key as the terminal reported it; `update` maps it to one of the
    /// messages below with `input::key`.
    Key(crossterm::event::KeyEvent),
    /// Likewise, mapped with `input::mouse`.
    Mouse(crossterm::event::MouseEvent),
    /// A key of the key table, while browsing.
    Act(Action),
    CloseHelp,
    Filter(FilterEdit),
    /// A click on a pane; `row` is the list row clicked (in `visible`).
    Click {
        pane: Focus,
        row: Option<usize>,
    },
    /// The wheel over a pane, in lines (list: deliveries).
    Scroll {
        pane: Focus,
        delta: isize,
    },
    Resize(u16, u16),
    Tick(u64),
    /// A replay's attempt, made and recorded.
    ReplayDone {
        id: String,
        attempt: Attempt,
    },
    /// A replay not made (`R` without a secret): its pending attempt goes,
    /// and the delivery is as it was.
    ReplayRefused {
        id: String,
        number: u32,
        reason: String,
    },
    Edited {
        id: String,
        result: Result<Edited, String>,
    },
    Notice(String),
    /// Deliveries from earlier runs, oldest first.
    Loaded(Vec<Record>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Replay(Box<crate::replay::Replay>),
    PlayRetries(Box<crate::retries::Plan>),
    CancelRetries(String),
    Edit { id: String, request: Box<Edited> },
    Copy { what: &'static str, text: String },
    Quit,
}

#[derive(Debug, Clone)]
pub struct App {
    pub records: Vec<Record>,
    index: HashMap<String, usize>,
    /// Body bytes in `records` (see [`MAX_HELD`]).
    held: usize,
    /// Positions in `records` that pass the filter, oldest first.
    pub visible: Vec<usize>,
    pub selected: Option<String>,
    /// First row of `visible` shown in the list.
    pub offset: usize,
    pub focus: Focus,
    pub tab: Tab,
    /// The detail pane's text for the selection and tab (rebuilt on change).
    pub detail: Vec<String>,
    pub detail_scroll: usize,
    /// The applied `/` filter.
    pub filter: String,
    pub mode: Mode,
    pub show: Show,
    pub follow: Follow,
    pub link: Link,
    pub now_ms: u64,
    /// Local time offset for the time column (read once at startup).
    pub utc_offset_s: i64,
    pub notice: Option<(String, u64)>,
    pub size: (u16, u16),
    /// Colour allowed (`NO_COLOR` unset): a setting, not a mode.
    pub color: bool,
    /// Deliveries whose next provider retry is scheduled: when (ms) and
    /// the provider's attempt number it will carry.
    pub retries_due: HashMap<String, (u64, u32)>,
}

impl App {
    pub fn new(utc_offset_s: i64, color: bool) -> App {
        let mut app = App {
            records: Vec::new(),
            index: HashMap::new(),
            held: 0,
            visible: Vec::new(),
            selected: None,
            offset: 0,
            focus: Focus::List,
            tab: Tab::Request,
            detail: Vec::new(),
            detail_scroll: 0,
            filter: String::new(),
            mode: Mode::Browsing,
            show: Show::All,
            follow: Follow::Off,
            link: Link::default(),
            now_ms: 0,
            utc_offset_s,
            notice: None,
            size: (80, 24),
            color,
            retries_due: HashMap::new(),
        };
        app.rebuild_detail();
        app
    }

    /// The forward target, known before the relay answers: the header
    /// names it even when the relay refuses this client.
    pub fn forwarding_to(mut self, forward: String) -> App {
        self.link.forward = forward;
        self
    }

    pub fn areas(&self) -> Areas {
        Areas::of(self.size.0, self.size.1)
    }

    pub fn record(&self, id: &str) -> Option<&Record> {
        self.index.get(id).and_then(|&i| self.records.get(i))
    }

    pub fn selected_record(&self) -> Option<&Record> {
        self.selected.as_deref().and_then(|id| self.record(id))
    }

    /// The selection's row in `visible`.
    pub fn selected_row(&self) -> Option<usize> {
        let pos = *self.index.get(self.selected.as_deref()?)?;
        self.visible.iter().position(|&p| p == pos)
    }

    /// "next retry (attempt 3) in 12 s; x cancels" for the selection,
    /// while one is scheduled.
    pub fn retry_countdown(&self) -> Option<String> {
        let &(due_ms, attempt) = self.retries_due.get(self.selected.as_deref()?)?;
        let left_s = due_ms.saturating_sub(self.now_ms).div_ceil(1000);
        Some(format!(
            "next retry (attempt {attempt}) in {left_s} s; x cancels"
        ))
    }

    pub fn failed_count(&self) -> usize {
        self.records.iter().filter(|r| r.failed()).count()
    }

    /// Whether a filter (`/` or `f`) hides deliveries.
    pub fn filtered(&self) -> bool {
        self.show == Show::FailedOnly || !self.filter.is_empty()
    }

    /// The one mutator: every change to the app is a message through here.
    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        match msg {
            Msg::Key(key) => match super::input::key(&self.mode, key) {
                Some(msg) => self.update(msg),
                None => Vec::new(),
            },
            Msg::Mouse(mouse) => match super::input::mouse(self, mouse) {
                Some(msg) => self.update(msg),
                None => Vec::new(),
            },
            Msg::Act(action) => self.act(action),
            Msg::CloseHelp => {
                self.mode = Mode::Browsing;
                Vec::new()
            }
            Msg::Filter(edit) => {
                self.edit_filter(edit);
                Vec::new()
            }
            Msg::Click { pane, row } => {
                self.click(pane, row);
                Vec::new()
            }
            Msg::Scroll { pane, delta } => {
                self.scroll(pane, delta);
                Vec::new()
            }
            Msg::Engine(event) => {
                self.engine(event);
                Vec::new()
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.keep_selection_in_view();
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now_ms = now;
                if self.notice.as_ref().is_some_and(|(_, until)| *until <= now) {
                    self.notice = None;
                }
                Vec::new()
            }
            Msg::ReplayDone { id, attempt } => {
                self.replay_done(&id, attempt);
                Vec::new()
            }
            Msg::ReplayRefused { id, number, reason } => {
                self.replay_refused(&id, number);
                self.notify(printable::line_owned(reason));
                Vec::new()
            }
            Msg::Edited { id, result } => match result {
                Ok(edited) => self.replay(&id, crate::replay::Mode::Edited(edited)),
                Err(e) => {
                    self.notify(format!("edit cancelled: {e}"));
                    Vec::new()
                }
            },
            Msg::Notice(text) => {
                self.notify(text);
                Vec::new()
            }
            Msg::Loaded(earlier) => {
                self.load(earlier);
                Vec::new()
            }
        }
    }

    fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), self.now_ms + 4000));
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
