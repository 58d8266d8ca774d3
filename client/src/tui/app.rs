//! The terminal UI's state and its only mutator, `App::update`.
//!
//! `App` is plain data: no terminal, no channels, no clock (time arrives as
//! `Msg::Tick`). `update` turns a message into state changes and
//! `Command`s for the runtime to carry out (replay, edit, copy, quit), so
//! every key and event is testable without a terminal.

use super::detail;
use super::filter::Filter;
use super::layout::Areas;
use super::model::Record;
use crate::delivery::{Attempt, Outcome};
use crate::events::{Event, LinkState};
use crate::replay::{Mode, Replay};
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

/// The link to the relay, as the status bar shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub public_url: String,
    pub forward: String,
    pub connected: bool,
    pub reason: Option<String>,
    /// When the next reconnect happens (ms), while reconnecting.
    pub retry_at_ms: Option<u64>,
    pub failed: bool,
    pub last_heard_ms: Option<u64>,
    pub listeners: u32,
}

/// A request as edited in `$EDITOR`: the parts a replay sends.
pub type Edited = crate::replay::Request;

#[derive(Debug, Clone)]
pub enum Msg {
    Engine(Event),
    Key(crossterm::event::KeyEvent),
    Mouse(crossterm::event::MouseEvent),
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
    Replay(Box<Replay>),
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
    pub filter: String,
    /// The filter being typed after `/`.
    pub editing: Option<String>,
    pub failed_only: bool,
    pub follow: bool,
    pub help: bool,
    pub link: Link,
    pub now_ms: u64,
    /// Local time offset for the time column (read once at startup).
    pub utc_offset_s: i64,
    pub notice: Option<(String, u64)>,
    pub size: (u16, u16),
    pub color: bool,
    pub quit: bool,
}

impl App {
    pub fn new(utc_offset_s: i64, color: bool) -> App {
        App {
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
            editing: None,
            failed_only: false,
            follow: false,
            help: false,
            link: Link::default(),
            now_ms: 0,
            utc_offset_s,
            notice: None,
            size: (80, 24),
            color,
            quit: false,
        }
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

    pub fn failed_count(&self) -> usize {
        self.records.iter().filter(|r| r.failed()).count()
    }

    pub fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), self.now_ms + 4000));
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        match msg {
            Msg::Engine(event) => {
                self.engine(event);
                Vec::new()
            }
            Msg::Key(key) => super::input::key(self, key),
            Msg::Mouse(mouse) => {
                super::input::mouse(self, mouse);
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
                if let Some(&pos) = self.index.get(&id) {
                    let attempts = &mut self.records[pos].attempts;
                    if let Some(a) = attempts.iter_mut().find(|a| a.number == attempt.number) {
                        self.held += attempt.held_bytes();
                        self.held = self.held.saturating_sub(a.held_bytes());
                        *a = attempt;
                    }
                    self.changed(pos);
                }
                Vec::new()
            }
            Msg::ReplayRefused { id, number, reason } => {
                if let Some(&pos) = self.index.get(&id) {
                    self.records[pos].attempts.retain(|a| a.number != number);
                    self.changed(pos);
                }
                self.notify(printable::line_owned(reason));
                Vec::new()
            }
            Msg::Edited { id, result } => match result {
                Ok(edited) => self.replay(&id, Mode::Edited(edited)),
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

    /// Puts deliveries of earlier runs before the ones of this run (a
    /// delivery already shown is not added twice).
    fn load(&mut self, earlier: Vec<Record>) {
        let mut earlier: Vec<Record> = earlier
            .into_iter()
            .filter(|r| !self.index.contains_key(&r.id))
            .collect();
        if earlier.is_empty() {
            return;
        }
        earlier.append(&mut self.records);
        self.records = earlier;
        self.held = self.records.iter().map(Record::held_bytes).sum();
        if !self.trim() {
            self.reindex();
        }
        if self.selected.is_none() {
            self.select_row(self.visible.len().saturating_sub(1));
        }
    }

    fn engine(&mut self, event: Event) {
        match event {
            Event::Ready {
                public_url,
                listeners,
                forward,
                ..
            } => {
                self.link.public_url = public_url;
                self.link.forward = forward;
                self.link.listeners = listeners;
                self.link.connected = true;
                self.link.last_heard_ms = Some(self.now_ms);
            }
            Event::Listeners { count } => self.link.listeners = count,
            Event::Heartbeat => self.link.last_heard_ms = Some(self.now_ms),
            Event::Connection(c) => {
                self.link.connected = c.state == LinkState::Connected;
                self.link.failed = c.state == LinkState::Failed;
                self.link.reason = c.reason;
                self.link.retry_at_ms = c.retry_in_ms.map(|ms| self.now_ms + ms);
                if let Some(n) = c.listeners {
                    self.link.listeners = n;
                }
                if self.link.connected {
                    self.link.last_heard_ms = Some(self.now_ms);
                }
            }
            Event::Delivery(d) => {
                self.link.last_heard_ms = Some(self.now_ms);
                self.push(Record::from_event(&d));
            }
        }
    }

    fn push(&mut self, record: Record) {
        self.held += record.held_bytes();
        let pos = self.records.len();
        self.index.insert(record.id.clone(), pos);
        self.records.push(record);
        if self.matches(&self.records[pos]) {
            self.visible.push(pos);
        }
        self.trim();
        if self.follow || self.selected.is_none() {
            self.select_row(self.visible.len().saturating_sub(1));
        } else {
            self.keep_selection_in_view();
        }
    }

    /// Drops the oldest deliveries once more than [`MAX_RECORDS`] or
    /// [`MAX_HELD`] bytes of bodies are kept, down to nine tenths of both
    /// (so the list is not rebuilt on every delivery); the newest stays.
    /// True when it dropped any (and rebuilt the index).
    fn trim(&mut self) -> bool {
        if self.records.len() <= MAX_RECORDS && self.held <= MAX_HELD {
            return false;
        }
        let (count_goal, held_goal) = (MAX_RECORDS / 10 * 9, MAX_HELD / 10 * 9);
        let mut dropped = 0;
        while dropped + 1 < self.records.len()
            && (self.records.len() - dropped > count_goal || self.held > held_goal)
        {
            self.held = self.held.saturating_sub(self.records[dropped].held_bytes());
            dropped += 1;
        }
        self.records.drain(..dropped);
        self.reindex();
        true
    }

    fn reindex(&mut self) {
        self.index = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.refilter();
    }

    /// Whether a record passes the `/` filter and the `f` toggle.
    pub fn matches(&self, r: &Record) -> bool {
        Filter::new(&self.filter, self.failed_only).matches(r)
    }

    pub fn refilter(&mut self) {
        let filter = Filter::new(&self.filter, self.failed_only);
        self.visible = (0..self.records.len())
            .filter(|&i| filter.matches(&self.records[i]))
            .collect();
        match self.selected_row() {
            Some(_) => self.keep_selection_in_view(),
            None => self.select_row(self.visible.len().saturating_sub(1)),
        }
    }

    /// Something about the record at `pos` changed (an attempt finished).
    fn changed(&mut self, pos: usize) {
        if self.failed_only {
            self.refilter();
        }
        if self.index.get(self.selected.as_deref().unwrap_or("")) == Some(&pos) {
            self.rebuild_detail();
        }
    }

    /// Selects the `row`-th visible delivery (clamped).
    pub fn select_row(&mut self, row: usize) {
        let before = self.selected.clone();
        self.selected = match self
            .visible
            .get(row.min(self.visible.len().saturating_sub(1)))
        {
            Some(&pos) => Some(self.records[pos].id.clone()),
            None => None,
        };
        if self.selected != before {
            self.detail_scroll = 0;
        }
        self.keep_selection_in_view();
        self.rebuild_detail();
    }

    pub fn move_selection(&mut self, delta: isize) {
        let row = self.selected_row().unwrap_or(0) as isize + delta;
        self.select_row(row.max(0) as usize);
    }

    fn keep_selection_in_view(&mut self) {
        let rows = self.areas().list_rows().max(1);
        let row = self.selected_row().unwrap_or(0);
        if row < self.offset {
            self.offset = row;
        } else if row >= self.offset + rows {
            self.offset = row + 1 - rows;
        }
        self.offset = self.offset.min(self.visible.len().saturating_sub(rows));
    }

    /// The detail pane's text, each line escaped once here (so every tab,
    /// body view and header is covered) rather than on every frame.
    pub fn rebuild_detail(&mut self) {
        let lines = match self.selected_record() {
            Some(r) => detail::lines(r, self.tab, self.utc_offset_s),
            None => vec![
                "No deliveries yet.".to_string(),
                String::new(),
                format!("Send webhooks to {}", self.link.public_url),
                "or try: hookhole trigger stripe".to_string(),
            ],
        };
        self.detail = lines.into_iter().map(printable::line_owned).collect();
    }

    /// Starts a replay of the selection: a pending attempt now, the result
    /// later as `Msg::ReplayDone` (or `Msg::ReplayRefused`).
    pub fn replay(&mut self, id: &str, mode: Mode) -> Vec<Command> {
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
            request: Edited {
                method: record.method.clone(),
                path: record.path.clone(),
                query: record.query.clone(),
                headers: record.headers.clone(),
                body: record.body.clone(),
            },
            mode,
        };
        self.changed(pos);
        vec![Command::Replay(Box::new(replay))]
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
